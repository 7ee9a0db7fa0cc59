"""Backtest benchmark: archived market updates read and replayed through a detector, against a plain SELECT.

Runs on an embedded ClickHouse store it creates in a temporary directory, and measures, in one run:

- ``backtest`` (value): archived updates per second that ``pulsearb backtest`` reads and replays: the spec's
  tables read with ``FINAL`` in event order and turned back into records (:mod:`sinks.backtest`), each record run
  through the ``cross_dex`` detector's step functions (:mod:`flows.builders.replay`: fold, event-time join,
  strategy, gas), opportunities collected (not stored);
- baseline: a plain ``SELECT *`` of the same rows into Python rows through the same client.

The market is the local market of ``pulsearb up`` (``ops/simulator/market/model.py``: two venues x three pairs following
real Coinbase minute bars, one venue lagging, occasional shocks) plus its gas prices: ``--blocks`` blocks are
generated as Protocol V2 frames, routed by the bridge's own code into ``market.pool_sync`` and
``market.gas_price`` records, and archived through the archive's writer; that market is archived ``--copies``
times, each copy shifted in time and sequence (generating frames costs more than replaying them). The
breakdown prints the read alone, the replay alone, and a profile of the replay by module, which says where the
time goes. Goal: >= 100k archived updates/s.

Usage: ``.venv/bin/python bench/backtest.py [--blocks N] [--copies K]``
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.bridge import route_frame  # noqa: E402
from flows.builders.replay import Replay  # noqa: E402
from flows.relay.codec import decode_frame  # noqa: E402
from flows.spec import SPECS_DIR, load_spec  # noqa: E402
from ops.cli.backtest import replay_archive  # noqa: E402
from ops.simulator.market.model import BLOCK_TIME_NS, market_frames  # noqa: E402
from schemas.serde import codec  # noqa: E402
from sinks.backtest import read_records  # noqa: E402
from sinks.clickhouse import connect, query_rows, session  # noqa: E402
from sinks.migrate import migrate  # noqa: E402
from sinks.writer import ArchiveWriter  # noqa: E402

TOPICS = ("market.pool_sync", "market.gas_price")
DB = "pulsearb"


def log(text: str) -> None:
    """Human progress on stderr (stdout ends with the JSON line)."""
    print(text, file=sys.stderr, flush=True)


def market(blocks: int) -> dict[str, list[dict]]:
    """The local market's records of ``blocks`` blocks, as the bridge routes its frames."""
    out: dict[str, list[dict]] = defaultdict(list)
    for _offset, frame in market_frames(blocks, cex=False):
        f = decode_frame(frame)
        ts = f.header.timestamp
        for routed in route_frame(f, {"relay_ns": ts, "bridge_in_ns": ts + 20_000, "bridge_out_ns": ts + 50_000})[0]:
            out[routed.topic].append(routed.record)
    return out


def shifted(rec: dict, k: int, span_ns: int, blocks: int) -> dict:
    """A record of copy ``k``: later by ``k`` spans in time, sequences and blocks (ids stay distinct)."""
    out = dict(rec)
    dt = k * span_ns
    out["timestamp_ns"] += dt
    out["sequence"] += k * 10_000_000
    if "event_timestamp_ns" in out:
        out["event_timestamp_ns"] += dt
    if "block_number" in out:
        out["block_number"] += k * blocks
    out["trace"] = {name: t + dt for name, t in rec["trace"].items()}
    return out


def archive(dsn: str, records: dict[str, list[dict]], copies: int, blocks: int) -> int:
    """Archive ``copies`` shifted copies of the market through the archive writer; return the rows written."""
    span = blocks * BLOCK_TIME_NS
    writer = ArchiveWriter(lambda: connect(dsn), max_rows=100_000)
    rows = 0
    for k in range(copies):
        for topic, recs in records.items():
            c = codec(topic)
            payloads = [c.encode(shifted(r, k, span, blocks)) for r in recs]
            writer.add_many(topic, 0, [(k * len(payloads) + i, p) for i, p in enumerate(payloads)])
            rows += len(payloads)
    writer.close()
    return rows


