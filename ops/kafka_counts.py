"""Count records on topics from their partition watermarks (progress displays and tests)."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import Consumer, TopicPartition

from sinks.kafka import client_config


class TopicCounter:
    """Reads end-minus-start offsets of topics; one consumer reused for every poll."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = Consumer(client_config(bootstrap, {"group.id": "pulsearb-counter", "enable.auto.commit": False}))
        self._parts: dict[str, list[int]] = {}

    def _partitions(self, topic: str) -> list[int]:
        if topic not in self._parts:
            meta = self._consumer.list_topics(topic, timeout=10).topics.get(topic)
            if meta is None or meta.error is not None:
                return []
            self._parts[topic] = sorted(meta.partitions)
        return self._parts[topic]

    def count(self, topic: str) -> int:
        """Records currently stored on ``topic`` (0 if it does not exist)."""
        total = 0
        for p in self._partitions(topic):
            low, high = self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += max(0, high - max(low, 0))
        return total

    def counts(self, topics: Iterable[str]) -> dict[str, int]:
        """Counts of several topics."""
        return {t: self.count(t) for t in topics}

    def close(self) -> None:
        """Release the consumer."""
        self._consumer.close()
