"""Risk + execution for one flow, as plain Python the Bytewax builder drives (no Bytewax or Kafka here).

For each opportunity: finish what is due, then either re-emit the stored decision (an id decided before, e.g. a
replay after a restart: nothing is decided or sent twice) or decide with the limits, persist the decision with
the risk state it produced, emit it, and hand an accepted one to the executor. Outcomes settle the risk state
(in-flight counts, daily PnL, breaker) and become ``arb.execution`` records, persisted before they are emitted.

Three modes: **live** (simulate and send), **dry_run** (simulate only) and **decide-only** (no RPC endpoint:
decisions are made and emitted, the chain checks are skipped and nothing is executed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from flows.execution.chain import Chain, Head
from flows.execution.errors import ExecutionError
from flows.execution.executor import Executor
from flows.execution.ledger import FINAL, Ledger
from flows.execution.outcome import Finished
from flows.execution.records import decision_record, execution_record, outcome
from flows.opportunity import Opportunity
from flows.risk.engine import HEADLESS_CHECKS, Decision, Market, Reason, decide
from flows.risk.kill_switch import KillSwitch
from flows.risk.limits import RiskLimits
from flows.risk.state import OpenTrade, RiskState, from_dict, opened, released, settled, to_dict
from schemas.serde import codec

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Emit:
    """A record to produce, with what the builder needs for metrics.

    Attributes:
        topic: destination topic.
        key: Kafka key (the token pair).
        value: Avro-encoded record.
        kind: ``decision`` or ``execution``.
        label: the decision reason or execution status (``replayed`` for a re-emitted record).
        trace: the record's trace.
        opportunity: the opportunity of an accepted decision (for the AlphaPulse signal), else None.
    """

    topic: str
    key: bytes | None
    value: bytes
    kind: str
    label: str
    trace: dict[str, int] = field(default_factory=dict)
    opportunity: Opportunity | None = None


class RiskExecution:
    """Decides and executes the opportunities of one flow.

    Args:
        limits: the risk limits.
        kill_switch: the shared kill switch.
        ledger: the persistent ledger (None: state kept in memory, for decide-only runs without a state dir).
        chain: the chain adapter (None: decide-only).
        executor: the executor (None: decide-only).
        decisions_topic: where decisions go.
        executions_topic: where execution outcomes go.
        clock: ns since epoch.
    """

    def __init__(
        self,
        *,
        limits: RiskLimits,
        kill_switch: KillSwitch,
        ledger: Ledger | None,
        chain: Chain | None,
        executor: Executor | None,
        decisions_topic: str = "arb.decision",
        executions_topic: str = "arb.execution",
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.limits = limits
        self.kill_switch = kill_switch
        self.ledger = ledger
        self.chain = chain
        self.executor = executor
        self.decisions_topic = decisions_topic
        self.executions_topic = executions_topic
        self.clock = clock
        self.state = RiskState()
        self.pending: list[Emit] = []  # outcomes found by start(), emitted by the flow with its first output
        self._memory: dict[str, bytes] = {}
        # USD per raw unit of each start token, from the newest opportunity in it (display only: the PnL gauge).
        self._usd_per_unit: dict[str, float] = {}
        self._decisions = codec(decisions_topic)
        self._executions = codec(executions_topic)

    # lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> list[Emit]:
        """Load the risk state, prune old decisions, resume unfinished transactions; return outcomes now final."""
        if self.ledger is not None:
            saved = self.ledger.risk_state()
            self.state = from_dict(saved) if saved else RiskState()
            if self.executor is not None:
                retention_ns = self.executor.config.retention_days * 86_400 * 10**9
                self.ledger.prune_decisions(self.clock() - retention_ns)
        if self.executor is None:
            return []
        self.executor.check()
        finished = self.executor.recover()
        self._reconcile()
        emits: list[Emit] = []
        for f in finished:
            emits.extend(self._finish(f))
        return emits

    def _reconcile(self) -> None:
        """Open trades must match the executor's: drop ones never sent (crash between decision and send)."""
        assert self.executor is not None
        keep = {oid: t for oid, t in self.state.open.items() if oid in self.executor.tracked}
        for oid, tracked in self.executor.tracked.items():
            if oid not in keep:
                ctx = tracked.entry.context
                pools = tuple(ctx.get("pools", ()))
                keep[oid] = OpenTrade(oid, ctx["pair"], ctx["token_in"], int(ctx["amount_in"]), self.clock(), pools)
        if keep != dict(self.state.open):
            self.state = replace(self.state, open=keep)
            if self.ledger is not None:
                self.ledger.save_risk_state(to_dict(self.state))

    def stop(self, timeout_s: float) -> list[Emit]:
        """Wait up to ``timeout_s`` for transactions in flight; return their outcomes (the rest resume later)."""
        if self.executor is None:
            return []
        emits: list[Emit] = []
        for f in self.executor.drain(timeout_s):
            emits.extend(self._finish(f))
        return emits

    # work ---------------------------------------------------------------------------------------------------
    def poll(self) -> list[Emit]:
        """Outcomes of transactions in flight that are final now."""
        if self.executor is None or not self.executor.tracked:
            return []
        emits: list[Emit] = []
        for f in self.executor.poll():
            emits.extend(self._finish(f))
        return emits

    @property
    def in_flight(self) -> int:
        """Transactions sent and not final."""
        return self.executor.in_flight if self.executor is not None else 0

    def on_opportunity(self, opp: Opportunity, risk_in_ns: int) -> list[Emit]:
        """Decide one opportunity and, if accepted, execute it.

        Args:
            opp: the decoded opportunity.
            risk_in_ns: when the flow decoded it, ns since epoch (trace stage ``risk_in_ns``).
        """
        emits = self.poll()
        key = opp.pair.encode()
        if opp.net_profit > 0 and opp.net_profit_usd > 0:
            self._usd_per_unit[opp.token_in] = opp.net_profit_usd / opp.net_profit
        stored = self.ledger.decision(opp.id) if self.ledger is not None else self._memory.get(opp.id)
        if stored is not None:
            emits.append(Emit(self.decisions_topic, key, stored, "decision", "replayed"))
            entry = self.ledger.execution(opp.id) if self.ledger is not None else None
            if entry is not None and entry.record is not None:
                emits.append(Emit(self.executions_topic, key, entry.record, "execution", "replayed"))
            return emits
        head: Head | None = None
        market = Market(
            now_ns=self.clock(),
            kill_switch=self.kill_switch.is_on(),
            chain_id=self.executor.chain_id if self.executor is not None else None,
            already_executed=self.ledger is not None and self.ledger.execution(opp.id) is not None,
        )
        decision: Decision | None = None
        if self.chain is not None:
            early = decide(opp, self.state, self.limits, market, HEADLESS_CHECKS)  # no RPC for a certain rejection
            if not early.accepted:
                decision = early
            else:
                try:
                    head = self.chain.head()
                except ExecutionError as exc:
                    decision = Decision(False, Reason.CHAIN_UNAVAILABLE, "a reachable RPC endpoint", str(exc))
        if decision is None:
            if head is not None:
                market = replace(market, head_block=head.number, base_fee_wei=head.base_fee_wei)
            decision = decide(opp, self.state, self.limits, market)
        decided_ns = self.clock()
        trace = dict(opp.trace) | {"risk_in_ns": risk_in_ns, "decision_ns": decided_ns}
        value = self._decisions.encode(decision_record(opp, decision, decided_ns, trace))
        if decision.accepted:
            self.state = opened(
                self.state, OpenTrade(opp.id, opp.pair, opp.token_in, opp.amount_in, decided_ns, tuple(opp.pools))
            )
            if self.executor is None:
                self.state = released(self.state, opp.id)  # decide-only: the cooldown applies, nothing is in flight
        if self.ledger is not None:
            self.ledger.record_decision(
                opp.id, decided_ns, decision.accepted, str(decision.reason), value, to_dict(self.state)
            )
        else:
            self._memory[opp.id] = value
        emits.append(
            Emit(
                self.decisions_topic,
                key,
                value,
                "decision",
                str(decision.reason),
                trace,
                opp if decision.accepted else None,
            )
        )
        if decision.accepted and self.executor is not None and head is not None:
            min_net = self.limits.min_net_profit.get(opp.token_in) or 0
            finished = self.executor.submit(opp, head, min_net, dict(trace))
            if finished is not None:
                emits.extend(self._finish(finished))
        return emits

    def _finish(self, finished: Finished) -> list[Emit]:
        oid = finished.entry.opportunity_id
        now = self.clock()
        if finished.tx_hash is None and not finished.failure:
            self.state = released(self.state, oid)
        else:
            token = finished.context["token_in"]
            self.state = settled(self.state, oid, token, outcome(finished), now, self.limits.max_consecutive_failures)
        value = self._executions.encode(execution_record(finished))
        if self.ledger is not None:
            self.ledger.write_execution(replace(finished.entry, state=FINAL, record=value), now, to_dict(self.state))
        if finished.failure:
            log.warning(
                "execution %s: %s (%s); consecutive failures %d",
                oid,
                finished.status,
                finished.revert_reason,
                self.state.consecutive_failures,
            )
        trace = dict(finished.context.get("trace", {}))
        return [
            Emit(self.executions_topic, finished.context["pair"].encode(), value, "execution", finished.status, trace)
        ]

    # status -------------------------------------------------------------------------------------------------
    def pnl_today_usd(self) -> float:
        """Realized PnL of the UTC day in USD, for display: each token's raw PnL at the USD value per unit of the
        newest opportunity in it (a token not seen since a restart counts 0 until its next opportunity)."""
        today = self.state.pnl_on(self.clock())
        return sum((pnl * self._usd_per_unit.get(token, 0.0) for token, pnl in today.items()), 0.0)

    def breaker_open(self) -> bool:
        """True while the breaker rejects everything."""
        opened_ns = self.state.breaker_opened_ns
        return opened_ns is not None and (self.clock() - opened_ns) // 1_000_000 < self.limits.breaker_cooldown_ms
