"""History while the archive writes: the archive flow inserts through the store server, `pulsearb history` in
other processes reads the same store at the same time and, once the flow has drained, sees every row."""

from __future__ import annotations

import itertools
import json
import os
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
from ops.simulator.stack.stack import StackInfo
from sinks.kafka import KafkaWriter
from tests.sinks.records import T0, encode, execution
from tests.sinks.served import served_store

pytestmark = pytest.mark.integration

N = 6_000
SPEC = """\
version: 1
name: archive_served
kind: archive
inputs:
  topics: [{topic}]
  start_offset: earliest
store:
  batch_rows: 500
  batch_age_s: 0.2
outputs:
  dlq: {dlq}
recovery:
  snapshot_interval_s: 0.5
"""


def _history(dsn: str) -> set[str]:
    """`pulsearb history executions` in its own process, as a user in another shell runs it; the ids it lists."""
    done = subprocess.run(
        [sys.executable, "-m", "ops", "history", "executions", "--dsn", dsn, "--format", "json", "--limit", "1000000"],
        capture_output=True, text=True, timeout=120, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("PULSEARB_")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {json.loads(line)["opportunity_id"] for line in done.stdout.splitlines()}


def test_history_reads_every_committed_row_while_the_archive_inserts(broker_stack: StackInfo, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:10]
    topic, dlq = f"arb.execution.served_{run}", f"dlq.served_{run}"
    admin = AdminClient({"bootstrap.servers": broker_stack.bootstrap})
    for fut in admin.create_topics([NewTopic(topic, 2, 1), NewTopic(dlq, 1, 1)]).values():
        fut.result(timeout=10)
    ids = [f"{run}-{i}" for i in range(N)]
    payloads = encode("arb.execution", [execution(o, T0 + i * 10**6, i) for i, o in enumerate(ids)])
    spec_path = tmp_path / "archive_served.yaml"
    spec_path.write_text(SPEC.format(topic=topic, dlq=dlq))
    seen: list[set[str]] = []
    with served_store(tmp_path) as (dsn, _record):
        flow = FlowProcess(load_spec(spec_path), broker_stack.bootstrap, tmp_path / "logs", store_dsn=dsn,
                           recovery_dir=str(tmp_path / "recovery"))  # fmt: skip
        sent = threading.Event()

        def produce() -> None:
            w = KafkaWriter(broker_stack.bootstrap)
            for start in range(0, N, N // 10):  # ten bursts, so the flow keeps inserting while history reads
                for i in range(start, min(N, start + N // 10)):
                    w.produce(topic, ids[i].encode(), payloads[i])
                w.flush()
                time.sleep(0.5)
            sent.set()

        producer = threading.Thread(target=produce)
        try:
            flow.start()
            producer.start()
            while not sent.is_set() or (len(seen) < 3):
                assert flow.alive(), flow.tail()
                seen.append(_history(dsn))  # the flow owns no store: it writes through the server too
            producer.join()
            deadline = time.monotonic() + 60
            while len(seen[-1]) < N and time.monotonic() < deadline:
                seen.append(_history(dsn))
            assert flow.stop() == 0, flow.tail()
        finally:
            flow.kill()
            producer.join()
        final = _history(dsn)
    print(f"history queries while archiving: {len(seen)}, rows seen: {[len(s) for s in seen]}")
    assert final == set(ids), "every committed row is read back, none twice, none invented"
    for earlier, later in itertools.pairwise(seen):
        assert earlier <= later, "a later query never loses a row an earlier one saw"
    assert all(s <= set(ids) for s in seen)
