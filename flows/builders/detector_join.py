"""The detector's join step: Bytewax's event-time clock and windowers around the as-of join, a batch at a time.

``join_step`` is a keyed ``stateful_batch`` step (key: the join key, a token pair or the whole graph). Per batch
of a key:

1. the clock (``EventClock`` on the relay header timestamp, waiting ``lateness`` of system time; or
   ``SystemClock``) stamps each state; a state behind the watermark is *late*: counted, left out of the join;
2. the others are put in event order and the windower assigns each to its window(s): by default a
   ``SessionWindower`` whose gap is the largest partner age (a key silent longer starts afresh), or the spec's
   tumbling, sliding or session windows; each window holds one :class:`~flows.state.join.AsOfJoin`;
3. every trigger the batch produced (each new state, plus the later states a late one is now the as-of partner
   of) is held until ``hold`` after its event time (``clock.hold_ms``; 0: not at all), then evaluated once, in
   event order, with the strategy, at the trigger's event time (``detected_ns``); ids already emitted by this key
   are dropped.

The hold is the only waiting. A live flow reads partitions in arrival order, so a partner stamped before a trigger
can arrive after it; without a hold the trigger is evaluated first with the partner's older state and again when
the partner arrives, and an opportunity of that first evaluation is not retracted. Held for longer than the
partner's delay, the trigger is evaluated once, with the partner a run in event order (a backtest) joins it with:
live and backtest then find the same opportunities. ``pulsearb_join_stragglers{caught}`` counts both cases, so the
hold can be sized from what a deployment sees. The step asks for a timer at the first held trigger's end; windows
close (and free their state) when the watermark passes them, on the key's next batch or timer. The end of the
input (a stopped flow drains, or a finite input ends) evaluates what is held and closes nothing: the snapshot keeps
every open window (and anything held) for the resume.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Protocol

import bytewax.operators as op
import bytewax.operators.windowing as win
from bytewax.operators import KeyedStream, StatefulBatchLogic
from prometheus_client import Counter, Gauge

from flows.builders.event_order import EPOCH, wake_at
from flows.opportunity import Opportunity
from flows.state.join import AsOfJoin, Market, Order, order_of
from flows.strategies import Strategy
from flows.strategies.params import StrategyParams

_first = itemgetter(0)

JoinSnapshot = tuple[object, object, dict[int, AsOfJoin], dict[str, int], "Pending"]
"""A key's join state as snapshotted: the clock's and the windower's (Bytewax's own, opaque here), the as-of join
of every open window, the ids emitted (id -> detection time, ns), and the triggers still held (``clock.hold_ms``)."""

Pending = dict[int, dict[Order, tuple[Market, Market, int]]]
"""Triggers to evaluate, per window: the trigger's order -> (trigger, the state whose arrival caused it, when it is
due, ns)."""

_NEVER = 2**63  # no trigger held

SETTLE_NS = 5_000_000
"""With a hold, a trigger is also held this long (at most the hold) after it reaches the join: states released by
the detector's event-order steps at one moment reach the join in separate batches, not necessarily in event order."""


class Timed(Protocol):
    """Anything with an event time (a market state, the backtest's clock)."""

    @property
    def timestamp_ns(self) -> int: ...


