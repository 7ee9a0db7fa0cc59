"""Count records on topics from their partition watermarks (progress displays and tests)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import Consumer, KafkaError, TopicPartition

from sinks.kafka import client_config


class TopicCounter:
    """Reads end-minus-start offsets of topics; one consumer reused for every poll."""

    def __init__(self, bootstrap: str) -> None:
        settings = {
            "group.id": "pulsearb-counter",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            # No long poll at the end of a partition: an outstanding fetch would hold up the next count's.
            "fetch.wait.max.ms": 10,
            "log_level": 0,
        }
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

        The end offsets come from reading each partition's last batch to its end, not from ListOffsets: some
        brokers (Tansu 0.6) answer ListOffsets(latest) with the last batch's base offset + 1, which under-reports
        multi-record batches. The end-of-partition event carries the end offset of a fetch made for this count (a
        cached watermark may be one from an earlier count). A partition that does not answer within ``timeout_s``
        counts up to its listed offset, a lower bound.
        """
        parts = self._partitions(topic)
        if not parts:
            return 0
        tps = []
        lows: dict[int, int] = {}
        listed: dict[int, int] = {}
        for p in parts:
            low, high = self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > 0:  # 0 means no batch at all, on every broker
                tps.append(TopicPartition(topic, p, high - 1))
                lows[p], listed[p] = max(low, 0), high
        if not tps:
            return 0
        self._consumer.assign(tps)
        ends: dict[int, int] = {}
        deadline = time.monotonic() + timeout_s
        try:
            while len(ends) < len(tps) and time.monotonic() < deadline:
                for msg in self._consumer.consume(500, 0.05):
                    err = msg.error()
                    if err is not None and err.code() == KafkaError._PARTITION_EOF:
                        ends[msg.partition()] = msg.offset()
        finally:
            self._consumer.unassign()
        return sum(ends.get(p, listed[p]) - lows[p] for p in lows)

    def counts(self, topics: Iterable[str]) -> dict[str, int]:
        """Counts of several topics."""
        return {t: self.count(t) for t in topics}

    def close(self) -> None:
        """Release the consumer."""
        self._consumer.close()
