"""The as-of join: each trigger sees every market as of its event time, whatever the arrival order."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.state.join import AsOfJoin, as_view, order_of
from tests.strategies.factories import DAI, USDC, WETH, pool


def _state(key: str, seq: int, ts: int, token_b: str = WETH):
    return pool(key, 400, USDC, 10**12, token_b, 10**21, sequence=seq, timestamp_ns=ts)


def _snapshot(view) -> frozenset:
    return frozenset((s.pool, s.sequence) for s in view)


def test_in_order_views_are_the_latest_states() -> None:
    join = AsOfJoin(10**12, 10**12)
    join.insert(_state("a", 1, 10))
    (view,) = join.insert(_state("b", 2, 20))
    assert view.trigger.pool == "b" and _snapshot(view) == {("a", 1), ("b", 2)}
    (view,) = join.insert(_state("a", 3, 30))
    assert _snapshot(view) == {("a", 3), ("b", 2)}
    assert join.insert(_state("a", 3, 30)) == []  # the same state twice


def test_a_late_state_is_joined_at_its_time_and_re_evaluates_what_it_precedes() -> None:
    join = AsOfJoin(10**12, 10**12)
    for s in (_state("a", 1, 10), _state("a", 3, 30), _state("b", 4, 40)):
        join.insert(s)
    views = join.insert(_state("b", 2, 20))  # b@20 arrives after b@40
    assert [(v.trigger.pool, v.trigger.sequence, _snapshot(v)) for v in views] == [
        ("b", 2, {("a", 1), ("b", 2)}),
        ("a", 3, {("a", 3), ("b", 2)}),  # a@30 was evaluated without b; b@20 is its partner now
    ]
    assert join.view(join.latest["b"], order_of(join.latest["b"])).at is None  # the newest: a latest view


def test_related_markets_include_third_corners_of_triangles() -> None:
    join = AsOfJoin(10**12, 10**12)
    for s in (_state("ab", 1, 10), _state("cd", 2, 20, DAI)):
        join.insert(s)
    other = pool("x", 400, WETH, 10**21, DAI, 10**21, sequence=3, timestamp_ns=30)
    join.insert(other)
    assert join.related("ab") == ["cd", "x"]
    assert join.view(None, (35,)).between(USDC, DAI)[0].pool == "cd"
    assert join.view(None, (35,)).common_neighbours(USDC, WETH) == [DAI]


def test_retention_keeps_recent_states_and_the_partner_before_them() -> None:
    join = AsOfJoin(retention_ns=100, horizon_ns=100)
    for i, ts in enumerate((10, 50, 200, 260)):
        join.insert(_state("a", i, ts))
    join.insert(_state("b", 9, 1_000))
    join.insert(_state("a", 10, 1_001))
    assert [s.timestamp_ns for s in join.history["a"]] == [260, 1_001]  # 260: the as-of partner before 901
    assert [s.timestamp_ns for s in join.history["b"]] == [1_000]


def test_a_view_of_plain_states_keeps_the_newest_of_each_market() -> None:
    view = as_view([_state("a", 2, 20), _state("a", 1, 10), _state("b", 3, 30)])
    assert view.trigger is None and _snapshot(view) == {("a", 2), ("b", 3)} and len(view) == 2


@settings(max_examples=150, deadline=None)
@given(
    per_key=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_final_evaluations_do_not_depend_on_arrival_order(per_key: list[int], seed: int) -> None:
    rng = random.Random(seed)
    times = rng.sample(range(1, 10_000), sum(per_key))
    streams, seq = [], 0
    for k, n in enumerate(per_key):
        mine = sorted(times[seq : seq + n])
        streams.append([_state(f"p{k}", seq + i, t) for i, t in enumerate(mine)])
        seq += n

    def run(arrival: list) -> dict:
        join = AsOfJoin(10**12, 10**12)
        last = {}
        for state in arrival:
            for view in join.insert(state):
                last[(view.trigger.pool, view.trigger.sequence)] = _snapshot(view)
        return last

    in_order = run(sorted((s for stream in streams for s in stream), key=order_of))
    # Kafka keeps each market's (partition's) order; the interleaving of markets is arbitrary.
    queues = [list(stream) for stream in streams]
    arrival = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        arrival.append(queue.pop(0))
    assert run(arrival) == in_order
