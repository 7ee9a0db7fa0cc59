"""The archive as a backtest reads and writes it: market records back in event order, opportunities under a run id.

Reading inverts the archive's own mapping: the SELECT of each table is generated from the topic's Avro schema by
:func:`sinks.ingest.record_selects` (the inverse of the ingest view that wrote the rows), so a row comes back as the
record the detector decoded from Kafka, field for field. Tables are read with ``FINAL`` (one row per natural key,
however often a record was archived) in time windows of about ``window_rows`` rows, each window's tables merged in
event order: (header timestamp, source, sequence), then topic and the table's own sorting key, a total order.

Writing: a backtest's opportunities go to ``arb_opportunity`` with ``run_id`` set (live rows have ``''``, the
column default of migration 005), in the archive's column mapping (:func:`sinks.archive.to_row`).
"""

from __future__ import annotations

import gc
import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

from schemas.serde import codec
from sinks.archive import mapping, table_for_topic, to_row
from sinks.clickhouse import StoreError, insert_rows, query_columns, query_rows
from sinks.ingest import record_selects

Item = tuple[str, dict[str, Any]]
"""``(schema topic, record)``."""


@dataclass(frozen=True, slots=True)
class TopicRange:
    """What the archive holds of one topic in the selected time range (after deduplication)."""

    topic: str
    rows: int
    first_ns: int
    last_ns: int


@dataclass(frozen=True, slots=True)
class _TableQuery:
    topic: str
    table: str
    names: tuple[str, ...]
    sql: str  # with {since:Int64} and {until:Int64}
    fill: tuple[tuple[str, Any], ...]  # fields the table lacks, with their schema defaults
    nested: tuple[tuple[str, Callable[[Any], Any]], ...]  # tuples -> records


def _nested(avro_type: Any) -> Callable[[Any], Any] | None:
    """Converter of a value ClickHouse returns as tuples back into Avro records, and of a nullable array's ``[]``
    (how the ingest stores null) back into null; None when the value needs none."""
    if isinstance(avro_type, dict) and avro_type.get("type") == "record":
        names = [f["name"] for f in avro_type["fields"]]
        return lambda v: v if isinstance(v, dict) else dict(zip(names, v, strict=True))
    if isinstance(avro_type, dict) and avro_type.get("type") == "array":
        inner = _nested(avro_type["items"])
        return (lambda v: [inner(x) for x in v]) if inner else None
    if isinstance(avro_type, list):
        branch = next((x for x in avro_type if x != "null"), None)
        if isinstance(branch, dict) and branch.get("type") == "array":
            inner = _nested(branch) or list
            return lambda v: inner(v) if v else None
    return None


def _columns(client: Any, db: str, table: str) -> tuple[set[str], str]:
    _, rows = query_rows(
        client,
        "SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String}",
        {"db": db, "t": table},
    )
    _, keys = query_rows(
        client,
        "SELECT sorting_key FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        {"db": db, "t": table},
    )
    if not rows or not keys:
        msg = f"the archive has no table {db}.{table}: run `pulsearb db migrate` on this store"
        raise StoreError(msg)
    return {r[0] for r in rows}, str(keys[0][0])


def _split_key(sorting_key: str) -> list[str]:
    """The columns of a plain sorting key (``pool, source, sequence, timestamp_ns``)."""
    return [k.strip() for k in sorting_key.split(",") if k.strip()]


