"""The archive's chunked Kafka source reads exactly the records, offsets and resume points of the per-record one."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from flows.connectors.kafka import KafkaChunk, KafkaRecord, KafkaSource
from ops.simulator.stack.stack import StackInfo
from sinks.kafka import KafkaWriter

pytestmark = pytest.mark.integration


def _drain(source: KafkaSource, resume: dict[str, int | None]) -> tuple[list[tuple], dict[str, int]]:
    """Every (topic, partition, offset, value) the source yields, partition by partition, and its end snapshots."""
    got: list[tuple] = []
    ends = {}
    for part in source.list_parts():
        p = source.build_part("chunks_test.kafka", part, resume.get(part))
        try:
            while True:
                for item in p.next_batch():
                    got.extend(_rows(item))
        except StopIteration:
            pass
        ends[part] = p.snapshot()
        p.close()
    return got, ends


def _rows(item: Any) -> list[tuple]:
    if isinstance(item, KafkaChunk):
        assert len(item.offsets) == len(item.values)
        return [(item.topic, item.partition, o, v) for o, v in zip(item.offsets, item.values, strict=True)]
    assert isinstance(item, KafkaRecord)
    return [(item.topic, item.partition, item.offset, item.value)]


def test_chunks_carry_the_same_records_as_record_objects(broker_stack: StackInfo) -> None:
    topic = f"market.pool_sync.chunks_{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker_stack.bootstrap})
    for fut in admin.create_topics([NewTopic(topic, 3, 1)]).values():
        fut.result(timeout=10)
    w = KafkaWriter(broker_stack.bootstrap)
    for i in range(12_000):  # more than one poll per partition
        value = None if i % 997 == 5 else f"value {i}".encode() * (1 + i % 7)  # tombstones too
        w.produce(topic, f"k{i % 50}".encode(), value)  # type: ignore[arg-type]
    w.flush()

    records, record_ends = _drain(KafkaSource(broker_stack.bootstrap, [topic], tail=False), {})
    chunks, chunk_ends = _drain(KafkaSource(broker_stack.bootstrap, [topic], tail=False, chunks=True), {})
    assert len(records) == 12_000
    assert chunks == records
    assert chunk_ends == record_ends

    # Resuming from a snapshot mid-partition reads the same rest both ways.
    middle = {part: end // 2 for part, end in record_ends.items()}
    rest_records, _ = _drain(KafkaSource(broker_stack.bootstrap, [topic], tail=False), dict(middle))
    rest_chunks, _ = _drain(KafkaSource(broker_stack.bootstrap, [topic], tail=False, chunks=True), dict(middle))
    assert rest_chunks == rest_records
    assert 0 < len(rest_records) < len(records)
