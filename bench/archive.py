"""Archive benchmark: rows/s from Kafka into ClickHouse through the archive flow, against a direct ``insert_df``.

Runs on a local stack it starts itself (a Tansu broker on a free loopback port, an embedded chdb store in a temp
directory) and measures, in one run, over the same N ``market.pool_sync`` records (Avro payloads on Kafka):

- ``value``: rows/s through the real archive flow (flows/builders/archive.py, built from a spec and run in this
  process with Bytewax's ``run_main``): Kafka source -> header check -> Avro containers -> ClickHouse's own Avro
  input -> ``ingest_market_pool_sync`` -> ``market_pool_sync`` (+ the latency view). The clock runs from the flow's
  start until it has drained the topic and flushed its last batch; then the rows are counted with FINAL.
- ``baseline``: rows/s of the fastest direct insert of the same rows, decoded beforehand, into the same table of
  the same store with the flow's insert settings (``optimize_on_insert = 0``, sinks/clickhouse.py): a pyarrow
  Table through ``client.insert_arrow`` (reserves as 32-byte little-endian binaries, which ClickHouse reads into
  ``UInt256``), ready columns through ``client.insert`` (Native format), and a DataFrame through
  ``client.insert_df``. Each path first inserts once untimed (a warm store), then ``--rounds`` times into the
  emptied table; a path's rate is its median round, the baseline the best path's.
- for reference (not in the JSON): the Python row path the writer used before (fastavro decode + sinks/archive.py
  ``to_columns`` + ``client.insert``) on a slice of the rows.

Goals (docs/architecture.md): >= 100k rows/s and >= 0.5 of the direct insert. The last line is the JSON object
of DESIGN.md's benchmark section, with the sample counts. Usage: ``.venv/bin/python bench/archive.py [--rows N]
[--rounds R]``
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
from bytewax.testing import run_main  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from flows.builders.archive import archive_flow  # noqa: E402
from flows.builders.common import RunEnv  # noqa: E402
from flows.connectors.stop import STOP  # noqa: E402
from flows.spec import load_spec  # noqa: E402
from ops.simulator.stack import stack  # noqa: E402
from schemas.serde import codec  # noqa: E402
from sinks.archive import to_columns  # noqa: E402
from sinks.clickhouse import query_rows, session  # noqa: E402
from sinks.kafka import KafkaWriter  # noqa: E402
from tests.sinks.records import pool_sync  # noqa: E402

SPEC = """\
version: 1
name: archive_bench
kind: archive
inputs:
  topics: [{topic}]
  start_offset: earliest
outputs:
  dlq: dlq.archive_bench