def event_time(state: Timed) -> datetime:
    """A state's event time: its relay header timestamp, as an aware UTC datetime (µs resolution)."""
    return EPOCH + timedelta(0, 0, state.timestamp_ns // 1000)  # positional: a third faster than microseconds=


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
        hold_ns: how long after its event time a trigger is held before it is evaluated (0: on arrival).
        now_ns: "now" for the hold, ns: the wall clock live, the replayed event time in a backtest.
        stragglers: counters of earlier-stamped states that re-evaluated a later trigger, by whether that trigger
            was still held (``caught``) or had been evaluated already (``missed``: a run in event order would not
            have evaluated it with the partner it replaced).
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
    hold_ns: int
    now_ns: Callable[[], int]
    stragglers: tuple[Counter, Counter]

    def new_join(self) -> AsOfJoin:
        """An empty join for a new window."""
        return AsOfJoin(self.retention_ns, self.horizon_ns, self.partner_ok)


class JoinLogic(StatefulBatchLogic[Market, Opportunity, JoinSnapshot]):
    """The join state of one key: clock, windower, one as-of join per open window, ids emitted, triggers held."""

    def __init__(
        self,
        config: JoinConfig,
        clock: win.ClockLogic,
        windower: win.WindowerLogic,
        joins: dict[int, AsOfJoin],
        emitted: dict[str, int],
        pending: Pending | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.windower = windower
        self.joins = joins
        self.emitted = emitted
        self.pending: Pending = pending if pending is not None else {}
        self._due_at = 0  # when a trigger collected now is due (with a hold; set per batch)
        # No held trigger is due before this (a lower bound, exact after each release): most batches release nothing.
        self._next = self._first_due()

    def on_batch(self, values: list[Market]) -> tuple[list[Opportunity], bool]:
        self.clock.before_batch()
        hold = self.config.hold_ns
        if not hold:
            return (self._one(values[0]) if len(values) == 1 else self._many(values)), False
        # Triggers due before the batch's first event time are evaluated before it is added, as a replay in event
        # order (one record per batch) evaluates them.
        out = self._release(min(s.timestamp_ns for s in values)) if self.pending else []
        self._due_at = self.config.now_ns() + min(hold, SETTLE_NS)
        out += self._one(values[0]) if len(values) == 1 else self._many(values)
        return out, False

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
        pending = self.pending
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
            self._merge(original, target)
        out = self._due() if pending else []
        if watermark is not None:
            out += self._close(watermark)
        return out

    def _one(self, state: Market) -> list[Opportunity]:
        """:meth:`_many` of one state (every record of a replay, a quiet key live): the same steps, fewer
        containers."""
        timestamp, watermark = self.clock.on_item(state)
        pending = self.pending
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
                triggers = pending.get(wid)
                if triggers is None:
                    triggers = pending[wid] = {}
                self._collect(triggers, join, state, order)
        for original, target in self.windower.merged():
            self._merge(original, target)
        out = self._due() if pending else []
        return out + self._close(watermark)

    def _collect(
        self,
        triggers: dict[Order, tuple[Market, Market, int]],
        join: AsOfJoin,
        state: Market,
        order: Order | None = None,
    ) -> None:
        found = join.add(state, order)
        hold = self.config.hold_ns
        if len(found) == 1:  # the common case: a state in event order triggers itself only
            at, trigger = found[0]
            if at not in triggers:
                due = max(at[0] + hold, self._due_at) if hold else 0
                triggers[at] = (trigger, state, due)
                if due < self._next:
                    self._next = due
            return
        caught = missed = 0
        for i, (at, trigger) in enumerate(found):
            if at in triggers:  # the first cause of a trigger is kept
                caught += i > 0  # a straggler reached a later trigger still held: as a run in event order
            else:
                due = max(at[0] + hold, self._due_at) if hold else 0
                triggers[at] = (trigger, state, due)
                self._next = min(self._next, due)
                missed += i > 0  # ... or one evaluated already, with the partner this straggler replaces
        held, evaluated = self.config.stragglers
        if caught:
            held.inc(caught)
        if missed:
            evaluated.inc(missed)

    def _merge(self, original: int, target: int) -> None:
        """Session windows merged: replay the absorbed window's states into the target's join."""
        if original == target:
            return
        pending = self.pending
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
        if self.config.hold_ns:  # triggers held from earlier batches; without a hold the replay below finds them
            into.update((at, t) for at, t in triggers.items() if at not in into)
        for state in sorted((s for h in absorbed.history.values() for s in h), key=order_of):
            self._collect(into, join, state)

    def _due(self) -> list[Opportunity]:
        """Evaluate the triggers whose hold has ended (all of them without a hold)."""
        return self._release(self.config.now_ns()) if self.config.hold_ns else self._release(None)

    def _release(self, until_ns: int | None) -> list[Opportunity]:
        """Evaluate, in event order per window, the held triggers due by ``until_ns`` (None: all)."""
        out: list[Opportunity] = []
        pending = self.pending
        if until_ns is None:  # everything, in one pass (every batch without a hold)
            self.pending, self._next = {}, _NEVER
            for wid, triggers in pending.items():
                self._evaluate(wid, triggers, out)
            return out
        if self._next > until_ns:
            return out
        for wid in list(pending):
            triggers = pending[wid]
            ready = {at: triggers.pop(at) for at in sorted(triggers) if triggers[at][2] <= until_ns}
            if not triggers:
                del pending[wid]
            if ready:
                self._evaluate(wid, ready, out)
        self._next = self._first_due()
        return out

    def _first_due(self) -> int:
        """When the first held trigger is due, exactly (:data:`_NEVER`: nothing held)."""
        return min((held[2] for t in self.pending.values() for held in t.values()), default=_NEVER)

    def _evaluate(self, wid: int, triggers: dict[Order, tuple[Market, Market, int]], out: list[Opportunity]) -> None:
        join = self.joins[wid]  # a window's held triggers are evaluated before it closes
        evaluate, params = self.config.evaluate, self.config.params
        emitted = self.emitted
        for at in sorted(triggers) if len(triggers) > 1 else triggers:
            trigger, cause, _due = triggers[at]
            # Detection time is the trigger's event time (the as-of moment), never the wall clock: the same
            # records give the same opportunities live, after a restart, and in a backtest.
            for opp in evaluate(join.view(trigger, at), params, trigger.timestamp_ns):
                if opp.id in emitted:
                    continue
                emitted[opp.id] = trigger.timestamp_ns
                # A re-evaluation caused by a late update carries that update's trace: it is what it waited for.
                out.append(opp if cause is trigger else replace(opp, trace=dict(cause.trace)))

    def _close(self, watermark: datetime) -> list[Opportunity]:
        out: list[Opportunity] = []
        for wid, _meta in self.windower.close_for(watermark):
            held = self.pending.pop(wid, None)
            if held:  # a window closing evaluates what it still holds first
                self._evaluate(wid, held, out)
                self._next = self._first_due()  # else a timer for what this window held would fire forever
            if self.joins.pop(wid, None) is not None:
                self.config.windows.dec()
        if len(self.emitted) > 4096:
            newest = max((j.newest[0] for j in self.joins.values() if j.newest), default=0)
            cutoff = newest - self.config.retention_ns
            self.emitted = {i: t for i, t in self.emitted.items() if t >= cutoff}
        return out

    def on_notify(self) -> tuple[list[Opportunity], bool]:
        out = self._due() if self._next != _NEVER else []
        return out + self._close(self.clock.on_notify()), False

    def on_eof(self) -> tuple[list[Opportunity], bool]:
        # The input ends when a flow is stopped (it drains, then ends) or a finite input is read: what is held is
        # evaluated now, and the join state is kept for the resume, instead of closing every window as a finished
        # input would.
        return (self._release(None) if self.pending else []), False

    def notify_at(self) -> datetime | None:
        """When the first held trigger's hold ends (windows only free memory when they close: the key's next batch
        is soon enough for that)."""
        due = self.due_ns()
        return None if due is None else wake_at(due)

    def due_ns(self) -> int | None:
        """When the first held trigger's hold ends, ns since epoch (None: nothing held)."""
        return None if self._next == _NEVER else self._next

    def snapshot(self) -> JoinSnapshot:
        return (
            self.clock.snapshot(),
            self.windower.snapshot(),
            {w: j.copy() for w, j in self.joins.items()},
            dict(self.emitted),
            {w: dict(t) for w, t in self.pending.items()},
        )


def join_logic(config: JoinConfig, resume: JoinSnapshot | None = None) -> JoinLogic:
    """The join state of one key, new or from its snapshot; ``on_batch(states)`` returns its opportunities."""
    if resume is None:
        return JoinLogic(config, config.clock.build(None), config.windower.build(None), {}, {})
    clock_state, windower_state, joins, emitted, *held = resume  # a snapshot from before the hold has no 5th
    for join in joins.values():
        join.partner_ok = config.partner_ok  # a predicate is configuration: snapshots do not carry it
    config.windows.inc(len(joins))
    pending = held[0] if held else {}
    return JoinLogic(
        config, config.clock.build(clock_state), config.windower.build(windower_state), joins, emitted, pending
    )


def join_step(step_id: str, states: KeyedStream[Market], config: JoinConfig) -> KeyedStream[Opportunity]:
    """Add the keyed join step: ``(key, state)`` in, ``(key, Opportunity)`` out."""
    return op.stateful_batch(step_id, states, lambda resume: join_logic(config, resume))


def windower_for(kind: str, length_ms: int, slide_ms: int, gap_ms: int) -> win.Windower:
    """The Bytewax windower of a spec's ``window`` section (``latest`` is a session of the largest partner age).

    Raises:
        ValueError: an unknown window type or a non-positive length.
    """
    align = EPOCH
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
