"""Merging a window's tables into event order (sinks.backtest._merged) against a plain stable sort of the rows."""

from __future__ import annotations

from operator import itemgetter

from hypothesis import given, settings
from hypothesis import strategies as st

from sinks.backtest import _merged, _Part

key = st.tuples(
    st.integers(-(2**40), 2**40).map(lambda t: 1_754_524_800_000_000_000 + t),  # timestamp_ns
    st.integers(0, 3),  # source
    st.one_of(st.integers(0, 5), st.integers(2**64 - 3, 2**64 - 1)),  # sequence: UInt64, the top end included
)


def _part(rank: int, topic: str, keys: list[tuple[int, int, int]]) -> _Part:
    keys = sorted(keys)  # each table's rows come in event order (its SELECT's ORDER BY)
    records = [{"timestamp_ns": t, "source": s, "sequence": q, "row": (topic, i)} for i, (t, s, q) in enumerate(keys)]
    return _Part(rank, topic, records, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])


@settings(max_examples=300, deadline=None)
@given(tables=st.lists(st.lists(key, max_size=30), min_size=1, max_size=3))
def test_merge_is_the_stable_sort_by_event_order_then_topic_rank(tables: list[list[tuple[int, int, int]]]) -> None:
    parts = [_part(rank, f"topic{rank}", keys) for rank, keys in enumerate(tables) if keys]
    if not parts:
        return
    keyed = [((r["timestamp_ns"], r["source"], r["sequence"], p.rank), p.topic, r) for p in parts for r in p.records]
    keyed.sort(key=itemgetter(0))
    assert _merged(parts) == [(topic, r) for _key, topic, r in keyed]
    assert [r["row"] for _t, r in _merged(parts)] == [r["row"] for _k, _t, r in keyed]  # ties keep table order
