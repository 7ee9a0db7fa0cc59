"""The detector replayed over archived records: the same steps as the dataflow, one record at a time, in event order.

:class:`Replay` holds what the detector dataflow's keyed steps hold (a book per pool and per CEX instrument, a
join per key, the gas readings per chain) in plain dicts, and runs each record through the very step functions the
dataflow runs (:class:`~flows.builders.detector.DetectorSteps`): route, ``pool_state``/``cex_state`` fold, the
``join`` step's logic (Bytewax's clock and windower objects around the as-of join), ``gas``. Only the wiring
differs: a dict lookup per key instead of Bytewax's routing, because a backtest is one process reading one ordered
stream. Why not the Bytewax dataflow itself with the Kafka source swapped for the archive:

- throughput: Bytewax costs about 2 µs per item per keyed step (``bench/backtest.py`` measures the replay), which
  the replay does not pay;
- determinism: a dataflow hands the join batches whose size depends on polling, and the join evaluates a batch
  after adding all of it, so the result of out-of-retention batches would depend on batch boundaries. Here every
  record is its own batch, as records arriving one at a time from the relay are live.

Clock: the join's watermark reads "now" from the replay, the event time of the record being replayed. Live, "now"
is the wall clock and records carry the relay's wall time, so a live run whose records arrive without delay and in
order sees exactly this; a backtest in event order has no late records.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from base.errors import PulsearbError
from flows.builders.detector import DetectorSteps, GasBook
from flows.builders.detector_join import JoinLogic, event_time
from flows.opportunity import Opportunity
from flows.spec import FlowSpec
from flows.state.fold import PoolBook
from flows.state.quotes import CexBook
from schemas.serde import AvroRecord


@dataclass(slots=True)
class ReplayStats:
    """What a replay read and found."""

    records: int = 0
    unused: int = 0  # records of a kind the flow does not use (another chain's gas, say)
    rejected: int = 0  # records that are no event (the live flow dead-letters them)
    opportunities: int = 0


class _Clock:
    """The replay's "now": the event time of the record being replayed."""

    __slots__ = ("_at", "_now", "ns")

    def __init__(self) -> None:
        self.ns = 0
        self._at = -1
        self._now = event_time(self)

    def __call__(self) -> datetime:
        if self._at != self.ns:  # several keys' joins ask for one record's time
            self._at, self._now = self.ns, event_time(self)
        return self._now

    @property
    def timestamp_ns(self) -> int:
        """The current replay time, ns since epoch (what :func:`event_time` reads)."""
        return self.ns


class Replay:
    """A detector spec run over ``(schema topic, record)`` items in event order.

    Args:
        spec: a ``kind: detector`` spec (validated, with any ``--set`` overrides applied).

    Raises:
        ConfigError: a bad parameter, window, join or topic name.
    """

    def __init__(self, spec: FlowSpec) -> None:
        self._clock = clock = _Clock()
        self.steps = DetectorSteps(spec, now=clock, now_ns=lambda: clock.ns)
        self._held = spec.clock.hold_ms > 0
        self._timers: list[tuple[int, str]] = []  # (when a key's first held trigger is due, key): Bytewax's timers
        self._armed: dict[str, int | None] = {}  # the due time of each key's newest timer
        self.stats = ReplayStats()
        self._pools: dict[str, PoolBook] = {}
        self._books: dict[str, CexBook] = {}
        self._joins: dict[str, JoinLogic] = {}
        self._gas: dict[str, GasBook] = {}

    def feed(self, topic: str, record: AvroRecord) -> list[Opportunity]:
        """Replay one record (in event order); return the opportunities it made the detector emit, costed.

        Args:
            topic: the record's schema topic (``market.pool_sync``, ...).
            record: the record as the detector decodes it from Kafka (Avro field names and types).
        """
        stats = self.stats
        stats.records += 1
        steps = self.steps
        now = self._clock.ns = record["timestamp_ns"]
        out = self._notify(now) if self._timers and self._timers[0][0] <= now else []
        try:
            routed = steps.route(topic, record, None)
        except (PulsearbError, KeyError, ValueError, TypeError):
            stats.rejected += 1
            return out
        if routed is None:
            stats.unused += 1
            return out
        kind, payload = routed
        if kind == "gas":
            chain, event = payload
            self._gas[chain], _ = steps.gas(self._gas.get(chain), event)
            return out
        if kind == "cex":
            key, event = payload
            held = self._books
            kept, state = steps.fold_cex(held.get(key), event)
        else:
            key, event, held = kind, payload, self._pools
            kept, state = steps.fold_pool(held.get(key), event)
        if kept is None:  # a keyed step's None state is discarded
            held.pop(key, None)
        else:
            held[key] = kept
        joined = steps.to_join((key, state))
        if joined is None:
            return out
        join_key, state = joined
        logic = self._joins.get(join_key)
        if logic is None:
            logic = self._joins[join_key] = steps.join_logic()
        found, _discard = logic.on_batch([state])
        if self._held:
            self._arm(join_key, logic)
        return self._costed(found, out)

    def _costed(self, found: list[Opportunity], out: list[Opportunity]) -> list[Opportunity]:
        """The gas step over the join's opportunities, appended to ``out``."""
        steps, gas = self.steps, self._gas
        chain = steps.chain_key
        before = len(out)
        for opp in found:
            gas[chain], priced = steps.gas(gas.get(chain), opp)
            if priced is not None:
                out.append(priced)
        self.stats.opportunities += len(out) - before
        return out

    def _arm(self, key: str, logic: JoinLogic) -> None:
        due = logic.due_ns()
        if due is not None and due != self._armed.get(key):
            heapq.heappush(self._timers, (due, key))
        self._armed[key] = due

    def _notify(self, now: int) -> list[Opportunity]:
        """Fire the timers due by ``now`` (event time), as Bytewax fires a live key's ``notify_at``."""
        out: list[Opportunity] = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            _due, key = heapq.heappop(timers)
            logic = self._joins[key]
            due = logic.due_ns()
            if due is None or due > now:  # a stale timer: the key released or re-armed since
                continue
            found, _discard = logic.on_notify()
            self._costed(found, out)
            self._arm(key, logic)
        return out

    def finish(self) -> list[Opportunity]:
        """The end of the input: what every key still holds is evaluated (a live flow's end of input does too)."""
        out: list[Opportunity] = []
        self._timers.clear()
        self._armed.clear()
        for logic in self._joins.values():
            found, _discard = logic.on_eof()
            self._costed(found, out)
        return out

    def run(self, items: Iterable[tuple[str, AvroRecord]]) -> Iterator[Opportunity]:
        """Replay every item, then :meth:`finish`; yield the opportunities in the order the detector emits them."""
        feed = self.feed
        for topic, record in items:
            yield from feed(topic, record)
        yield from self.finish()


__all__ = ["Replay", "ReplayStats"]