def table_query(client: Any, db: str, topic: str) -> _TableQuery:
    """The SELECT that reads a topic's records back from its table, in event order, within a time range.

    Raises:
        StoreError: the table is missing, or lacks a field that has no default in the schema.
    """
    schema = codec(topic).schema
    table = table_for_topic(topic)
    present, sorting_key = _columns(client, db, table)
    selects, fill = [], []
    for name, expr in record_selects(schema):
        if name in present:
            selects.append(f"{expr} AS {name}" if expr != name else name)
            continue
        field = next(f for f in schema["fields"] if f["name"] == name)
        if "default" not in field:
            msg = f"{db}.{table} has no column {name!r} (schema {topic}): run `pulsearb db migrate` on this store"
            raise StoreError(msg)
        fill.append((name, field["default"]))
    nested = tuple((f["name"], c) for f in schema["fields"] if (c := _nested(f["type"])) is not None)
    sql = (
        f"SELECT {', '.join(selects)} FROM {db}.{table} FINAL "
        "WHERE timestamp_ns >= {since:Int64} AND timestamp_ns < {until:Int64} "
        f"ORDER BY {', '.join(dict.fromkeys(['timestamp_ns', 'source', 'sequence', *_split_key(sorting_key)]))}"
    )
    names = tuple(n for n, _ in record_selects(schema) if n in present)
    return _TableQuery(topic, table, names, sql, tuple(fill), nested)


def ranges(client: Any, db: str, topics: Sequence[str], since_ns: int, until_ns: int) -> list[TopicRange]:
    """Rows and first/last event time per topic in ``[since_ns, until_ns)``, deduplicated (``FINAL``)."""
    out = []
    for topic in topics:
        table = table_for_topic(topic)
        _columns(client, db, table)
        _, rows = query_rows(
            client,
            f"SELECT count(), min(timestamp_ns), max(timestamp_ns) FROM {db}.{table} FINAL "
            "WHERE timestamp_ns >= {since:Int64} AND timestamp_ns < {until:Int64}",
            {"since": since_ns, "until": until_ns},
        )
        n, first, last = rows[0]
        out.append(TopicRange(topic, int(n), int(first) if n else 0, int(last) if n else 0))
    return out


def windows(found: Sequence[TopicRange], window_rows: int) -> list[tuple[int, int]]:
    """Split the event-time span of ``found`` into ``[start, end)`` windows of about ``window_rows`` rows each
    (evenly in time: a burst makes its window larger, never a row lost)."""
    held = [r for r in found if r.rows]
    if not held:
        return []
    first = min(r.first_ns for r in held)
    end = max(r.last_ns for r in held) + 1
    count = max(1, math.ceil(sum(r.rows for r in held) / max(1, window_rows)))
    step = max(1, math.ceil((end - first) / count))
    return [(a, min(a + step, end)) for a in range(first, end, step)]


@dataclass(slots=True)
class _Part:
    """One table's records of a window, in the table's order, with the columns of the merge key."""

    rank: int
    topic: str
    records: list[dict[str, Any]]
    timestamp_ns: Sequence[int]
    source: Sequence[int]
    sequence: Sequence[int]


def _read(client: Any, q: _TableQuery, rank: int, start: int, end: int) -> _Part | None:
    """A table's records in ``[start, end)``, built column by column (no tuple per row); None when it has none."""
    names, cols = query_columns(client, q.sql, {"since": start, "until": end})
    if not cols or not len(cols[0]):
        return None
    at = {n: i for i, n in enumerate(names)}
    cols = list(cols)
    fills = dict(q.fill)
    for name, convert in q.nested:
        if name in at:
            cols[at[name]] = [convert(v) for v in cols[at[name]]]
        else:  # a default: one conversion serves every row
            fills[name] = convert(fills[name])
    keys = (*q.names, *fills)
    rows = zip(*cols, *(repeat(v, len(cols[0])) for v in fills.values()), strict=True)
    records = [dict(zip(keys, row, strict=True)) for row in rows]
    return _Part(rank, q.topic, records, cols[at["timestamp_ns"]], cols[at["source"]], cols[at["sequence"]])


