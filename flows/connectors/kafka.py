"""Kafka source and sink for Bytewax, with drain-on-stop and counted delivery reports.

The source assigns partitions itself (no consumer group), so Bytewax recovery snapshots hold the offsets; it is a
small variant of ``bytewax.connectors.kafka.KafkaSource`` that can *drain*: end once it has read up to the end
offsets observed when a stop was requested (or at start-up when ``tail`` is False). With ``chunks=True`` a poll
yields one :class:`KafkaChunk` (the poll's offsets and values as two lists) instead of a record object per message,
for flows that handle records in bulk (the archive).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from flows.connectors.stop import STOP
from flows.metrics import CONSUMER_LAG
from sinks.kafka import KafkaWriter, client_config

_IDLE_WAIT = timedelta(milliseconds=2)
_DRAIN_IDLE_S = 0.25


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """One consumed record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class KafkaChunk:
    """The records of one poll of one partition, in offset order: parallel lists, no object per record."""

    topic: str
    partition: int
    offsets: list[int]
    values: list[bytes | None]


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One record to produce."""

    topic: str
    key: bytes | None
    value: bytes


class _Partition(StatefulSourcePartition[KafkaRecord, int]):
    def __init__(
        self,
        config: dict[str, Any],
        topic: str,
        partition: int,
        start: int,
        resume: int | None,
        batch_size: int,
        tail: bool,
        flow: str = "",
        chunks: bool = False,
    ) -> None:
        self._consumer = Consumer(config)
        self._tp = TopicPartition(topic, partition)
        low, _ = self._consumer.get_watermark_offsets(self._tp, timeout=10)
        if resume is not None:
            offset = resume
        elif start == OFFSET_BEGINNING:
            offset = max(low, 0)
        elif start == OFFSET_END:
            offset = start  # resolved by the broker; self._offset follows the first record read
        else:
            offset = max(start, low, 0)
        self._offset = offset
        self._consumer.assign([TopicPartition(topic, partition, offset)])
        self._batch_size = batch_size
        self._chunks = chunks
        self._draining = not tail
        self._idle_since: float | None = None
        self._awake: datetime | None = None
        self._lag = CONSUMER_LAG.labels(flow, topic, str(partition))

    def _fetched_high(self) -> int | None:
        # The high watermark from fetch responses, not from ListOffsets: some brokers (Tansu 0.6) answer
        # ListOffsets(latest) with the last batch's base offset + 1, which under-reports multi-record batches.
        _, high = self._consumer.get_watermark_offsets(self._tp, cached=True)
        return high if high >= 0 else None

    def next_batch(self) -> list[Any]:  # KafkaRecord items, or KafkaChunk items with chunks=True
        if not self._draining and STOP.is_set():
            self._draining = True
        # Never block here: Bytewax polls every partition of a worker in turn, so a blocking wait per empty
        # partition adds up (4 partitions x 50 ms was a 200 ms hop). librdkafka prefetches in the background;
        # when nothing is there, next_awake() lets Bytewax sleep briefly instead.
        msgs = self._consumer.consume(self._batch_size, 0)
        batch: list[Any] = self._chunk(msgs) if self._chunks else self._records(msgs)
        high = self._fetched_high()
        if high is not None and self._offset >= 0:
            self._lag.set(max(0, high - self._offset))
        self._awake = None if batch else datetime.now(UTC) + _IDLE_WAIT
        if self._draining:
            if batch:
                self._idle_since = None
            elif self._idle_since is None:
                self._idle_since = time.monotonic()
            idle = self._idle_since is not None and time.monotonic() - self._idle_since >= _DRAIN_IDLE_S
            # End once caught up with the end offset fetches report and idle long enough for several fetch rounds
            # (fetch.wait.max.ms is 10 ms), so a stale watermark cannot end the drain early.
            if idle and high is not None and (self._offset < 0 or self._offset >= high):
                raise StopIteration
        return batch

    def _records(self, msgs: list[Any]) -> list[KafkaRecord]:
        batch = []
        for msg in msgs:
            if msg.error() is not None:
                continue  # transient broker errors: librdkafka retries; nothing was consumed
            batch.append(
                KafkaRecord(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value(), msg.timestamp()[1])
            )
            self._offset = msg.offset() + 1
        return batch

    def _chunk(self, msgs: list[Any]) -> list[KafkaChunk]:
        # The same records as _records() in two lists: three comprehensions instead of an object per record.
        good = [msg for msg in msgs if msg.error() is None]
        if not good:
            return []
        offsets = [msg.offset() for msg in good]
        self._offset = offsets[-1] + 1
        return [KafkaChunk(self._tp.topic, self._tp.partition, offsets, [msg.value() for msg in good])]

    def next_awake(self) -> datetime | None:
        return self._awake

    def snapshot(self) -> int:
        return self._offset

    def close(self) -> None:
        self._consumer.close()


class KafkaSource(FixedPartitionedSource[KafkaRecord, int]):
    """Read a set of topics; every (topic, partition) is one Bytewax partition.

    Args:
        bootstrap: broker list.
        topics: topics to read.
        tail: keep waiting for new records (True) or end at the end offsets seen at start-up (False).
        start: ``OFFSET_BEGINNING``, ``OFFSET_END`` or an absolute offset (ignored when resuming).
        batch_size: most records per poll.
        extra: extra librdkafka settings (security, tuning).
        chunks: yield one :class:`KafkaChunk` per poll instead of a :class:`KafkaRecord` per message.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        tail: bool = True,
        start: int = OFFSET_BEGINNING,
        batch_size: int = 5000,
        extra: dict[str, Any] | None = None,
        chunks: bool = False,
    ) -> None:
        self._bootstrap = bootstrap
        self._topics = list(topics)
        self._tail = tail
        self._start = start
        self._batch_size = batch_size
        self._extra = extra or {}
        self._chunks = chunks

    def list_parts(self) -> list[str]:
        admin = AdminClient(client_config(self._bootstrap, self._extra))
        meta = admin.list_topics(timeout=10)
        parts = []
        for topic in self._topics:
            tmeta = meta.topics.get(topic)
            if tmeta is None or tmeta.error is not None:
                continue  # a topic that does not exist yet has no partitions to read
            parts.extend(f"{p}-{topic}" for p in sorted(tmeta.partitions))
        return parts

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _Partition:
        idx, topic = for_part.split("-", 1)
        config = client_config(
            self._bootstrap,
            {
                "group.id": "pulsearb-unused",  # offsets live in Bytewax snapshots, not in a group
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "fetch.wait.max.ms": 10,
            },
        )
        config.update(self._extra)
        flow = step_id.split(".", 1)[0]
        return _Partition(
            config, topic, int(idx), self._start, resume_state, self._batch_size, self._tail, flow, self._chunks
        )


class _SinkPartition(StatelessSinkPartition[OutRecord]):
    # The broker gauge (pulsearb_endpoint_up{endpoint="broker"}) has one writer: flows.connectors.broker_health.
    def __init__(self, bootstrap: str, extra: dict[str, Any]) -> None:
        self.writer = KafkaWriter(bootstrap, extra)

    def write_batch(self, items: list[OutRecord]) -> None:
        for item in items:
            self.writer.produce(item.topic, item.key, item.value)
        # Delivered before the epoch (and the upstream offsets) can be committed: at-least-once.
        self.writer.flush()

    def close(self) -> None:
        self.writer.flush()


class KafkaSink(DynamicSink[OutRecord]):
    """Produce :class:`OutRecord` items with an idempotent producer; each batch is flushed before it returns."""

    def __init__(self, bootstrap: str, extra: dict[str, Any] | None = None) -> None:
        self._bootstrap = bootstrap
        self._extra = extra or {}

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _SinkPartition:
        return _SinkPartition(self._bootstrap, self._extra)
