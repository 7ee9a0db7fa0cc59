"""Read a whole topic for a drill's final count: every partition up to the end its fetch responses report."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from schemas.serde import codec
from sinks.kafka import client_config


def read_all(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """Every record of ``topic``, decoded, oldest first per partition.

    Ends at each partition's end-of-partition event, which librdkafka raises at the high watermark of a fetch
    response (not at a ListOffsets answer, which Tansu under-reports after batched produce).

    Raises:
        TimeoutError: not every partition reached its end within ``timeout_s``.
    """
    conf = {"group.id": f"drill-{uuid.uuid4().hex[:8]}", "enable.partition.eof": True, "enable.auto.commit": False}
    consumer = Consumer(client_config(bootstrap, conf))
    try:
        parts = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        decode = codec(topic).decode
        out: list[dict[str, Any]] = []
        ended: set[int] = set()
        deadline = time.monotonic() + timeout_s
        while len(ended) < len(parts):
            if time.monotonic() > deadline:
                msg = f"{topic}: partitions {sorted(set(parts) - ended)} did not reach their end in {timeout_s:g} s"
                raise TimeoutError(msg)
            for msg in consumer.consume(10_000, 0.2):
                if msg.error() is not None:
                    ended.add(msg.partition())
                elif msg.value():
                    out.append(decode(msg.value()))
        return out
    finally:
        consumer.close()
