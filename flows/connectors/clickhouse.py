"""ClickHouse sink for Bytewax: batches in :class:`sinks.writer.ArchiveWriter`, flushed before each snapshot."""

from __future__ import annotations

from typing import Any

from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from sinks.clickhouse import connect
from sinks.writer import ArchiveWriter

ArchiveItem = tuple[str, int, int, dict[str, Any]]  # topic, partition, offset, record


class _Partition(StatefulSinkPartition[ArchiveItem, None]):
    def __init__(self, dsn: str, database: str, max_rows: int, max_age_s: float) -> None:
        self.writer = ArchiveWriter(lambda: connect(dsn), database, max_rows=max_rows, max_age_s=max_age_s)

    def write_batch(self, values: list[ArchiveItem]) -> None:
        for topic, partition, offset, record in values:
            self.writer.add(topic, partition, offset, record)
        self.writer.flush_due()

    def snapshot(self) -> None:
        # Rows are in the store before the snapshot that advances the source offsets: at-least-once.
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class ClickHouseSink(FixedPartitionedSink[ArchiveItem, None]):
    """Insert archive items into ClickHouse. One partition: the embedded store has a single owner process."""

    def __init__(self, dsn: str, database: str = "pulsearb", max_rows: int = 50_000, max_age_s: float = 0.5) -> None:
        self._dsn = dsn
        self._database = database
        self._max_rows = max_rows
        self._max_age_s = max_age_s

    def list_parts(self) -> list[str]:
        return ["archive"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Partition:
        return _Partition(self._dsn, self._database, self._max_rows, self._max_age_s)
