"""Backtests: archived records come back exactly, replay deterministically, and find what the live flow found.

The live side runs the real detector dataflow on the real broker (as tests/detector does); the backtest side
archives the same records into a real embedded ClickHouse through the archive's own writer and replays them with
``pulsearb backtest``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bytewax.testing import run_main

from flows.builders.common import RunEnv
from flows.builders.detector import detector_flow
from flows.opportunity import to_record
from flows.spec import load_spec
from ops.cli import main
from ops.cli.backtest import replay_archive
from ops.simulator.stack.stack import StackInfo
from schemas.serde import codec, topics_with_schemas
from sinks.backtest import read_records, table_query, write_opportunities
from sinks.clickhouse import connect, query_rows, session
from sinks.writer import ArchiveWriter
from tests.detector import scenarios
from tests.detector.broker import Topics, consume_all, produce
from tests.detector.test_flow import INPUTS, write_spec
from tests.sinks.conftest import migrated
from tests.sinks.records import encode, random_records

MARKET = [t for t in topics_with_schemas() if t.startswith("market.")]


def _archive(dsn: str, items: list[tuple[str, str, dict]], topic_of=lambda t: t) -> None:
    """Archive ``(logical topic, key, record)`` items the way the archive flow does (Avro payloads, per topic)."""
    by_topic: dict[str, list[dict]] = {}
    for topic, _key, rec in items:
        by_topic.setdefault(topic, []).append(rec)
    writer = ArchiveWriter(lambda: connect(dsn), aliases={topic_of(t): t for t in by_topic})
    for topic, recs in by_topic.items():
        writer.add_many(topic_of(topic), 0, list(enumerate(encode(topic, recs))))
    writer.close()


def _market(rounds: int = 6, gwei: int = 40) -> list[tuple[str, str, dict]]:
    """The detector tests' DEX rounds, and a gas price every other round (just before it, in event time)."""
    gas = [
        ("market.gas_price", "137", scenarios.gas_record(gwei, 999 + r * 100, r + 1, scenarios.T0 + r * 10**9 - 5))
        for r in range(0, rounds, 2)
    ]
    return scenarios.dex_rounds(rounds=rounds) + gas


def _backtest(dsn: str, spec: Path, *extra: str) -> dict:
    return json.loads(_cli(["backtest", "--spec", str(spec), "--dsn", dsn, "--format", "json", *extra]))


def _cli(argv: list[str]) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return out.getvalue()


def _stored(dsn: str, run_id: str) -> list[dict]:
    with session(dsn) as client:
        _, rows = query_rows(
            client,
            "SELECT id, toString(net_profit), toString(amount_in), detected_ns, valid_until_ns, trace "
            "FROM pulsearb.arb_opportunity FINAL WHERE run_id = {r:String} ORDER BY id",
            {"r": run_id},
        )
    names = ("id", "net_profit", "amount_in", "detected_ns", "valid_until_ns", "trace")
    return [dict(zip(names, r, strict=True)) for r in rows]


def _as_stored(topic: str, rec: dict) -> dict:
    """A nullable array's ``[]`` is null: ClickHouse has no Nullable(Array), the archive stores null as ``[]``."""
    for f in codec(topic).schema["fields"]:
        union = f["type"] if isinstance(f["type"], list) else []
        if rec.get(f["name"]) == [] and any(isinstance(t, dict) and t.get("type") == "array" for t in union):
            rec[f["name"]] = None
    return rec


def test_every_market_topic_reads_back_exactly_as_archived(tmp_path: Path) -> None:
    dsn = migrated(tmp_path / "store")
    items = []
    for topic in MARKET:
        recs = random_records(topic, 30)
        for i, r in enumerate(recs):
            r["timestamp_ns"] = 1_000 + i  # distinct event times: the read order is known
        items += [(topic, "k", r) for r in recs]
    _archive(dsn, items)
    with session(dsn) as client:
        for topic in MARKET:
            want = [_as_stored(topic, codec(topic).decode(codec(topic).encode(r))) for t, _k, r in items if t == topic]
            got = [r for window in read_records(client, "pulsearb", [topic], 0, 2**62) for _t, r in window]
            assert got == sorted(want, key=lambda r: r["timestamp_ns"]), topic
            assert "FINAL" in table_query(client, "pulsearb", topic).sql


def test_a_record_archived_twice_is_replayed_once_and_tables_merge_in_event_order(tmp_path: Path) -> None:
    dsn = migrated(tmp_path / "store")
    items = _market(rounds=2)
    _archive(dsn, items)
    _archive(dsn, items[:3])  # a replayed batch of the archive flow
    with session(dsn) as client:
        got = [
            (t, r["timestamp_ns"], r["sequence"])
            for w in read_records(client, "pulsearb", ["market.pool_sync", "market.gas_price"], 0, 2**62, window_rows=3)
            for t, r in w
        ]
    assert len(got) == len(items)
    assert got == sorted(got, key=lambda x: (x[1], 4, x[2]))
    assert [t for t, _, _ in got].count("market.gas_price") == 1


