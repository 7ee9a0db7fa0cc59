"""Archive benchmark: rows/s from Kafka into ClickHouse through the archive flow, against a direct ``insert_df``.

Runs on a local stack it starts itself (a Tansu broker on a free loopback port, an embedded chdb store in a temp
directory) and measures, in one run, over the same N ``market.pool_sync`` records (Avro payloads on Kafka):

- ``value``: rows/s through the real archive flow (flows/builders/archive.py, built from a spec and run in this
  process with Bytewax's ``run_main``): Kafka source -> header check -> Avro containers -> ClickHouse's own Avro
  input -> ``ingest_market_pool_sync`` -> ``market_pool_sync`` (+ the latency view). The clock runs from the flow's
  start until it has drained the topic and flushed its last batch; then the rows are counted with FINAL.
- ``baseline``: rows/s of ``client.insert_df`` of the same rows (decoded beforehand, a ready DataFrame) into the
  same table of the same store.
- for reference (not in the JSON): the Python row path the writer used before (fastavro decode + sinks/archive.py
  ``to_columns`` + ``client.insert``) on a slice of the rows.

Goals (docs/architecture.md): >= 100k rows/s and >= 0.5 of the direct insert. The last line is the JSON object
of DESIGN.md's benchmark section. Usage: ``.venv/bin/python bench/archive.py [--rows N]``
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
from bytewax.testing import run_main  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from flows.builders.archive import archive_flow  # noqa: E402
from flows.builders.common import RunEnv  # noqa: E402
from flows.connectors.stop import STOP  # noqa: E402
from flows.spec import load_spec  # noqa: E402
from ops.stack import stack  # noqa: E402
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


def main() -> int:
    """Run the benchmark; print a table and the JSON line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=200_000, help="records on Kafka (default 200000)")
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

        # Baseline: insert_df of the same rows, already decoded and in a DataFrame.
        _, columns, rows = to_columns("market.pool_sync", [(0, i, c.decode(p)) for i, p in enumerate(payloads)])
        df = pd.DataFrame(rows, columns=list(columns))
        with session(info.store_dsn) as client:
            t = time.perf_counter()
            client.insert_df("pulsearb.market_pool_sync", df)
            baseline = n / (time.perf_counter() - t)
            say(f"direct insert_df: {baseline:,.0f} rows/s")
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
        del df, rows, ref_rows

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
    say(f"{'path':<44}{'rows':>10}{'rows/s':>12}")
    say(f"{'archive flow (Kafka -> ClickHouse)':<44}{n:>10,}{value:>12,.0f}")
    say(f"{'direct insert_df (baseline)':<44}{n:>10,}{baseline:>12,.0f}")
    say(f"{'python row path (reference)':<44}{ref_n:>10,}{row_path:>12,.0f}")
    say(f"ratio archive / insert_df: {ratio:.2f} (goals: >= 100,000 rows/s and >= 0.5)")
    print(json.dumps({"archive": {"value": round(value), "baseline": round(baseline), "ratio": round(ratio, 3)}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