"""


def say(text: str) -> None:
    """Progress for people (stderr keeps stdout's last line the JSON)."""
    print(text, file=sys.stderr, flush=True)


#: The flow's insert settings (sinks/clickhouse.py insert_avro), less what only Avro input needs.
INSERT_SETTINGS = {"optimize_on_insert": 0}
TABLE = "pulsearb.market_pool_sync"


def arrow_table(columns: tuple[str, ...], rows: list[tuple]) -> pa.Table:
    """The rows as a pyarrow Table ClickHouse inserts as they are (UInt256 as 32 little-endian bytes)."""
    arrays = {}
    for name, values in zip(columns, zip(*rows, strict=True), strict=True):
        if name in ("reserve0", "reserve1"):
            arrays[name] = pa.array([v.to_bytes(32, "little") for v in values], pa.binary(32))
        elif name == "trace":
            arrays[name] = pa.array([list(v.items()) for v in values], pa.map_(pa.string(), pa.int64()))
        else:
            arrays[name] = pa.array(values)
    return pa.table(arrays)


def direct_inserts(client, columns: tuple[str, ...], rows: list[tuple], rounds: int) -> dict[str, float]:
    """Median rows/s of each direct insert path over ``rounds`` timed inserts into the emptied table."""
    n = len(rows)
    table = arrow_table(columns, rows)
    column_data = list(zip(*rows, strict=True))
    df = pd.DataFrame(rows, columns=list(columns))
    paths = {
        "insert_arrow": lambda: client.insert_arrow(TABLE, table, settings=INSERT_SETTINGS),
        "insert (Native)": lambda: client.insert(
            TABLE, column_data, column_names=list(columns), column_oriented=True, settings=INSERT_SETTINGS
        ),
        "insert_df": lambda: client.insert_df(TABLE, df, settings=INSERT_SETTINGS),
    }
    rates = {}
    for name, insert in paths.items():
        insert()  # untimed: a warm store (and a warm client) for this path
        times = []
        for _ in range(rounds):
            for emptied in (TABLE, "pulsearb.hop_latency"):  # the latency view's table fills on every insert
                client.command(f"TRUNCATE TABLE {emptied}")
            t = time.perf_counter()
            insert()
            times.append(time.perf_counter() - t)
        rates[name] = n / statistics.median(times)
        say(f"direct {name}: {rates[name]:,.0f} rows/s (median of {rounds} rounds of {n:,} rows)")
    return rates


def main() -> int:
    """Run the benchmark; print a table and the JSON line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=200_000, help="records on Kafka (default 200000)")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds of each direct insert path (default 3)")
    args = p.parse_args()
    n = args.rows
    home = Path(tempfile.mkdtemp(prefix="pulsearb-bench-archive-"))
    try:
        info = stack.up(home, chain=False)
        topic = f"market.pool_sync.bench_{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": info.bootstrap})
        for fut in admin.create_topics([NewTopic(topic, 4, 1), NewTopic("dlq.archive_bench", 1, 1)]).values():
            fut.result(timeout=10)
        say(f"stack: broker {info.bootstrap}, store {info.store_dsn}; encoding {n:,} pool syncs")
        c = codec("market.pool_sync")
        payloads = [c.encode(pool_sync(i)) for i in range(n)]
        t = time.perf_counter()
        w = KafkaWriter(info.bootstrap)
        for i, payload in enumerate(payloads):
            w.produce(topic, f"pool{i % 64}".encode(), payload)
        w.flush(60)
        say(f"produced {n:,} records to {topic} in {time.perf_counter() - t:.1f} s")

        # Baseline: the fastest direct insert of the same rows, already decoded, with the flow's settings.
        _, columns, rows = to_columns("market.pool_sync", [(0, i, c.decode(p)) for i, p in enumerate(payloads)])
        with session(info.store_dsn) as client:
            direct = direct_inserts(client, columns, rows, args.rounds)
            best_path = max(direct, key=direct.__getitem__)
            baseline = direct[best_path]
            ref_n = min(n, 50_000)
            t = time.perf_counter()
            _, cols, ref_rows = to_columns(
                "market.pool_sync", [(0, i, c.decode(p)) for i, p in enumerate(payloads[:ref_n])]
            )
            client.insert("pulsearb.market_pool_sync", ref_rows, column_names=list(cols))
            row_path = ref_n / (time.perf_counter() - t)
            say(f"python row path (decode + to_columns + insert), {ref_n:,} rows: {row_path:,.0f} rows/s")
            for table in ("market_pool_sync", "hop_latency"):
                client.command(f"TRUNCATE TABLE pulsearb.{table}")
        del rows, ref_rows

        spec_path = home / "archive_bench.yaml"
        spec_path.write_text(SPEC.format(topic=topic))
        flow = archive_flow(load_spec(spec_path), RunEnv(bootstrap=info.bootstrap, store_dsn=info.store_dsn))
        STOP.set()  # the source drains to the end offsets it sees, then the flow ends
        # The set-up's garbage (decoded rows, the DataFrame) is not the flow's: collect it before the clock starts,
        # or a full collection of it lands inside the measured run.
        gc.collect()
        say("archive flow: draining the topic into the store ...")
        t = time.perf_counter()
        run_main(flow, epoch_interval=None)
        elapsed = time.perf_counter() - t
        value = n / elapsed
        with session(info.store_dsn) as client:
            _, got = query_rows(client, "SELECT count() FROM pulsearb.market_pool_sync FINAL")
        archived = int(got[0][0])
        del flow, w  # release the producers before the broker stops (else librdkafka logs reconnects)
        gc.collect()
        if archived != n:
            say(f"ERROR: archived {archived:,} of {n:,} rows")
            return 1
    finally:
        stack.down(home)
        shutil.rmtree(home, ignore_errors=True)
    ratio = value / baseline
    say("")
    say(f"{'path':<44}{'rows':>10}{'rounds':>8}{'rows/s':>12}")
    say(f"{'archive flow (Kafka -> ClickHouse)':<44}{n:>10,}{1:>8}{value:>12,.0f}")
    for name, rate in direct.items():
        label = f"direct {name}" + (" (baseline)" if name == best_path else "")
        say(f"{label:<44}{n:>10,}{args.rounds:>8}{rate:>12,.0f}")
    say(f"{'python row path (reference)':<44}{ref_n:>10,}{1:>8}{row_path:>12,.0f}")
    say(f"ratio archive / {best_path}: {ratio:.2f} (goals: >= 100,000 rows/s and >= 0.5)")
    archive = {"value": round(value), "baseline": round(baseline), "ratio": round(ratio, 3), "samples": n}
    archive |= {"baseline_path": best_path, "baseline_rounds": args.rounds}
    print(json.dumps({"archive": archive}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
