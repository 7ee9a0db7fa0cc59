"""Store endpoint benchmark: archive insert rate through the store server's HTTP interface vs into chdb in-process.

Measures, in one run, the archive's write path (:class:`sinks.writer.ArchiveWriter`, batches of 50,000 rows,
inserted by its worker thread as the archive flow does) over the same N ``market.pool_sync`` records:

- ``value``: rows/s into a store served by ``python -m sinks.server`` (another process, loopback HTTP): the local
  stack's layout, where the archive flow, history and every client share the store.
- ``baseline``: rows/s into an embedded store this process opens itself (what the archive flow did before, and
  what it still does for a store no server owns).

Both stores are new and migrated; every round sends the same records (later rounds are replays, stored again and
collapsed by the ReplacingMergeTree), and the rows are counted with FINAL afterwards. Each path runs ``--rounds`` times,
alternating, and the best round counts. Usage: ``.venv/bin/python bench/store_endpoint.py [--rows N]``; the last
line is ``{"store_endpoint": {"value", "baseline", "ratio"}}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ops.simulator.stack import process  # noqa: E402
from ops.simulator.stack.store import store_spec  # noqa: E402
from sinks.clickhouse import connect, query_rows, session  # noqa: E402
from sinks.migrate import migrate  # noqa: E402
from sinks.writer import ArchiveWriter  # noqa: E402
from tests.sinks.records import encode, pool_sync  # noqa: E402

CHUNK = 2_000  # records per Kafka poll of a partition, as the archive's source hands them over


def say(text: str) -> None:
    """Progress for people (stderr keeps stdout's last line the JSON)."""
    print(text, file=sys.stderr, flush=True)


def _archive(dsn: str, payloads: list[bytes], base: int) -> float:
    """Write every payload through the archive writer; return rows/s (the clock stops when all are stored)."""
    writer = ArchiveWriter(lambda: connect(dsn), max_rows=50_000, background=True)
    t = time.perf_counter()
    for start in range(0, len(payloads), CHUNK):
        part = payloads[start : start + CHUNK]
        writer.add_chunk("market.pool_sync", 0, list(range(base + start, base + start + len(part))), part)
        writer.flush_due()
    writer.flush()
    elapsed = time.perf_counter() - t
    writer.close()
    return len(payloads) / elapsed


def _count(dsn: str) -> int:
    with session(dsn) as client:
        _, rows = query_rows(client, "SELECT count() FROM pulsearb.market_pool_sync FINAL")
    return int(rows[0][0])


def main() -> int:
    """Run the benchmark; print a table and the JSON line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=200_000, help="records per round (default 200000)")
    p.add_argument("--rounds", type=int, default=2, help="rounds per path (default 2)")
    args = p.parse_args()
    n = args.rows
    work = Path(tempfile.mkdtemp(prefix="pulsearb-bench-store-"))
    pid = None
    try:
        say(f"encoding {n:,} pool syncs")
        payloads = encode("market.pool_sync", [pool_sync(i) for i in range(n)])
        embedded, served_path = f"chdb://{work / 'embedded'}", work / "served"
        for dsn in (embedded, f"chdb://{served_path}"):
            with session(dsn) as client:
                migrate(client)
        pid = process.start(store_spec(served_path, 0), work)
        served = f"chdb://{served_path}"
        rates: dict[str, list[float]] = {"served": [], "embedded": []}
        for r in range(args.rounds):
            for name, dsn in (("served", served), ("embedded", embedded)):
                rate = _archive(dsn, payloads, base=r * n)
                rates[name].append(rate)
                say(f"round {r + 1}: {name:<9} {rate:>10,.0f} rows/s")
        counts = {name: _count(dsn) for name, dsn in (("served", served), ("embedded", embedded))}
        if any(c != n for c in counts.values()):  # rounds re-send the same records: FINAL keeps one of each
            say(f"ERROR: stored {counts}, expected {n:,} each")
            return 1
    finally:
        if pid is not None:
            process.stop_pid(pid)
        shutil.rmtree(work, ignore_errors=True)
    value, baseline = max(rates["served"]), max(rates["embedded"])
    say("")
    say(f"{'path':<52}{'rows':>10}{'rounds':>8}{'best rows/s':>14}")
    say(f"{'archive writer -> store server (HTTP, other process)':<52}{n:>10,}{args.rounds:>8}{value:>14,.0f}")
    say(f"{'archive writer -> embedded chdb (this process)':<52}{n:>10,}{args.rounds:>8}{baseline:>14,.0f}")
    say(f"ratio served / embedded: {value / baseline:.2f}")
    result = {"value": round(value), "baseline": round(baseline), "ratio": round(value / baseline, 3)}
    print(json.dumps({"store_endpoint": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
