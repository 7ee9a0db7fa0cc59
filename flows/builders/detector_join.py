"""The detector's join step: Bytewax's event-time clock and windowers around the as-of join, a batch at a time.

``join_step`` is a keyed ``stateful_batch`` step (key: the join key, a token pair or the whole graph). Per batch
of a key:

1. the clock (``EventClock`` on the relay header timestamp, waiting ``lateness`` of system time; or
   ``SystemClock``) stamps each state; a state behind the watermark is *late*: counted, left out of the join;
2. the others are put in event order and the windower assigns each to its window(s): by default a
   ``SessionWindower`` whose gap is the largest partner age (a key silent longer starts afresh), or the spec's
   tumbling, sliding or session windows; each window holds one :class:`~flows.state.join.AsOfJoin`;
3. every trigger the batch produced (each new state, plus the later states a late one is now the as-of partner
   of) is evaluated once, in event order, with the strategy, at the trigger's event time (``detected_ns``); ids
   already emitted by this key are dropped.

There is no waiting: an update is evaluated in the batch it arrives in, so the lateness only bounds how far out of
order an update may be and still be joined. Windows close (and free their state) when the watermark passes them;
the step asks for no timer, so that happens on the key's next batch. The end of the input (a stopped flow drains,
then ends) closes nothing: the snapshot keeps every open window for the resume.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Protocol

import bytewax.operators as op
import bytewax.operators.windowing as win
from bytewax.operators import KeyedStream, StatefulBatchLogic
from prometheus_client import Counter, Gauge

from flows.opportunity import Opportunity
from flows.state.join import AsOfJoin, Market, Order, order_of
from flows.strategies import Strategy
from flows.strategies.params import StrategyParams

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_first = itemgetter(0)

JoinSnapshot = tuple[object, object, dict[int, AsOfJoin], dict[str, int]]
"""A key's join state as snapshotted: the clock's and the windower's (Bytewax's own, opaque here), the as-of join
of every open window, and the ids emitted (id -> detection time, ns)."""

Pending = dict[int, dict[Order, tuple[Market, Market]]]
"""Triggers to evaluate, per window: the trigger's order -> (trigger, the state whose arrival caused it)."""


class Timed(Protocol):
    """Anything with an event time (a market state, the backtest's clock)."""

    @property
    def timestamp_ns(self) -> int: ...