@pytest.mark.integration
def test_live_flow_and_backtest_find_the_same_opportunities(broker_stack: StackInfo, tmp_path: Path) -> None:
    bootstrap = broker_stack.bootstrap or ""
    topics = Topics(bootstrap, [*INPUTS, "arb.opportunity", "dlq"], {"market.gas_price": 1})
    try:
        # 30 gwei is the spec's gas_price_wei: live, the gas topic may be read after the pools' (the test is about
        # the detector, not that race)
        items = _market(rounds=6, gwei=30)
        produce(bootstrap, items, topics)
        spec = write_spec(tmp_path / "spec.yaml", topics, "cross_dex")
        run_main(detector_flow(load_spec(spec), RunEnv(bootstrap=bootstrap), tail=False))
        live = {r["id"]: r for r in consume_all(bootstrap, topics["arb.opportunity"])}
    finally:
        topics.delete()
    dsn = migrated(tmp_path / "store")
    _archive(dsn, items, topic_of=lambda t: topics[t])  # the prefixed test topics archive into the same tables
    with session(dsn) as client:
        _read, (found,) = replay_archive(client, "pulsearb", [_replay(spec)], 0, 2**62)
    back = {o.id: to_record(o) for o in found}
    assert len(live) >= 5, "the scenario must dislocate"
    assert set(back) == set(live)
    for i, rec in back.items():
        # Everything but the trace's stage times (wall clocks, for latency) is identical, bytes included.
        assert {k: v for k, v in rec.items() if k != "trace"} == {k: v for k, v in live[i].items() if k != "trace"}
        assert rec["detected_ns"] == max(x["timestamp_ns"] for x in rec["inputs"])
        assert rec["trace"] == {k: v for k, v in live[i]["trace"].items() if k not in ("detect_in_ns", "detect_out_ns")}
    assert {int.from_bytes(r["gas_price_wei"], "big") for r in back.values()} == {30 * 10**9 // 15000}


def _replay(spec: Path):
    from flows.builders.replay import Replay

    return Replay(load_spec(spec))


def test_backtests_are_deterministic_and_stored_apart_from_live_rows(tmp_path: Path) -> None:
    dsn = migrated(tmp_path / "store")
    _archive(dsn, _market(rounds=6))
    spec = tmp_path / "spec.yaml"
    spec.write_text((Path(__file__).parent / "spec.yaml").read_text())
    runs = []
    for run_id in ("bt-a", "bt-b"):
        with session(dsn) as client:
            _read, (found,) = replay_archive(client, "pulsearb", [_replay(spec)], 0, 2**62, window_rows=7)
            records = [to_record(o) for o in found]
            write_opportunities(client, "pulsearb", run_id, records)
        runs.append(b"".join(codec("arb.opportunity").encode(r) for r in records))
    assert runs[0] == runs[1] and len(runs[0]) > 0  # byte-identical records, trace included
    assert _stored(dsn, "bt-a") == _stored(dsn, "bt-b") and len(_stored(dsn, "bt-a")) >= 5
    # A live row with one of those ids (the ingest path writes run_id '') stays a row of its own.
    live = dict(records[0], trace={"detect_out_ns": 1})
    writer = ArchiveWriter(lambda: connect(dsn))
    writer.add_many("arb.opportunity", 0, [(0, codec("arb.opportunity").encode(live))])
    writer.close()
    shown = [json.loads(x) for x in _cli(["history", "opportunities", "--dsn", dsn, "--format", "json"]).splitlines()]
    assert [r["id"] for r in shown] == [live["id"]]
    back = _cli(["history", "opportunities", "--dsn", dsn, "--format", "json", "--run", "bt-a"]).splitlines()
    assert len(back) == len(_stored(dsn, "bt-a"))


def test_a_sweep_prints_a_comparison_within_80_columns(tmp_path: Path, capsys) -> None:
    dsn = migrated(tmp_path / "store")
    _archive(dsn, _market(rounds=6))
    spec = tmp_path / "spec.yaml"
    spec.write_text((Path(__file__).parent / "spec.yaml").read_text())
    sweep = "strategy.params.min_net_profit=[1, 50000000]"
    argv = ["backtest", "--spec", str(spec), "--dsn", dsn, "--sweep", sweep, "--run-id", "sw"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    for name in ("spec", "min_net_profit=1", "sw.0", "sw.1", "sw.2", "#2 opps / USD"):
        assert name in out
    result = _backtest(dsn, spec, "--sweep", sweep, "--no-write")
    assert [r["name"] for r in result["runs"]] == ["spec", "min_net_profit=1", "min_net_profit=50000000"]
    counts = [r["opportunities"] for r in result["runs"]]
    assert counts[0] == counts[1] > counts[2] > 0  # the spec's min_net_profit is 1; 50 USDC leaves fewer
    assert sum(p["opportunities"] for p in result["runs"][0]["by_pair"]) == counts[0]


BAD = [
    (["--set", "strategy.params.min_net_profit=abc"], "21: strategy.params.min_net_profit: expected an integer"),
    (["--set", "clock.wait_for_system_ms=-1"], "7: clock.wait_for_system_ms: expected an integer >= 0, got -1 (--set"),
    (["--set", "window.type=hopping"], "spec.yaml:8: window.type: expected one of"),
    (["--set", "nonsense"], "spec.yaml:0: --set: expected PATH=VALUE"),
    (["--sweep", "strategy.params.max_age_blocks=3"], "--sweep 'strategy.params.max_age_blocks=3': expected PATH=["),
]


@pytest.mark.parametrize(("sets", "line"), BAD)
def test_bad_overrides_are_one_clear_line(tmp_path: Path, capsys, sets: list[str], line: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text((Path(__file__).parent / "spec.yaml").read_text())
    assert main(["backtest", "--spec", str(spec), "--dsn", f"chdb://{tmp_path / 'none'}", *sets]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and line in err[0], err
    assert not (tmp_path / "none").exists()  # refused before opening any store
