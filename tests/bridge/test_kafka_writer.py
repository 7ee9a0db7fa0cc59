"""KafkaWriter.produce_many (the bridge's sink) partitions and counts exactly as a plain keyword produce does.

produce_many passes its arguments positionally with partition -1 (librdkafka's "unassigned") for speed; the
records must still land where the murmur2_random partitioner puts them when no partition is given at all, so
co-keyed topics stay co-partitioned. Both go to fresh 6-partition topics on the bridge tests' broker.
"""

from __future__ import annotations

import uuid

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from ops.simulator.stack.stack import StackInfo
from sinks.kafka import KafkaWriter, producer_config
from tests.bridge.conftest import read_topic


def _topics(bootstrap: str, count: int) -> list[str]:
    names = [f"test.writer.{uuid.uuid4().hex[:10]}" for _ in range(count)]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(n, 6, 1) for n in names]).values():
        future.result()
    return names


def test_produce_many_partitions_like_a_plain_produce_and_counts_deliveries(bridge_broker: StackInfo) -> None:
    bootstrap = bridge_broker.bootstrap or ""
    mine, plain = _topics(bootstrap, 2)
    keys = [f"0x{i:040x}".encode() for i in range(60)]
    records = [(mine, key, b"value-%d" % i) for i, key in enumerate(keys)] + [(mine, None, b"keyless")]

    writer = KafkaWriter(bootstrap)
    writer.produce_many(records)
    writer.flush(30)
    producer = Producer(producer_config(bootstrap))
    for key in keys:
        producer.produce(plain, b"x", key)
    assert producer.flush(30) == 0

    got = {r.key: r.partition for r in read_topic(bootstrap, mine)}
    expected = {r.key: r.partition for r in read_topic(bootstrap, plain)}
    assert {k: got[k] for k in keys} == expected
    assert len(set(expected.values())) > 1  # the keys spread, so a wrong partition choice would show
    assert None in got
    assert (writer.stats.produced, writer.stats.delivered, writer.stats.failed) == (61, 61, 0)
    assert writer.stats.by_topic == {mine: 61}
