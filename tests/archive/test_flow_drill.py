"""Archive flow drills on the real broker: store unavailable, kill -9 mid-stream, restart; no loss, no duplicates."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from flows.spec import load_spec
from ops.control.flowproc import FlowProcess
from ops.control.kafka_counts import TopicCounter
from ops.simulator.stack.stack import StackInfo
from sinks.clickhouse import query_rows, session
from sinks.kafka import KafkaWriter
from sinks.migrate import migrate
from tests.sinks.records import encode, pool_sync

pytestmark = pytest.mark.integration

N = 12_000
SPEC = """\
version: 1
name: archive_drill
kind: archive
inputs:
  topics: [{topic}]
  start_offset: earliest
store:
  dsn: ""
  database: pulsearb
outputs:
  dlq: {dlq}
recovery:
  snapshot_interval_s: 0.2
"""


def _produce(bootstrap: str, topic: str, payloads: list[bytes], seconds: float) -> None:
    w = KafkaWriter(bootstrap)
    chunk = max(1, len(payloads) // 20)
    for start in range(0, len(payloads), chunk):
        for i, p in enumerate(payloads[start : start + chunk], start=start):
            w.produce(topic, f"k{i % 16}".encode(), p)
        w.flush()
        time.sleep(seconds / 20)


def test_store_outage_and_kill_minus_9_lose_nothing(broker_stack: StackInfo, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:10]
    topic, dlq = f"market.pool_sync.drill_{run}", f"dlq.drill_{run}"
    admin = AdminClient({"bootstrap.servers": broker_stack.bootstrap})
    for fut in admin.create_topics([NewTopic(topic, 3, 1), NewTopic(dlq, 1, 1)]).values():
        fut.result(timeout=10)
    store = tmp_path / "store"
    dsn = f"chdb://{store}"
    with session(dsn) as client:
        migrate(client)
    spec_path = tmp_path / "archive_drill.yaml"
    spec_path.write_text(SPEC.format(topic=topic, dlq=dlq))
    flow = FlowProcess(
        load_spec(spec_path),
        broker_stack.bootstrap,
        tmp_path / "logs",
        store_dsn=dsn,
        recovery_dir=str(tmp_path / "recovery"),
    )
    payloads = encode("market.pool_sync", [pool_sync(i) for i in range(N)])

    # 1. The store is held by another process while the flow starts and records arrive: the flow retries.
    holder = subprocess.Popen([sys.executable, "-m", "tests.sinks.holder", str(store), "3"], stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"holding"
    producer = threading.Thread(target=_produce, args=(broker_stack.bootstrap, topic, payloads, 6.0))
    try:
        flow.start()
        producer.start()
        holder.wait(timeout=30)
        # 2. Once the store is back, kill -9 the flow while records are still arriving.
        time.sleep(2.0)
        assert flow.alive(), flow.tail()
        flow.kill()
        producer.join()
        # 3. Undecodable records after the crash go to the flow's dead-letter topic.
        w = KafkaWriter(broker_stack.bootstrap)
        for junk in (b"not avro", b"\xc3\x01" + b"\x00" * 8 + b"body", b""):
            w.produce(topic, b"junk", junk)
        w.flush()
        # 4. Restart from the last snapshot and drain to the end (SIGTERM: drain, flush, exit 0).
        flow.start()
        time.sleep(3.0)
        assert flow.stop() == 0, flow.tail()
    finally:
        flow.kill()
        holder.stdout.close()
        if holder.poll() is None:
            holder.kill()
    log = flow.log_path.read_text()
    assert "store unavailable, retrying" in log, "the store outage must have been seen and retried"

    with session(dsn) as client:
        _, rows = query_rows(
            client,
            "SELECT (SELECT count() FROM pulsearb.market_pool_sync), count(), "
            "uniqExact(pool, source, sequence, timestamp_ns) FROM pulsearb.market_pool_sync FINAL "
            "WHERE kafka_topic = {t:String}",
            {"t": topic},
        )
    physical, final, distinct = (int(x) for x in rows[0])
    counter = TopicCounter(broker_stack.bootstrap)
    dead = counter.count(dlq)
    counter.close()
    print(f"sent={N} archived={final} duplicates={physical - final} lost={N - distinct} dead_letters={dead}")
    assert distinct == N and final == N, "every record archived exactly once when read with FINAL"
    assert physical >= N
    assert dead == 3
