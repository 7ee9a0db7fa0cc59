"""Batched, retried, deduplicated writes of topic records into ClickHouse.

:class:`ArchiveWriter` keeps one batch per (topic, partition), flushes a batch when it reaches ``max_rows`` or
``max_age_s``, and on :meth:`flush` writes everything pending with one INSERT per batch. Each INSERT carries a
deduplication token built from (topic, partition, first offset, last offset), so a batch retried after a timeout
is stored once; rows replayed in other batch shapes collapse on the ReplacingMergeTree natural keys (read FINAL).
While the store is unavailable, writes are retried with capped exponential backoff; nothing is dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sinks.archive import to_columns
from sinks.clickhouse import SinkUnavailable, insert_rows

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Batch:
    items: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)
    started: float = 0.0


@dataclass(slots=True)
class WriterStats:
    """Counters of an ArchiveWriter."""

    rows: int = 0
    inserts: int = 0
    retries: int = 0
    rows_by_table: dict[str, int] = field(default_factory=dict)


class ArchiveWriter:
    """Batch records per (topic, partition) and insert them into ``database``.

    Args:
        client_factory: opens a clickhouse-connect client (called again after the store was unavailable).
        database: target database.
        max_rows: flush a batch at this many rows.
        max_age_s: flush a batch this long after its first row.
        max_backoff_s: cap of the retry backoff while the store is unavailable.
        on_retry: called with each retry's error (for metrics).
    """

    def __init__(
        self,
        client_factory: Callable[[], Any],
        database: str = "pulsearb",
        max_rows: int = 50_000,
        max_age_s: float = 1.0,
        max_backoff_s: float = 10.0,
        on_retry: Callable[[SinkUnavailable], None] | None = None,
    ) -> None:
        self._factory = client_factory
        self._client: Any | None = None
        self._database = database
        self._max_rows = max_rows
        self._max_age_s = max_age_s
        self._max_backoff_s = max_backoff_s
        self._on_retry = on_retry
        self._batches: dict[tuple[str, int], _Batch] = {}
        self.stats = WriterStats()

    def add(self, topic: str, partition: int, offset: int, record: dict[str, Any]) -> None:
        """Queue one record; writes the batch if it is full or old."""
        key = (topic, partition)
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = _Batch(started=time.monotonic())
        batch.items.append((partition, offset, record))
        if len(batch.items) >= self._max_rows:
            self._write(topic, self._batches.pop(key))

    def flush_due(self) -> None:
        """Write batches older than ``max_age_s``."""
        now = time.monotonic()
        for key in [k for k, b in self._batches.items() if now - b.started >= self._max_age_s]:
            self._write(key[0], self._batches.pop(key))

    def flush(self) -> None:
        """Write every pending batch (called before a snapshot commits the consumed offsets)."""
        for key in list(self._batches):
            self._write(key[0], self._batches.pop(key))

    @property
    def pending(self) -> int:
        """Rows queued and not yet written."""
        return sum(len(b.items) for b in self._batches.values())

    def close(self) -> None:
        """Flush and release the client."""
        self.flush()
        if self._client is not None:
            self._client.close()
            self._client = None

    def _write(self, topic: str, batch: _Batch) -> None:
        if not batch.items:
            return
        table, columns, rows = to_columns(topic, batch.items)
        partition = batch.items[0][0]
        token = f"{topic}:{partition}:{batch.items[0][1]}-{batch.items[-1][1]}:{len(rows)}"
        delay = 0.1
        while True:
            try:
                if self._client is None:
                    self._client = self._factory()
                insert_rows(self._client, f"{self._database}.{table}", columns, rows, dedup_token=token)
                break
            except SinkUnavailable as exc:
                self.stats.retries += 1
                if self._on_retry:
                    self._on_retry(exc)
                log.warning("store unavailable, retrying in %.1fs: %s", delay, exc)
                if self._client is not None:
                    try:
                        self._client.close()
                    finally:
                        self._client = None
                time.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
        self.stats.rows += len(rows)
        self.stats.inserts += 1
        self.stats.rows_by_table[table] = self.stats.rows_by_table.get(table, 0) + len(rows)
