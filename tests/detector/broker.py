"""Helpers for flow tests on the real broker: uuid-named topics, Avro records in, opportunities out."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.serde import codec, u256
from sinks.kafka import KafkaWriter, client_config


class Topics:
    """uuid-named topics on the test broker, one per logical topic (``t<uuid>.market.pool_sync``; ``dlq`` becomes
    ``dlq.t<uuid>``), deleted by :meth:`delete`."""

    def __init__(self, bootstrap: str, names: Sequence[str], partitions: dict[str, int] | None = None) -> None:
        self.bootstrap = bootstrap
        tag = uuid.uuid4().hex[:10]
        # A dead-letter topic keeps the dlq. prefix, which is how its schema is found.
        self.names = {n: (f"dlq.t{tag}" if n == "dlq" else f"t{tag}.{n}") for n in names}
        parts = partitions or {}
        admin = AdminClient(client_config(bootstrap))
        futures = admin.create_topics(
            [NewTopic(t, num_partitions=parts.get(n, 4), replication_factor=1) for n, t in self.names.items()]
        )
        for f in futures.values():
            f.result(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            meta = admin.list_topics(timeout=10).topics
            if all(t in meta and meta[t].error is None for t in self.names.values()):
                break
            time.sleep(0.05)

    def __getitem__(self, name: str) -> str:
        return self.names[name]

    def delete(self) -> None:
        """Delete the topics."""
        admin = AdminClient(client_config(self.bootstrap))
        for f in admin.delete_topics(list(self.names.values())).values():
            with contextlib.suppress(Exception):  # best-effort clean-up of a test topic
                f.result(timeout=30)


def produce(bootstrap: str, items: Iterable[tuple[str, str, dict[str, Any]]], topics: Topics) -> int:
    """Produce ``(logical topic, key, record)`` items, Avro-encoded with the logical topic's schema."""
    writer = KafkaWriter(bootstrap)
    n = 0
    for name, key, rec in items:
        writer.produce(topics[name], key.encode(), codec(name).encode(rec))
        n += 1
    writer.flush()
    return n


def consume_all(bootstrap: str, topic: str, schema_topic: str = "arb.opportunity", timeout_s: float = 20) -> list[dict]:
    """Every record of a topic, decoded: each partition is read up to the high watermark fetches report."""
    consumer = Consumer(client_config(bootstrap, {"group.id": "t-" + uuid.uuid4().hex, "enable.auto.commit": False}))
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        parts = sorted(meta.partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        out: list[dict] = []
        position = dict.fromkeys(parts, 0)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.1):
                if m.error() is None:
                    out.append(codec(schema_topic).decode(m.value()))
                    position[m.partition()] = m.offset() + 1
            highs = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), cached=True)[1] for p in parts}
            if all(h >= 0 and position[p] >= h for p, h in highs.items()):
                return out
        msg = f"could not read {topic} to its end within {timeout_s} s"
        raise TimeoutError(msg)
    finally:
        consumer.close()


def sync_record(
    *,
    pool: str,
    venue: int,
    token0: str,
    token1: str,
    reserve0: int,
    reserve1: int,
    block: int,
    sequence: int,
    timestamp_ns: int,
    decimals: tuple[int, int] = (18, 18),
    source: int = 4,
) -> dict[str, Any]:
    """A ``market.pool_sync`` record."""
    return {
        "source": source,
        "sequence": sequence,
        "timestamp_ns": timestamp_ns,
        "pool": pool,
        "venue": venue,
        "token0": token0,
        "token1": token1,
        "token0_decimals": decimals[0],
        "token1_decimals": decimals[1],
        "reserve0": u256(reserve0),
        "reserve1": u256(reserve1),
        "block_number": block,
        "event_timestamp_ns": timestamp_ns,
        "trace": {"relay_ns": timestamp_ns - 1000, "bridge_out_ns": timestamp_ns},
    }
