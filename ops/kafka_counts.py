"""Count records on topics from their partition watermarks (progress displays and tests)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import Consumer, TopicPartition

from sinks.kafka import client_config


class TopicCounter:
    """Reads end-minus-start offsets of topics; one consumer reused for every poll."""

    def __init__(self, bootstrap: str) -> None:
        settings = {"group.id": "pulsearb-counter", "enable.auto.commit": False, "log_level": 0}
        self._consumer = Consumer(client_config(bootstrap, settings))
        self._parts: dict[str, list[int]] = {}

    def _partitions(self, topic: str) -> list[int]:
        if topic not in self._parts:
            meta = self._consumer.list_topics(topic, timeout=10).topics.get(topic)
            if meta is None or meta.error is not None:
                return []
            self._parts[topic] = sorted(meta.partitions)
        return self._parts[topic]

    def count(self, topic: str, timeout_s: float = 5.0) -> int:
        """Records currently stored on ``topic`` (0 if it does not exist).

        The end offsets come from a fetch response, not from ListOffsets: some brokers (Tansu 0.6) answer
        ListOffsets(latest) with the last batch's base offset + 1, which under-reports multi-record batches.
        """
        parts = self._partitions(topic)
        if not parts:
            return 0
        tps = []
        for p in parts:
            _, listed = self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if listed > 0:  # 0 means no batch at all, on every broker
                tps.append(TopicPartition(topic, p, listed - 1))
        if not tps:
            return 0
        parts = [tp.partition for tp in tps]
        self._consumer.assign(tps)
        highs: dict[int, int] = {}
        deadline = time.monotonic() + timeout_s
        while len(highs) < len(parts) and time.monotonic() < deadline:
            self._consumer.consume(500, 0.05)
            for p in parts:
                low, high = self._consumer.get_watermark_offsets(TopicPartition(topic, p), cached=True)
                if high >= 0:
                    highs[p] = high - max(low, 0)
        self._consumer.unassign()
        return sum(highs.values())

    def counts(self, topics: Iterable[str]) -> dict[str, int]:
        """Counts of several topics."""
        return {t: self.count(t) for t in topics}

    def close(self) -> None:
        """Release the consumer."""
        self._consumer.close()
