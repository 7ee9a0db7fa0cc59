"""PnL and latency views: replayed executions count once; hop quantiles come from the trace maps."""

from __future__ import annotations

from sinks import history
from sinks.clickhouse import connect, session
from sinks.writer import ArchiveWriter
from tests.sinks.records import T0, encode, execution

TOPIC = "arb.execution"
DAY = 86_400 * 10**9


def _write(store: str, items: list[tuple[int, bytes]], max_rows: int) -> None:
    w = ArchiveWriter(lambda: connect(store), max_rows=max_rows)
    w.add_many(TOPIC, 0, items)
    w.close()


def test_pnl_counts_each_opportunity_once_under_replays(store: str) -> None:
    recs = [execution(f"opp{i}", T0 + (i % 2) * DAY + i, realized=1_000 * (i + 1)) for i in range(6)]
    recs.append(execution("opp0", T0 + 5, realized=1_000, status="mined"))  # the executor re-emitted opp0
    items = list(enumerate(encode(TOPIC, recs)))
    _write(store, items, max_rows=100)
    _write(store, items, max_rows=3)  # replay after a crash, other batch shapes: new inserts, same ids
    with session(store) as client:
        result = history.pnl(client, "pulsearb", history.Filters())
    col = {c: i for i, c in enumerate(result.columns)}
    by_day = [(r[col["executions"]], int(r[col["realized_profit"]])) for r in result.rows]
    # Day 0: opp0, opp2, opp4 (1000 + 3000 + 5000); day 1: opp1, opp3, opp5 (2000 + 4000 + 6000).
    assert by_day == [(3, 9_000), (3, 12_000)]


def test_latency_views_match_exact_quantiles(store: str) -> None:
    recs = [execution(f"opp{i}", T0 + i * 10**9, realized=1) for i in range(20)]
    _write(store, list(enumerate(encode(TOPIC, recs))), max_rows=100)
    with session(store) as client:
        fast = history.latency(client, "pulsearb", history.Filters())
        exact = history.latency(client, "pulsearb", history.Filters(), exact=True)
    assert [r[:2] for r in fast.rows] == [("submit", 20), ("confirm", 20)]
    assert [r[:3] for r in exact.rows] == [("submit", 20, 1.0), ("confirm", 20, 2.0)]
    assert [round(r[2], 3) for r in fast.rows] == [1.0, 2.0]
