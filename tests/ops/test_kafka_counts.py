"""TopicCounter on the real broker: exact counts of multi-record batches, fresh after every produce."""

from __future__ import annotations

import uuid

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from ops.control.kafka_counts import TopicCounter
from ops.simulator.stack.stack import StackInfo
from sinks.kafka import client_config, producer_config


def _produce(bootstrap: str, topic: str, n: int) -> None:
    # A long linger puts many records in each batch: exactly what ListOffsets(latest) under-reports on Tansu.
    producer = Producer(producer_config(bootstrap, {"linger.ms": 50}))
    for i in range(n):
        producer.produce(topic, key=str(i % 7).encode(), value=b"x")
    assert producer.flush(30) == 0


def test_counts_are_exact_and_follow_each_produce(broker_stack: StackInfo) -> None:
    bootstrap = broker_stack.bootstrap or ""
    topic = f"count-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(client_config(bootstrap))
    for fut in admin.create_topics([NewTopic(topic, 3, 1)]).values():
        fut.result(30)
    counter = TopicCounter(bootstrap)
    try:
        assert counter.count(topic) == 0
        assert counter.count("no-such-topic") == 0
        total = 0
        for n in (250, 1, 40, 0, 333):
            _produce(bootstrap, topic, n)
            total += n
            # Twice in a row: a second count must not return the first one's cached watermark.
            assert counter.count(topic) == total
            assert counter.counts([topic]) == {topic: total}
    finally:
        counter.close()
