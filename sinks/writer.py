"""Batched, retried, deduplicated writes of Kafka records into ClickHouse.

:class:`ArchiveWriter` keeps one batch of raw Avro payloads per table, holding the records of every (topic,
partition) that archives into it, and writes a batch when it reaches ``max_rows`` or ``max_age_s``, and everything
on :meth:`flush`. A batch is written without decoding it in Python: its bodies become one Avro container per writer
schema (:mod:`sinks.container`), inserted into the table's ``ingest_<table>`` in one INSERT, whose view converts
the rows into ``<table>`` (:mod:`sinks.ingest`). Each INSERT carries a deduplication token built from the batch's
(topic, partition, first offset, last offset) ranges, its rows and its schema, so a batch retried after a timeout,
or replayed in the same shape, is stored once; rows replayed in other batch shapes collapse on the
ReplacingMergeTree natural keys (read with FINAL). While the store is unavailable, writes are retried with capped
exponential backoff; nothing is dropped. A record ClickHouse cannot decode is found by decoding the container's
records in Python, handed to ``on_dead_letter`` and left out; the rest is written.

With ``background=True`` full batches are inserted by a worker thread (chdb and the HTTP client release the GIL
while ClickHouse works) while the caller goes on reading Kafka; at most one batch waits behind the one being
inserted, so a slow or unavailable store still holds the caller back. :meth:`flush` returns only when every
batch is stored, and re-raises a failure of the worker, so a snapshot never runs ahead of the store.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from base.errors import PulsearbError
from schemas.serde import codec, schema_topic
from sinks import container
from sinks.archive import table_for_topic
from sinks.clickhouse import SinkUnavailable, StoreError, insert_avro
from sinks.ingest import ingest_table

log = logging.getLogger(__name__)

DeadLetterFn = Callable[[str, int, int, bytes, BaseException], None]  # topic, partition, offset, payload, error


@dataclass(slots=True)
class _Segment:
    """Records of one (topic, partition) in a batch, in offset order."""

    schema_topic: str
    topic: str
    partition: int
    offsets: list[int] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)

    def as_tuple(self) -> container.Segment:
        return (self.schema_topic, self.topic, self.partition, self.offsets, self.payloads)


@dataclass(slots=True)
class _Batch:
    """Rows waiting for one table."""

    table: str
    segments: dict[tuple[str, int], _Segment] = field(default_factory=dict)
    rows: int = 0
    started: float = 0.0


@dataclass(slots=True)
class _Ready:
    """A batch turned into containers, waiting to be inserted."""

    table: str
    segments: list[_Segment]
    containers: list[tuple[bytes, int, bytes]]  # (fingerprint, rows, container) per writer schema


@dataclass(slots=True)
class WriterStats:
    """Counters of an ArchiveWriter."""

    rows: int = 0
    inserts: int = 0
    retries: int = 0
    dead_letters: int = 0
    rows_by_table: dict[str, int] = field(default_factory=dict)


def dedup_token(segments: Sequence[_Segment], rows: int, fp: bytes) -> str:
    """The INSERT's deduplication token: the batch's offset ranges, its rows of schema ``fp`` and ``fp``.

    One segment keeps the readable ``topic:partition:first-last:rows:fingerprint``; several are hashed, so the
    token stays short however many partitions a batch holds.
    """
    if len(segments) == 1:
        s = segments[0]
        return f"{s.topic}:{s.partition}:{s.offsets[0]}-{s.offsets[-1]}:{rows}:{fp.hex()}"
    ranges = ",".join(f"{s.topic}:{s.partition}:{s.offsets[0]}-{s.offsets[-1]}:{len(s.offsets)}" for s in segments)
    digest = hashlib.sha256(ranges.encode()).hexdigest()[:32]
    return f"{len(segments)}p:{digest}:{rows}:{fp.hex()}"


class ArchiveWriter:
    """Batch raw records per table and insert them into ``database``.

    Args:
        client_factory: opens a clickhouse-connect client (called again after the store was unavailable).
        database: target database.
        max_rows: write a batch at this many rows.
        max_age_s: write a batch this many seconds after its first row (checked on each add and flush_due).
        max_backoff_s: cap of the retry backoff while the store is unavailable, seconds.
        on_retry: called with each retry's error (metrics, health gauges).
        on_dead_letter: receives records ClickHouse cannot decode; without it such a batch raises StoreError.
        aliases: topic -> the topic whose schema and table it uses (staging or test topics).
        background: insert full batches from a worker thread (see the module docstring); the callbacks are then
            called from that thread.
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
        background: bool = False,
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
        self._routes: dict[str, tuple[str, str]] = {}  # topic -> (schema topic, table)
        self._batches: dict[str, _Batch] = {}
        self._lock = threading.Lock()  # guards stats against the worker thread
        self._queue: queue.Queue[_Ready | None] | None = None
        self._worker: threading.Thread | None = None
        self._failure: BaseException | None = None
        if background:
            self._queue = queue.Queue(maxsize=1)
            self._worker = threading.Thread(target=self._work, name="archive-writer", daemon=True)
            self._worker.start()
        self.stats = WriterStats()

    def schema_topic(self, topic: str) -> str:
        """The topic whose schema and table ``topic``'s records use."""
        return schema_topic(topic, self._aliases)

    def add(self, topic: str, partition: int, offset: int, payload: bytes) -> None:
        """Queue one record (an Avro single-object payload); writes its batch if it is full."""
        self.add_chunk(topic, partition, [offset], [payload])

    def add_many(self, topic: str, partition: int, items: Sequence[tuple[int, bytes]]) -> None:
        """Queue ``(offset, payload)`` records of one partition, in offset order; writes full batches."""
        self.add_chunk(topic, partition, [o for o, _ in items], [p for _, p in items])

    def add_chunk(self, topic: str, partition: int, offsets: Sequence[int], payloads: Sequence[bytes]) -> None:
        """Queue records of one partition given as parallel lists, in offset order; writes full batches."""
        self._raise_failure()
        route = self._routes.get(topic)
        if route is None:
            schema_topic = self.schema_topic(topic)
            route = self._routes[topic] = (schema_topic, table_for_topic(schema_topic))
        schema_topic, table = route
        start, n = 0, len(offsets)
        while start < n:
            batch = self._batches.get(table)
            if batch is None:
                batch = self._batches[table] = _Batch(table, started=time.monotonic())
            seg = batch.segments.get((topic, partition))
            if seg is None:
                seg = batch.segments[(topic, partition)] = _Segment(schema_topic, topic, partition)
            take = min(n - start, self._max_rows - batch.rows)
            seg.offsets += offsets[start : start + take]
            seg.payloads += payloads[start : start + take]
            batch.rows += take
            start += take
            if batch.rows >= self._max_rows:
                self._submit(self._batches.pop(table))

    def flush_due(self) -> None:
        """Write batches older than ``max_age_s``."""
        self._raise_failure()
        now = time.monotonic()
        for table in [t for t, b in self._batches.items() if now - b.started >= self._max_age_s]:
            self._submit(self._batches.pop(table))

    def flush(self) -> None:
        """Write every pending batch and wait until it is stored (called before a snapshot commits offsets).

        Raises:
            StoreError: a batch was rejected for a reason other than undecodable records (here or in the worker).
        """
        for table in list(self._batches):
            self._submit(self._batches.pop(table))
        if self._queue is not None:
            self._queue.join()
        self._raise_failure()

    def rows_by_table(self) -> dict[str, int]:
        """A copy of the rows stored so far per table (safe while the worker thread writes)."""
        with self._lock:
            return dict(self.stats.rows_by_table)

    @property
    def pending(self) -> int:
        """Rows queued and not yet written (batches being inserted by the worker are not counted)."""
        return sum(b.rows for b in self._batches.values())

    def close(self) -> None:
        """Flush, stop the worker and release the client."""
        try:
            self.flush()
        finally:
            if self._queue is not None and self._worker is not None:
                if self._worker.is_alive():
                    self._queue.put(None)
                    self._worker.join()
                self._queue = None
            self._drop_client()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _submit(self, batch: _Batch) -> None:
        # Containers are built here, so the worker only inserts: it is the slower side.
        segments = [s for s in batch.segments.values() if s.offsets]
        if not segments:
            return
        ready = _Ready(batch.table, segments, container.build_batch(time.time_ns(), [s.as_tuple() for s in segments]))
        if self._queue is None:
            self._write(ready)
            return
        self._raise_failure()
        self._queue.put(ready)  # blocks while a batch waits already: backpressure on the caller

    def _work(self) -> None:
        assert self._queue is not None
        try:
            self._client = self._factory()  # open the store while the first batch fills
        except SinkUnavailable:
            self._client = None  # the first insert retries and reports it
        except BaseException as exc:  # a bad DSN: reported to the caller; the loop below still drains the queue
            self._failure = exc
        while True:
            ready = self._queue.get()
            try:
                if ready is None:
                    return
                if self._failure is None:  # after a failure, later batches wait for the replay instead
                    self._write(ready)
            except BaseException as exc:  # handed to the caller's thread by _raise_failure
                self._failure = exc
            finally:
                self._queue.task_done()

    def _drop_client(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def _write(self, ready: _Ready) -> None:
        target = f"{self._database}.{ingest_table(ready.table)}"
        written = 0
        for fp, rows, blob in ready.containers:
            try:
                self._insert_retrying(target, blob, dedup_token(ready.segments, rows, fp))
                written += rows
            except StoreError as exc:
                written += self._retry_without_undecodable(target, ready.segments, fp, exc)
        with self._lock:
            self.stats.rows += written
            self.stats.rows_by_table[ready.table] = self.stats.rows_by_table.get(ready.table, 0) + written

    def _retry_without_undecodable(self, target: str, segments: list[_Segment], fp: bytes, exc: StoreError) -> int:
        """Decode the rows of schema ``fp`` in Python, dead-letter the bad ones, insert the rest; rows inserted."""
        good: list[_Segment] = []
        total = dropped = 0
        for seg in segments:
            c = codec(seg.schema_topic)
            kept = _Segment(seg.schema_topic, seg.topic, seg.partition)
            for offset, payload in zip(seg.offsets, seg.payloads, strict=True):
                if payload[2 : container.HEADER_LEN] != fp:
                    continue
                total += 1
                try:
                    c.decode(payload)
                except PulsearbError as err:
                    if self._on_dead_letter is None:
                        raise
                    self._on_dead_letter(seg.topic, seg.partition, offset, payload, err)
                    with self._lock:
                        self.stats.dead_letters += 1
                    dropped += 1
                    continue
                kept.offsets.append(offset)
                kept.payloads.append(payload)
            if kept.offsets:
                good.append(kept)
        if not dropped:
            raise exc  # every record decodes: the store rejected the batch for another reason (schema drift)
        log.warning("%s: %d records ClickHouse could not decode went to the dead letters: %s", target, dropped, exc)
        if not good:
            return 0
        [(_, rows, blob)] = container.build_batch(time.time_ns(), [s.as_tuple() for s in good])
        self._insert_retrying(target, blob, dedup_token(good, rows, fp))
        return rows

    def _insert_retrying(self, target: str, blob: bytes, token: str) -> None:
        delay = 0.1
        while True:
            try:
                if self._client is None:
                    self._client = self._factory()
                insert_avro(self._client, target, blob, dedup_token=token)
                with self._lock:
                    self.stats.inserts += 1
                return
            except SinkUnavailable as exc:
                with self._lock:
                    self.stats.retries += 1
                if self._on_retry:
                    self._on_retry(exc)
                log.warning("store unavailable, retrying in %.1fs: %s", delay, exc)
                self._drop_client()
                time.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