def plain_select(client: object) -> tuple[int, float]:
    """Rows and seconds of a plain SELECT of the same tables into Python rows."""
    start = time.perf_counter()
    n = 0
    for topic in TOPICS:
        _, rows = query_rows(client, f"SELECT * FROM {DB}.{topic.replace('.', '_')}")
        n += len(rows)
    return n, time.perf_counter() - start


def by_module(profile: cProfile.Profile) -> list[tuple[str, float]]:
    """Own time per area of the code (the replay's profile)."""
    areas = (
        ("flows/amm/", "AMM sizing (flows/amm)"),
        ("flows/strategies/", "strategy (flows/strategies)"),
        ("flows/state/join", "as-of join (flows/state/join)"),
        ("flows/state/", "events and folds (flows/state)"),
        ("bytewax/", "Bytewax clock/windower logic"),
        ("flows/builders/", "detector steps and replay wiring"),
        ("flows/opportunity", "opportunity records"),
    )
    totals: dict[str, float] = defaultdict(float)
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for (path, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.items():
        area = next((label for key, label in areas if key in path), "other (Python builtins, dataclasses)")
        totals[area] += tottime
    whole = sum(totals.values()) or 1.0
    return sorted(((a, t / whole) for a, t in totals.items()), key=lambda x: -x[1])


def main() -> int:
    """Run the benchmark; the last line printed is the JSON result."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--blocks", type=int, default=4_000, help="market blocks generated (6 pool updates + gas each)")
    p.add_argument("--copies", type=int, default=5, help="shifted copies of that market archived")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pulsearb-bench-backtest-"))
    dsn = f"chdb://{work / 'store'}"
    spec = load_spec(SPECS_DIR / "cross_dex.yaml")
    try:
        t = time.perf_counter()
        records = market(args.blocks)
        log(f"generated {sum(len(v) for v in records.values()):,} records in {time.perf_counter() - t:.1f} s")
        with session(dsn) as client:
            migrate(client)
        t = time.perf_counter()
        rows = archive(dsn, records, args.copies, args.blocks)
        log(f"archived {rows:,} rows ({args.copies} copies) in {time.perf_counter() - t:.1f} s")
        with session(dsn) as client:
            plain_select(client)  # warm the store's caches for both sides alike
            log("measuring: plain SELECT of the same rows")
            base_n, base_s = plain_select(client)
            log("measuring: backtest (read in event order with FINAL + replay through cross_dex)")
            t = time.perf_counter()
            read, (found,) = replay_archive(client, DB, [Replay(spec)], 0, 2**63 - 1)
            value_s = time.perf_counter() - t
            log("breakdown: read alone, replay alone, replay profile")
            t = time.perf_counter()
            items = [item for window in read_records(client, DB, TOPICS, 0, 2**63 - 1) for item in window]
            read_s = time.perf_counter() - t
        replay = Replay(spec)
        t = time.perf_counter()
        for topic, rec in items:
            replay.feed(topic, rec)
        replay_s = time.perf_counter() - t
        profile = cProfile.Profile()
        sample = items[: min(len(items), 30_000)]
        profiled = Replay(spec)
        profile.enable()
        for topic, rec in sample:
            profiled.feed(topic, rec)
        profile.disable()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    value, baseline = read / value_s, base_n / base_s
    print(f"{'measure':<44}{'rows':>10}{'seconds':>10}{'rows/s':>12}")
    for name, n, s in (
        ("plain SELECT (baseline)", base_n, base_s),
        ("backtest: read + replay (value)", read, value_s),
        ("  read alone (FINAL, event order, records)", len(items), read_s),
        ("  replay alone (cross_dex steps)", len(items), replay_s),
    ):
        print(f"{name:<44}{n:>10,}{s:>10.2f}{n / s:>12,.0f}")
    print(f"opportunities found: {len(found):,} ({len(found) / max(1, read):.1%} of updates)")
    print(f"replay profile ({len(sample):,} records, share of own time):")
    for area, share in by_module(profile):
        print(f"  {area:<42}{share:>7.1%}")
    print("(machine shared with other work: rates are lower bounds)")
    result = {
        "backtest": {"value": round(value), "baseline": round(baseline), "ratio": round(value / baseline, 4)},
        "samples": read,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