def event_time(state: Timed) -> datetime:
    """A state's event time: its relay header timestamp, as an aware UTC datetime (µs resolution)."""
    return _EPOCH + timedelta(0, 0, state.timestamp_ns // 1000)  # positional: a third faster than microseconds=


@dataclass(frozen=True, slots=True)
class JoinConfig:
    """How the join step of a flow runs.

    Attributes:
        clock: ``EventClock`` or ``SystemClock``.
        windower: the Bytewax windower that bounds which states are joined together.
        retention_ns: how long past states are kept behind a key's newest (the allowed lateness).
        horizon_ns: how far after a late state later triggers are re-evaluated (the largest partner age).
        partner_ok: whether a late state may be joined with a later one at all (freshness, blocks).
        evaluate: the strategy.
        params: the strategy's parameters (gas at 0: the gas step costs afterwards).
        late: counter of late updates.
        windows: gauge of the windows (each an as-of join) held open.
    """

    clock: win.Clock
    windower: win.Windower
    retention_ns: int
    horizon_ns: int
    partner_ok: Callable[[Market, Market], bool]
    evaluate: Strategy
    params: StrategyParams
    late: Counter
    windows: Gauge

    def new_join(self) -> AsOfJoin:
        """An empty join for a new window."""
        return AsOfJoin(self.retention_ns, self.horizon_ns, self.partner_ok)


class _JoinLogic(StatefulBatchLogic[Market, Opportunity, JoinSnapshot]):
    """The join state of one key: clock, windower, one as-of join per open window, ids emitted."""

    def __init__(
        self,
        config: JoinConfig,
        clock: win.ClockLogic,
        windower: win.WindowerLogic,
        joins: dict[int, AsOfJoin],
        emitted: dict[str, int],
    ) -> None:
        self.config = config
        self.clock = clock
        self.windower = windower
        self.joins = joins
        self.emitted = emitted

    def on_batch(self, values: list[Market]) -> tuple[list[Opportunity], bool]:
        self.clock.before_batch()
        return (self._one(values[0]) if len(values) == 1 else self._many(values)), False

    def _many(self, values: list[Market]) -> list[Opportunity]:
        """:meth:`on_batch` after the clock's ``before_batch``; the reference :meth:`_one` is held to."""
        clock = self.clock
        late = self.config.late
        due = []
        watermark = None
        for state in values:
            timestamp, watermark = clock.on_item(state)
            if timestamp < watermark:
                late.inc()
            else:
                due.append((order_of(state), timestamp, state))
        if len(due) > 1:
            due.sort(key=_first)
        pending: Pending = {}
        joins = self.joins
        open_for = self.windower.open_for
        for order, timestamp, state in due:
            for wid in open_for(timestamp):
                join = joins.get(wid)
                if join is None:
                    join = joins[wid] = self.config.new_join()
                    self.config.windows.inc()
                triggers = pending.get(wid)
                if triggers is None:
                    triggers = pending[wid] = {}
                self._collect(triggers, join, state, order)
        for original, target in self.windower.merged():
            self._merge(pending, original, target)
        out = self._evaluate(pending) if pending else []
        if watermark is not None:
            self._close(watermark)
        return out

    def _one(self, state: Market) -> list[Opportunity]:
        """:meth:`_many` of one state (every record of a replay, a quiet key live): the same steps, fewer
        containers."""
        timestamp, watermark = self.clock.on_item(state)
        pending: Pending = {}
        if timestamp < watermark:
            self.config.late.inc()
        else:
            order = order_of(state)
            joins = self.joins
            for wid in self.windower.open_for(timestamp):
                join = joins.get(wid)
                if join is None:
                    join = joins[wid] = self.config.new_join()
                    self.config.windows.inc()
                triggers = pending[wid] = {}
                for at, trigger in join.add(state, order):
                    if at not in triggers:
                        triggers[at] = (trigger, state)
        for original, target in self.windower.merged():
            self._merge(pending, original, target)
        out = self._evaluate(pending) if pending else []
        self._close(watermark)
        return out

    @staticmethod
    def _collect(
        triggers: dict[Order, tuple[Market, Market]], join: AsOfJoin, state: Market, order: Order | None = None
    ) -> None:
        for at, trigger in join.add(state, order):
            if at not in triggers:  # the first cause of a trigger is kept
                triggers[at] = (trigger, state)

    def _merge(self, pending: Pending, original: int, target: int) -> None:
        """Session windows merged: replay the absorbed window's states into the target's join."""
        if original == target:
            return
        absorbed = self.joins.pop(original, None)
        triggers = pending.pop(original, {})
        if absorbed is None:
            return
        join = self.joins.get(target)
        if join is None:
            self.joins[target] = absorbed
            pending.setdefault(target, {}).update(triggers)
            return
        self.config.windows.dec()
        into = pending.setdefault(target, {})
        for state in sorted((s for h in absorbed.history.values() for s in h), key=order_of):
            self._collect(into, join, state)

    def _evaluate(self, pending: Pending) -> list[Opportunity]:
        out = []
        evaluate, params = self.config.evaluate, self.config.params
        for wid, triggers in pending.items():
            join = self.joins[wid]
            for at in sorted(triggers) if len(triggers) > 1 else triggers:
                trigger, cause = triggers[at]
                # Detection time is the trigger's event time (the as-of moment), never the wall clock: the same
                # records give the same opportunities live, after a restart, and in a backtest.
                for opp in evaluate(join.view(trigger, at), params, trigger.timestamp_ns):
                    if opp.id in self.emitted:
                        continue
                    self.emitted[opp.id] = trigger.timestamp_ns
                    # A re-evaluation caused by a late update carries that update's trace: it is what it waited for.
                    out.append(opp if cause is trigger else replace(opp, trace=dict(cause.trace)))
        return out

    def _close(self, watermark: datetime) -> None:
        for wid, _meta in self.windower.close_for(watermark):
            if self.joins.pop(wid, None) is not None:
                self.config.windows.dec()
        if len(self.emitted) > 4096:
            newest = max((j.newest[0] for j in self.joins.values() if j.newest), default=0)
            cutoff = newest - self.config.retention_ns
            self.emitted = {i: t for i, t in self.emitted.items() if t >= cutoff}

    def on_notify(self) -> tuple[list[Opportunity], bool]:
        self._close(self.clock.on_notify())
        return [], False

    def on_eof(self) -> tuple[list[Opportunity], bool]:
        # The input ends when a flow is stopped (it drains, then ends): keep the join state for the resume, instead
        # of closing every window as a finished input would.
        return [], False

    def notify_at(self) -> datetime | None:
        return None  # windows only free memory when they close: the key's next batch is soon enough

    def snapshot(self) -> JoinSnapshot:
        return (
            self.clock.snapshot(),
            self.windower.snapshot(),
            {w: j.copy() for w, j in self.joins.items()},
            dict(self.emitted),
        )


def join_logic(config: JoinConfig, resume: JoinSnapshot | None = None) -> _JoinLogic:
    """The join state of one key, new or from its snapshot; ``on_batch(states)`` returns its opportunities."""
    if resume is None:
        return _JoinLogic(config, config.clock.build(None), config.windower.build(None), {}, {})
    clock_state, windower_state, joins, emitted = resume
    for join in joins.values():
        join.partner_ok = config.partner_ok  # a predicate is configuration: snapshots do not carry it
    config.windows.inc(len(joins))
    return _JoinLogic(config, config.clock.build(clock_state), config.windower.build(windower_state), joins, emitted)


def join_step(step_id: str, states: KeyedStream[Market], config: JoinConfig) -> KeyedStream[Opportunity]:
    """Add the keyed join step: ``(key, state)`` in, ``(key, Opportunity)`` out."""
    return op.stateful_batch(step_id, states, lambda resume: join_logic(config, resume))


def windower_for(kind: str, length_ms: int, slide_ms: int, gap_ms: int) -> win.Windower:
    """The Bytewax windower of a spec's ``window`` section (``latest`` is a session of the largest partner age).

    Raises:
        ValueError: an unknown window type or a non-positive length.
    """
    align = _EPOCH
    if kind in ("latest", "session"):
        return win.SessionWindower(gap=timedelta(milliseconds=gap_ms))
    if length_ms <= 0:
        msg = f"a {kind} window needs a positive length, got {length_ms} ms"
        raise ValueError(msg)
    if kind == "tumbling":
        return win.TumblingWindower(length=timedelta(milliseconds=length_ms), align_to=align)
    if kind == "sliding":
        return win.SlidingWindower(
            length=timedelta(milliseconds=length_ms), offset=timedelta(milliseconds=slide_ms), align_to=align
        )
    msg = f"unknown window type {kind!r}: expected latest, tumbling, sliding or session"
    raise ValueError(msg)
