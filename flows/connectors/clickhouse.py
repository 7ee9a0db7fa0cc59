"""ClickHouse sink for Bytewax: batches in :class:`sinks.writer.ArchiveWriter`, flushed before each snapshot.

Items are chunks ``(topic, partition, offsets, payloads)`` of raw Avro payloads whose headers the flow already
checked (one per Kafka poll of a partition). Batches are inserted by the writer's worker thread while the flow
reads on; the snapshot waits for them. Records ClickHouse still cannot decode become dead letters on
``dlq_topic``, produced and flushed before the snapshot too, so neither rows nor dead letters are lost across a
crash.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from flows.deadletter import dead_letter
from flows.metrics import DEAD_LETTERS, ENDPOINT_UP, RECORDS_OUT, STORE_RETRIES
from schemas.serde import codec
from sinks.clickhouse import SinkUnavailable, connect
from sinks.kafka import KafkaWriter
from sinks.writer import ArchiveWriter

ArchiveChunk = tuple[str, int, list[int], list[bytes]]  # topic, partition, offsets, payloads (in offset order)


@dataclass(frozen=True, slots=True)
class SinkConfig:
    """Where and how the archive writes.

    Args:
        dsn: ClickHouse DSN (``chdb://PATH`` or ``http(s)://...``).
        database: target database.
        flow: flow name (metrics labels, dead letters).
        max_rows: rows per INSERT at most (per topic partition).
        max_age_s: seconds a row may wait for its batch to fill.
        max_backoff_s: cap of the retry backoff while the store is down, seconds.
        aliases: topic -> topic whose schema and table it uses.
        bootstrap: Kafka servers for dead letters ('' to raise instead).
        dlq_topic: where undecodable records go.
        kafka_extra: extra librdkafka settings.
    """

    dsn: str
    database: str = "pulsearb"
    flow: str = "archive"
    max_rows: int = 50_000
    max_age_s: float = 0.5
    max_backoff_s: float = 10.0
    aliases: Mapping[str, str] = field(default_factory=dict)
    bootstrap: str = ""
    dlq_topic: str = "dlq.archive"
    kafka_extra: Mapping[str, Any] = field(default_factory=dict)


class _Partition(StatefulSinkPartition[ArchiveChunk, None]):
    def __init__(self, cfg: SinkConfig) -> None:
        self._cfg = cfg
        self._dlq = KafkaWriter(cfg.bootstrap, dict(cfg.kafka_extra)) if cfg.bootstrap else None
        self._up = ENDPOINT_UP.labels(cfg.flow, "store")
        self._retries = STORE_RETRIES.labels(cfg.flow)
        self._counted: dict[str, int] = {}
        self.writer = ArchiveWriter(
            lambda: connect(cfg.dsn),
            cfg.database,
            max_rows=cfg.max_rows,
            max_age_s=cfg.max_age_s,
            max_backoff_s=cfg.max_backoff_s,
            on_retry=self._on_retry,
            on_dead_letter=self._on_dead_letter if self._dlq else None,
            aliases=cfg.aliases,
            background=True,
        )

    def _on_retry(self, _exc: SinkUnavailable) -> None:
        self._up.set(0)
        self._retries.inc()

    def _on_dead_letter(self, topic: str, partition: int, offset: int, payload: bytes, error: BaseException) -> None:
        assert self._dlq is not None
        rec = dead_letter(
            flow=self._cfg.flow,
            stage="store",
            error=error,
            raw=payload,
            received_ns=time.time_ns(),
            source_topic=topic,
            partition=partition,
            offset=offset,
        )
        self._dlq.produce(self._cfg.dlq_topic, None, codec(self._cfg.dlq_topic).encode(rec))
        DEAD_LETTERS.labels(self._cfg.flow, "store").inc()

    def _count(self) -> None:
        # Rows the writer (or its worker thread) stored since the last count.
        stored = self.writer.rows_by_table()
        for table, n in stored.items():
            if n != self._counted.get(table, 0):
                RECORDS_OUT.labels(self._cfg.flow, table).inc(n - self._counted.get(table, 0))
        if stored != self._counted:
            self._up.set(1)
        self._counted = stored

    def write_batch(self, values: list[ArchiveChunk]) -> None:
        for topic, partition, offsets, payloads in values:
            self.writer.add_chunk(topic, partition, offsets, payloads)
        self.writer.flush_due()
        self._count()

    def snapshot(self) -> None:
        # Rows (and dead letters) are stored before the snapshot that advances the source offsets: at-least-once.
        self.writer.flush()
        if self._dlq is not None:
            self._dlq.flush()
        self._count()
        self._up.set(1)

    def close(self) -> None:
        self.writer.close()
        if self._dlq is not None:
            self._dlq.flush()


class ClickHouseSink(FixedPartitionedSink[ArchiveChunk, None]):
    """Insert archive chunks into ClickHouse. One partition: the embedded store has a single owner process."""

    def __init__(self, cfg: SinkConfig) -> None:
        self._cfg = cfg

    def list_parts(self) -> list[str]:
        return ["archive"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Partition:
        return _Partition(self._cfg)