def _merged(parts: list[_Part]) -> list[Item]:
    """The parts' records in event order: (header timestamp, source, sequence), then the topic's rank.

    Each part is in that order already (its SELECT's ORDER BY starts with those columns); a stable sort of the
    concatenation (numpy's lexsort is stable) keeps each table's own order among equal keys.
    """
    if len(parts) == 1:
        topic = parts[0].topic
        return [(topic, r) for r in parts[0].records]
    order = np.lexsort(
        (
            np.concatenate([np.full(len(p.records), p.rank, dtype=np.int64) for p in parts]),
            np.concatenate([np.asarray(p.sequence, dtype=np.uint64) for p in parts]),
            np.concatenate([np.asarray(p.source, dtype=np.int64) for p in parts]),
            np.concatenate([np.asarray(p.timestamp_ns, dtype=np.int64) for p in parts]),
        )
    )
    items = [(p.topic, r) for p in parts for r in p.records]
    return [items[i] for i in order.tolist()]


def read_records(
    client: Any,
    db: str,
    topics: Sequence[str],
    since_ns: int,
    until_ns: int,
    *,
    window_rows: int = 50_000,
    found: Sequence[TopicRange] | None = None,
) -> Iterator[list[Item]]:
    """The archived records of ``topics`` in ``[since_ns, until_ns)``, deduplicated, in event order, a window's
    worth (a list) at a time.

    Args:
        client: an open clickhouse-connect client.
        db: the archive database.
        topics: schema topics (``market.pool_sync``, ...).
        since_ns: first event time (header timestamp), ns since epoch.
        until_ns: end of the range (exclusive).
        window_rows: about how many rows to hold in memory at once.
        found: :func:`ranges` of the same arguments, when the caller has it already.

    Raises:
        StoreError: a table is missing or the store rejects a query.
    """
    queries = [table_query(client, db, t) for t in topics]
    found = found if found is not None else ranges(client, db, topics, since_ns, until_ns)
    held = {r.topic for r in found if r.rows}
    queries = [q for q in queries if q.topic in held]
    for start, end in windows(found, window_rows):
        with _no_cyclic_gc():
            parts = [
                part
                for rank, q in enumerate(queries)
                if (part := _read(client, q, rank, max(start, since_ns), min(end, until_ns))) is not None
            ]
            window = _merged(parts) if parts else []
        if window:
            yield window


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a window's records are built: tens of thousands of dicts that are
    all kept (and hold no cycles) make it scan the growing heap again and again, about a third of the read."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_writable(client: Any, db: str) -> None:
    """Raise unless ``arb_opportunity`` has the ``run_id`` column (migration 005).

    Raises:
        StoreError: it has not (names the command that adds it).
    """
    columns, _key = _columns(client, db, "arb_opportunity")
    if "run_id" not in columns:
        msg = f"{db}.arb_opportunity has no run_id column for backtest rows: run `pulsearb db migrate` on this store"
        raise StoreError(msg)


def write_opportunities(client: Any, db: str, run_id: str, records: Sequence[dict[str, Any]]) -> int:
    """Insert a backtest's ``arb.opportunity`` records under ``run_id``; return how many were written.

    Rows use the archive's column mapping; their Kafka coordinates are ``('backtest', 0, i)`` (they never were in
    Kafka). Re-running with the same run id and result stores nothing twice (a deduplication token per insert,
    and ``(id, run_id)`` is the table's key).

    Raises:
        ValueError: ``run_id`` is empty (the live rows' run id).
        SinkUnavailable, StoreError: the store could not take them.
    """
    if not run_id:
        msg = "a backtest run id must not be empty: '' is the live rows' run id"
        raise ValueError(msg)
    if not records:
        return 0
    m = mapping("arb.opportunity")
    # to_row ends with the Kafka coordinates: these rows never were in Kafka.
    rows = [(*to_row("arb.opportunity", 0, i, rec)[:-3], "backtest", 0, i, run_id) for i, rec in enumerate(records)]
    token = hashlib.sha256("\n".join([run_id, *(r["id"] for r in records)]).encode()).hexdigest()
    insert_rows(client, f"{db}.{m.table}", (*m.columns, "run_id"), rows, dedup_token=f"backtest:{token}")
    return len(rows)


__all__ = [
    "Item",
    "TopicRange",
    "check_writable",
    "ranges",
    "read_records",
    "table_query",
    "windows",
    "write_opportunities",
]
