"""What deployed flows produced so far, read from their output topics: opportunities, decisions, executions.

A :class:`Tally` reads ``arb.opportunity``, ``arb.decision`` and ``arb.execution`` from the start on a thread and
keeps one record per opportunity id (a replay or a re-emitted record counts once). ``pulsearb up`` shows it live
and waits on it at the end of a run; amounts stay exact (raw units), USD figures are display values.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from flows.execution.outcome import SKIPPED, classify
from schemas.serde import codec, from_i256, from_u256
from sinks.kafka import client_config

TALLIED = ("arb.opportunity", "arb.decision", "arb.execution")


def outcome(status: str, reason: str | None) -> str:
    """The outcome to show: the execution status, or :data:`SKIPPED` (``failed`` at simulation: nothing was sent,
    a stale view) as :func:`flows.execution.outcome.classify` says."""
    return SKIPPED if classify(status, reason, 0, 0) == SKIPPED else status


__all__ = ["SKIPPED", "TALLIED", "Tally", "TallyView", "TokenPnl", "outcome"]


@dataclass(frozen=True, slots=True)
class TokenPnl:
    """Realized and predicted profit of mined executions in one start token, raw units (gas not included)."""

    token: str
    decimals: int
    usd_per_unit: float  # display: USD per raw unit, as the detector priced the token
    realized: int = 0
    predicted: int = 0
    gas_cost_wei: int = 0

    @property
    def realized_usd(self) -> float:
        """Display value of :attr:`realized`."""
        return self.realized * self.usd_per_unit


@dataclass(frozen=True, slots=True)
class TallyView:
    """What the output topics held at one moment, one record per opportunity id."""

    opportunities: int = 0
    accepted: int = 0
    rejected: int = 0
    reasons: Mapping[str, int] = field(default_factory=dict)  # rejection reason -> count
    statuses: Mapping[str, int] = field(default_factory=dict)  # execution outcome (:func:`outcome`) -> count
    outcomes: Mapping[str, int] = field(default_factory=dict)  # flows.execution.outcome.classify -> count
    gas_lost_wei: int = 0  # gas paid by executions that reverted on chain
    exact: int = 0  # mined with realized profit == predicted, to the raw unit
    pnl: tuple[TokenPnl, ...] = ()
    undecided: int = 0  # opportunities with no decision yet
    unexecuted: int = 0  # accepted decisions with no execution outcome yet

    @property
    def decisions(self) -> int:
        """Decided opportunities."""
        return self.accepted + self.rejected

    @property
    def executions(self) -> int:
        """Execution outcomes."""
        return sum(self.statuses.values())

    @property
    def realized_usd(self) -> float:
        """Display value of the realized profit, every token."""
        return sum(p.realized_usd for p in self.pnl)


class Tally:
    """Reads arb.opportunity, arb.decision and arb.execution from the start, on a thread, keyed by opportunity id.

    Args:
        bootstrap: Kafka bootstrap servers.
        topics: (opportunity, decision, execution) topic names.
    """

    def __init__(self, bootstrap: str, topics: tuple[str, str, str] = TALLIED) -> None:
        self.topics = topics
        self._codecs = {t: codec(t) for t in topics}
        self._consumer = Consumer(
            client_config(
                bootstrap,
                {"group.id": "pulsearb-tally", "enable.auto.commit": False, "fetch.wait.max.ms": 10, "log_level": 0},
            )
        )
        parts = []
        for topic in topics:
            meta = self._consumer.list_topics(topic, timeout=10).topics.get(topic)
            parts += [TopicPartition(topic, p, 0) for p in (meta.partitions if meta and not meta.error else ())]
        self._consumer.assign(parts)
        self._tokens: dict[str, tuple[int, float]] = {}  # token -> (decimals, USD per raw unit)
        self._opportunities: set[str] = set()
        self._decisions: dict[str, tuple[bool, str]] = {}
        self._executions: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pulsearb-tally", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msgs = self._consumer.consume(2_000, 0.02)
            with self._lock:
                for msg in msgs:
                    if msg.error() is None and msg.value():
                        self._add(msg.topic(), self._codecs[msg.topic()].decode(msg.value()))

    def _add(self, topic: str, rec: dict[str, Any]) -> None:
        opportunities, decisions, _ = self.topics
        if topic == opportunities:
            self._opportunities.add(rec["id"])
            gross = from_i256(rec["gross_profit"])
            if gross and rec["token_in"] not in self._tokens:
                self._tokens[rec["token_in"]] = (rec["token_in_decimals"], rec["gross_profit_usd"] / gross)
        elif topic == decisions:
            self._decisions[rec["opportunity_id"]] = (rec["accepted"], rec["reason"])
        else:
            realized, predicted = from_i256(rec["realized_profit"]), from_i256(rec["predicted_profit"])
            self._executions[rec["opportunity_id"]] = {
                "status": outcome(rec["status"], rec["revert_reason"]),
                "outcome": classify(rec["status"], rec["revert_reason"], predicted, realized),
                "token_in": rec["token_in"],
                "realized": realized,
                "predicted": predicted,
                "gas_cost_wei": from_u256(rec["gas_cost_wei"]),
            }

    def view(self) -> TallyView:
        """The counts now."""
        with self._lock:
            accepted = [i for i, (ok, _) in self._decisions.items() if ok]
            reasons: dict[str, int] = {}
            for ok, reason in self._decisions.values():
                if not ok:
                    reasons[reason] = reasons.get(reason, 0) + 1
            statuses: dict[str, int] = {}
            outcomes: dict[str, int] = {}
            pnl: dict[str, TokenPnl] = {}
            exact = gas_lost = 0
            for e in self._executions.values():
                statuses[e["status"]] = statuses.get(e["status"], 0) + 1
                outcomes[e["outcome"]] = outcomes.get(e["outcome"], 0) + 1
                if e["status"] == "reverted":
                    gas_lost += e["gas_cost_wei"]
                if e["status"] != "mined":
                    continue
                exact += e["realized"] == e["predicted"]
                decimals, usd = self._tokens.get(e["token_in"], (0, 0.0))
                p = pnl.get(e["token_in"]) or TokenPnl(e["token_in"], decimals, usd)
                pnl[e["token_in"]] = TokenPnl(
                    p.token,
                    p.decimals,
                    p.usd_per_unit,
                    p.realized + e["realized"],
                    p.predicted + e["predicted"],
                    p.gas_cost_wei + e["gas_cost_wei"],
                )
            return TallyView(
                opportunities=len(self._opportunities),
                accepted=len(accepted),
                rejected=len(self._decisions) - len(accepted),
                reasons=reasons,
                statuses=statuses,
                outcomes=outcomes,
                gas_lost_wei=gas_lost,
                exact=exact,
                pnl=tuple(pnl.values()),
                undecided=len(self._opportunities - self._decisions.keys()),
                unexecuted=sum(1 for i in accepted if i not in self._executions),
            )

    def close(self) -> None:
        """Stop reading and release the consumer."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()
