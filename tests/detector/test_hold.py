"""The join's hold (``clock.hold_ms``): a trigger waits for earlier-stamped partners still in flight, so a live flow
that reads a straggler after the update it precedes finds what a run in event order (a backtest) finds.

The pure tests drive the join step's logic with a clock they set; the dataflow test runs the real Bytewax step with
the wall clock, a source that delivers a partner 25 ms after the update it precedes, and no end of input until
long after the hold, so only Bytewax's timer (``notify_at``) can release what is held.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import run_main

from flows.builders.detector import DetectorSteps
from flows.builders.detector_join import join_step
from flows.builders.replay import Replay
from flows.metrics import STRAGGLERS
from flows.opportunity import Opportunity, to_record
from flows.spec import load_spec
from flows.state.join import Market
from tests.detector.scenarios import dex_rounds
from tests.strategies.factories import USDC, WETH, pool

SPEC = Path(__file__).resolve().parent.parent / "backtest" / "spec.yaml"
MS = 1_000_000


def _spec(hold_ms: int):
    return load_spec(SPEC, ["clock.wait_for_system_ms=5000", f"clock.hold_ms={hold_ms}"])


def _market(t0: int) -> tuple[list[Market], list[Market]]:
    """Two venues of USDC/WETH: both at 2,000 at ``t0``; venue A moves to 2,100 at +5 ms, venue B at +10 ms.

    Returns (event order, arrival order): A's move arrives after B's. In event order A's move meets B's old state
    (one opportunity) and B's move meets A's (both at 2,100: none); read in arrival order first, B's move meets A's
    old state, 5 % apart: one more.
    """

    def state(venue: int, usdc: int, seq: int, at: int) -> Market:
        return pool(f"0x{venue}", venue, USDC, usdc * 10**6, WETH, 1_000 * 10**18, sequence=seq, timestamp_ns=at)

    a0, b0 = state(400, 2_000_000, 1, t0), state(401, 2_000_000, 2, t0)
    a1, b1 = state(400, 2_100_000, 3, t0 + 5 * MS), state(401, 2_100_000, 4, t0 + 10 * MS)
    return [a0, b0, a1, b1], [a0, b0, b1, a1]


def _drive(hold_ms: int, arrivals: list[tuple[int, Market]], until_ns: int) -> tuple[list[Opportunity], Replay]:
    """Feed ``(arrival time, state)`` to one key's join logic with the clock at each arrival, fire its timer as
    Bytewax would, then end the input at ``until_ns``."""
    replay = Replay(_spec(hold_ms))
    clock = replay._clock  # the replay's clock: "now" of the watermark and of the hold
    logic = replay.steps.join_logic()
    out: list[Opportunity] = []
    for arrival, state in arrivals:
        while (due := logic.due_ns()) is not None and due <= arrival:
            clock.ns = due
            out += logic.on_notify()[0]
        clock.ns = arrival
        out += logic.on_batch([state])[0]
    while (due := logic.due_ns()) is not None and due <= until_ns:
        clock.ns = due
        out += logic.on_notify()[0]
    clock.ns = until_ns
    return out + logic.on_eof()[0], replay


def _ids(opps: list[Opportunity]) -> list[str]:
    return [o.id for o in opps]


def test_without_a_hold_a_straggler_leaves_an_opportunity_event_order_does_not_have() -> None:
    t0 = 1_700_000_000 * 10**9
    ordered, arrived = _market(t0)
    in_order, _ = _drive(0, [(s.timestamp_ns, s) for s in ordered], t0 + 10**9)
    live, _ = _drive(0, [(s.timestamp_ns + (25 * MS if s is arrived[3] else 0), s) for s in arrived], t0 + 10**9)
    assert len(in_order) == 1  # A's move against B's old state
    assert set(_ids(in_order)) < set(_ids(live)) and len(live) == 2  # and B's move against A's old state


def test_a_held_trigger_waits_for_its_straggler_and_finds_what_event_order_finds() -> None:
    t0 = 1_700_000_000 * 10**9
    ordered, arrived = _market(t0)
    in_order, _ = _drive(0, [(s.timestamp_ns, s) for s in ordered], t0 + 10**9)
    caught = STRAGGLERS.labels("t_cross_dex", "yes")
    # A's move (stamped +5 ms) arrives at +30 ms, B's (stamped +10 ms) at +10 ms; the hold is 50 ms.
    arrivals = [(t0, arrived[0]), (t0, arrived[1]), (t0 + 10 * MS, arrived[2]), (t0 + 30 * MS, arrived[3])]
    replay = Replay(_spec(50))
    logic = replay.steps.join_logic()
    for arrival, state in arrivals:
        replay._clock.ns = arrival
        assert logic.on_batch([state])[0] == [], "nothing is evaluated before its hold ends"
    assert logic.due_ns() == t0 + 50 * MS  # the first held trigger (stamped t0) is due 50 ms later
    assert logic.notify_at() == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=(t0 + 50 * MS) // 1000)
    before = caught._value.get()
    held, _ = _drive(50, arrivals, t0 + 10**9)
    assert [to_record(o) for o in held] == [to_record(o) for o in in_order]
    assert caught._value.get() > before  # A's move reached B's still-held update


def test_a_straggler_later_than_the_hold_is_counted_as_missed() -> None:
    t0 = 1_700_000_000 * 10**9
    ordered, arrived = _market(t0)
    in_order, _ = _drive(0, [(s.timestamp_ns, s) for s in ordered], t0 + 10**9)
    missed = STRAGGLERS.labels("t_cross_dex", "no")
    before = missed._value.get()
    arrivals = [(t0, arrived[0]), (t0, arrived[1]), (t0 + 10 * MS, arrived[2]), (t0 + 80 * MS, arrived[3])]
    late, _ = _drive(50, arrivals, t0 + 10**9)
    assert len(late) == len(in_order) + 1  # B's move was evaluated at +60 ms, before A's arrived: no hold caught it
    assert missed._value.get() == before + 1


def test_in_event_order_the_hold_changes_nothing_but_when() -> None:
    items = sorted(dex_rounds(rounds=8), key=lambda i: i[2]["timestamp_ns"])
    records = [(topic, rec) for topic, _key, rec in items]
    plain = [to_record(o) for o in Replay(_spec(0)).run(records)]
    held = [to_record(o) for o in Replay(_spec(400)).run(records)]
    assert len(plain) >= 5, "the scenario must dislocate"
    assert sorted(held, key=lambda r: r["id"]) == sorted(plain, key=lambda r: r["id"])


def test_what_is_held_survives_a_snapshot() -> None:
    t0 = 1_700_000_000 * 10**9
    _, arrived = _market(t0)
    replay = Replay(_spec(50))
    logic = replay.steps.join_logic()
    for arrival, state in [(t0, arrived[0]), (t0, arrived[1]), (t0 + 10 * MS, arrived[2])]:
        replay._clock.ns = arrival
        logic.on_batch([state])
    resumed = replay.steps.join_logic(pickle.loads(pickle.dumps(logic.snapshot())))  # Bytewax pickles snapshots
    assert resumed.due_ns() == logic.due_ns()
    replay._clock.ns = t0 + 100 * MS
    assert _ids(resumed.on_notify()[0]) == _ids(logic.on_notify()[0]) != []
    # A snapshot from before the hold (four parts, nothing held) still resumes.
    old = replay.steps.join_logic(pickle.loads(pickle.dumps(logic.snapshot()[:4])))
    assert old.due_ns() is None and old.pending == {}


def test_a_window_closing_while_it_holds_a_trigger_evaluates_it_and_asks_for_no_more_timers() -> None:
    """Tumbling windows of 1 s: a straggler just within the lateness is held, then a later record moves the
    watermark past its window. The window evaluates it as it closes, and the key asks for no timer any more (a
    stale one would make Bytewax call it again at once, forever)."""
    spec = load_spec(
        SPEC, ["clock.wait_for_system_ms=5000", "clock.hold_ms=50", "window.type=tumbling", "window.length_ms=1000"]
    )
    replay = Replay(spec)
    logic = replay.steps.join_logic()
    t0 = 1_700_000_000 * 10**9
    _, arrived = _market(t0)
    replay._clock.ns = t0 + 5_000 * MS
    logic.on_batch([replace(arrived[0], timestamp_ns=t0 + 5_000 * MS)])
    replay._clock.ns = t0 + 5_100 * MS
    logic.on_notify()
    replay._clock.ns = t0 + 5_996 * MS
    logic.on_batch([replace(arrived[1], timestamp_ns=t0 + 998 * MS)])  # held until +6,001 ms; its window ends +1 s
    assert logic.due_ns() == t0 + 6_001 * MS
    replay._clock.ns = t0 + 6_000 * MS + 500_000  # the watermark passes +1,000 ms: the straggler's window closes
    logic.on_batch([replace(arrived[2], timestamp_ns=t0 + 500 * MS, sequence=9)])
    assert logic.pending == {} and logic.due_ns() is None and logic.notify_at() is None


class _Paced(FixedPartitionedSource):
    """Delivers ``(arrival offset ns, item)`` at those offsets from the start, then stays open until ``end_ns``."""

    def __init__(self, items: list[tuple[int, object]], end_ns: int, ended: list[int]) -> None:
        self.items, self.end_ns, self.ended = items, end_ns, ended

    def list_parts(self) -> list[str]:
        return ["p"]

    def build_part(self, step_id: str, for_part: str, resume_state: object) -> StatefulSourcePartition:
        return _PacedPart(self.items, self.end_ns, self.ended)


class _PacedPart(StatefulSourcePartition):
    def __init__(self, items: list[tuple[int, object]], end_ns: int, ended: list[int]) -> None:
        self.start = time.time_ns()
        self.items = list(items)
        self.end_ns, self.ended = end_ns, ended

    def next_batch(self) -> list[object]:
        now = time.time_ns() - self.start
        batch = []
        while self.items and self.items[0][0] <= now:
            batch.append(self.items.pop(0)[1])
        if not batch and not self.items and now >= self.end_ns:
            self.ended.append(time.time_ns())
            raise StopIteration
        return batch

    def next_awake(self) -> datetime | None:
        return datetime.now(UTC) + timedelta(milliseconds=2)

    def snapshot(self) -> None:
        return None


class _Collect(DynamicSink):
    def __init__(self, into: list[tuple[int, Opportunity]]) -> None:
        self.into = into

    def build(self, step_id: str, worker_index: int, worker_count: int) -> StatelessSinkPartition:
        into = self.into

        class _Part(StatelessSinkPartition):
            def write_batch(self, items: list[tuple[str, Opportunity]]) -> None:
                into.extend((time.time_ns(), opp) for _key, opp in items)

        return _Part()


def _live(hold_ms: int) -> tuple[list[tuple[int, Opportunity]], int, list[str]]:
    """The join step in a real dataflow on the wall clock, A's move arriving 25 ms after B's, which it precedes.
    Returns (wall time and opportunity of each output, end of input, the ids a run in event order finds)."""
    t0 = time.time_ns() + 1_000 * MS  # stamps ahead of the flow's start-up: each state arrives just after its stamp
    ordered, arrived = _market(t0)
    in_order, _ = _drive(0, [(s.timestamp_ns, s) for s in ordered], t0 + 10**9)
    offsets = [1_000, 1_000, 1_010, 1_035]  # ms from the source's start: B's move at +10 ms, A's (stamped +5) at +35
    items = [(ms * MS, ("USDC/WETH", s)) for ms, s in zip(offsets, arrived, strict=True)]
    out: list[tuple[int, Opportunity]] = []
    ended: list[int] = []
    flow = Dataflow("hold")
    states = op.input("in", flow, _Paced(items, 2_000 * MS, ended))
    op.output("out", join_step("join", states, DetectorSteps(_spec(hold_ms)).join), _Collect(out))
    run_main(flow)
    return out, ended[0], _ids(in_order)


def test_a_live_dataflow_holds_for_the_straggler_and_releases_on_its_timer() -> None:
    held, ended, in_order = _live(hold_ms=200)
    assert [o.id for _t, o in held] == in_order != []
    assert all(t < ended for t, _o in held)  # released by Bytewax's timer, long before the input ends (2 s)
    # Without the hold the same arrivals leave the straggler's opportunity: this test can fail.
    plain, _, in_order = _live(hold_ms=0)
    assert len(plain) == 2 and set(in_order) < {o.id for _t, o in plain}


def test_event_order_releases_a_keys_items_sorted_once_their_hold_ends() -> None:
    from prometheus_client import CollectorRegistry, Counter

    from flows.builders.event_order import EventOrder

    late = Counter("test_event_order_late", "items folded out of order (test)", registry=CollectorRegistry())
    t0 = 1_700_000_000 * 10**9
    ordered, arrived = _market(t0)
    now = [t0]
    order = EventOrder(50 * MS, lambda: now[0], late)
    assert order.on_batch(arrived[:3])[0] == []  # a0, b0 and b1 held
    now[0] = t0 + 30 * MS
    assert order.on_batch([arrived[3]])[0] == []  # a1 (stamped +5 ms) arrives 25 ms after b1: still held
    assert order.notify_at() == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=(t0 + 50 * MS) // 1000)
    now[0] = t0 + 56 * MS
    assert order.on_notify()[0] == ordered[:3]  # a0, b0, a1: stamped 50 ms ago or more, in event order
    resumed = EventOrder(50 * MS, lambda: now[0], late, order.snapshot())
    assert resumed.on_eof()[0] == [ordered[3]] and resumed.notify_at() is None
    before = late._value.get()
    now[0] = t0 + 200 * MS
    assert resumed.on_batch([ordered[0]])[0] == []  # behind b1, released already: counted, held half the hold
    assert late._value.get() == before + 1
    now[0] = t0 + 225 * MS  # 25 ms after it arrived: a detector that is behind still orders consecutive polls
    assert resumed.on_notify()[0] == [ordered[0]]
