"""Batched, retried, deduplicated writes of Kafka records into ClickHouse.

:class:`ArchiveWriter` keeps one batch of raw Avro payloads per (topic, partition) and writes a batch when it
reaches ``max_rows`` or ``max_age_s``, and everything on :meth:`flush`. A batch is written without decoding it in
Python: its bodies become one Avro container per writer schema (:mod:`sinks.container`), inserted into the topic's
``ingest_<table>``, whose view converts the rows into ``<table>`` (:mod:`sinks.ingest`). Each INSERT carries a
deduplication token built from (topic, partition, first offset, last offset, rows, schema), so a batch retried
after a timeout, or replayed in the same shape, is stored once; rows replayed in other batch shapes collapse on
the ReplacingMergeTree natural keys (read with FINAL). While the store is unavailable, writes are retried with
capped exponential backoff; nothing is dropped. A record ClickHouse cannot decode is found by decoding the batch in
Python, handed to ``on_dead_letter`` and left out; the rest of the batch is written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flows.errors import PulsearbError
from schemas.serde import codec
from sinks import container
from sinks.archive import schema_topic_for, table_for_topic
from sinks.clickhouse import SinkUnavailable, StoreError, insert_avro
from sinks.ingest import ingest_table

log = logging.getLogger(__name__)

DeadLetterFn = Callable[[str, int, int, bytes, BaseException], None]  # topic, partition, offset, payload, error


@dataclass(slots=True)
class _Batch:
    items: list[tuple[int, bytes]] = field(default_factory=list)
    started: float = 0.0


@dataclass(slots=True)
class WriterStats:
    """Counters of an ArchiveWriter."""

    rows: int = 0
    inserts: int = 0
    retries: int = 0
    dead_letters: int = 0
    rows_by_table: dict[str, int] = field(default_factory=dict)


class ArchiveWriter:
    """Batch raw records per (topic, partition) and insert them into ``database``.

    Args:
        client_factory: opens a clickhouse-connect client (called again after the store was unavailable).
        database: target database.
        max_rows: write a batch at this many rows.
        max_age_s: write a batch this many seconds after its first row (checked on each add and flush_due).
        max_backoff_s: cap of the retry backoff while the store is unavailable, seconds.
        on_retry: called with each retry's error (metrics, health gauges).
        on_dead_letter: receives records ClickHouse cannot decode; without it such a batch raises StoreError.
        aliases: topic -> the topic whose schema and table it uses (staging or test topics).
    """

    def __init__(
        self,
        client_factory: Callable[[], Any],
        database: str = "pulsearb",
        max_rows: int = 50_000,
        max_age_s: float = 1.0,
        max_backoff_s: float = 10.0,
        on_retry: Callable[[SinkUnavailable], None] | None = None,
        on_dead_letter: DeadLetterFn | None = None,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self._factory = client_factory
        self._client: Any | None = None
        self._database = database
        self._max_rows = max_rows
        self._max_age_s = max_age_s
        self._max_backoff_s = max_backoff_s
        self._on_retry = on_retry
        self._on_dead_letter = on_dead_letter
        self._aliases = dict(aliases or {})
        self._batches: dict[tuple[str, int], _Batch] = {}
        self.stats = WriterStats()

    def schema_topic(self, topic: str) -> str:
        """The topic whose schema and table ``topic``'s records use."""
        return schema_topic_for(topic, self._aliases)

    def add(self, topic: str, partition: int, offset: int, payload: bytes) -> None:
        """Queue one record (an Avro single-object payload); writes its batch if it is full."""
        self.add_many(topic, partition, [(offset, payload)])

    def add_many(self, topic: str, partition: int, items: Sequence[tuple[int, bytes]]) -> None:
        """Queue ``(offset, payload)`` records of one partition, in offset order; writes full batches."""
        key = (topic, partition)
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = _Batch(started=time.monotonic())
        batch.items.extend(items)
        while len(batch.items) >= self._max_rows:
            head = _Batch(batch.items[: self._max_rows], batch.started)
            batch.items = batch.items[self._max_rows :]
            batch.started = time.monotonic()
            self._write(topic, partition, head)
        if not batch.items:
            del self._batches[key]

    def flush_due(self) -> None:
        """Write batches older than ``max_age_s``."""
        now = time.monotonic()
        for key in [k for k, b in self._batches.items() if now - b.started >= self._max_age_s]:
            self._write(key[0], key[1], self._batches.pop(key))

    def flush(self) -> None:
        """Write every pending batch (called before a snapshot commits the consumed offsets)."""
        for key in list(self._batches):
            self._write(key[0], key[1], self._batches.pop(key))

    @property
    def pending(self) -> int:
        """Rows queued and not yet written."""
        return sum(len(b.items) for b in self._batches.values())

    def close(self) -> None:
        """Flush and release the client."""
        try:
            self.flush()
        finally:
            self._drop_client()

    def _drop_client(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def _write(self, topic: str, partition: int, batch: _Batch) -> None:
        if not batch.items:
            return
        schema_topic = self.schema_topic(topic)
        table = table_for_topic(schema_topic)
        try:
            self._insert(topic, partition, schema_topic, batch.items)
        except StoreError as exc:
            good = self._drop_undecodable(topic, partition, schema_topic, batch.items)
            if len(good) == len(batch.items):
                raise  # every record decodes: the store rejected the batch for another reason (schema drift)
            dropped = len(batch.items) - len(good)
            log.warning("%s: %d records ClickHouse could not decode went to the dead letters: %s", topic, dropped, exc)
            if good:
                self._insert(topic, partition, schema_topic, good)
            batch.items = good
        self.stats.rows += len(batch.items)
        self.stats.rows_by_table[table] = self.stats.rows_by_table.get(table, 0) + len(batch.items)

    def _insert(self, topic: str, partition: int, schema_topic: str, items: list[tuple[int, bytes]]) -> None:
        target = f"{self._database}.{ingest_table(table_for_topic(schema_topic))}"
        blobs = container.build(schema_topic, topic, partition, time.time_ns(), items)
        for fp, rows, blob in blobs:
            token = f"{topic}:{partition}:{items[0][0]}-{items[-1][0]}:{rows}:{fp.hex()}"
            self._insert_retrying(target, blob, token)
            self.stats.inserts += 1

    def _insert_retrying(self, target: str, blob: bytes, token: str) -> None:
        delay = 0.1
        while True:
            try:
                if self._client is None:
                    self._client = self._factory()
                insert_avro(self._client, target, blob, dedup_token=token)
                return
            except SinkUnavailable as exc:
                self.stats.retries += 1
                if self._on_retry:
                    self._on_retry(exc)
                log.warning("store unavailable, retrying in %.1fs: %s", delay, exc)
                self._drop_client()
                time.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)

    def _drop_undecodable(
        self, topic: str, partition: int, schema_topic: str, items: list[tuple[int, bytes]]
    ) -> list[tuple[int, bytes]]:
        """Decode each record in Python; report those that fail and return the rest."""
        c = codec(schema_topic)
        good = []
        for offset, payload in items:
            try:
                c.decode(payload)
            except PulsearbError as exc:
                if self._on_dead_letter is None:
                    raise
                self._on_dead_letter(topic, partition, offset, payload, exc)
                self.stats.dead_letters += 1
                continue
            good.append((offset, payload))
        return good
