"""Pure mapping from topic records to ClickHouse rows (no I/O, testable without a database).

Column names equal the Avro field names; UInt256/Int256 fixed fields become Python ints, nested records become
tuples, and every row gets its Kafka coordinates. ``dlq.*`` topics share the ``dead_letter`` table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from schemas.serde import codec, from_i256, from_u256

KAFKA_COLUMNS = ("kafka_topic", "kafka_partition", "kafka_offset")


def table_for_topic(topic: str) -> str:
    """The archive table of a topic: ``market.pool_sync`` -> ``market_pool_sync``, ``dlq.*`` -> ``dead_letter``."""
    return "dead_letter" if topic.startswith("dlq.") else topic.replace(".", "_")


def _venue_name(venue: int) -> str:
    from base.venues import VenueId

    try:
        return VenueId(venue).name
    except ValueError:
        return f"venue_{venue}"


def _converter(avro_type: Any) -> Callable[[Any], Any] | None:
    """Return a value converter for an Avro field type, or None when the value goes in as is."""
    if isinstance(avro_type, dict):
        kind = avro_type.get("type")
        name = avro_type.get("name", "")
        if kind == "fixed":
            return from_i256 if name.endswith("Int256") and not name.endswith("UInt256") else from_u256
        if kind == "array":
            inner = _converter(avro_type["items"])
            return (lambda v: [inner(x) for x in v]) if inner else None
        if kind == "record":
            parts = [(f["name"], _converter(f["type"])) for f in avro_type["fields"]]
            return lambda v: tuple(v[n] if c is None else c(v[n]) for n, c in parts)
        return None
    if isinstance(avro_type, list):  # nullable union: convert the non-null branch
        inner = next((_converter(t) for t in avro_type if t != "null"), None)
        return (lambda v: None if v is None else inner(v)) if inner else None
    if isinstance(avro_type, str) and avro_type.endswith("Int256"):
        return from_i256 if not avro_type.endswith("UInt256") else from_u256
    return None


@dataclass(frozen=True, slots=True)
class TableMapping:
    """How one topic's records become rows of one table."""

    table: str
    columns: tuple[str, ...]
    fields: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    with_venue_name: bool
    dlq_topic: bool


@cache
def mapping(topic: str) -> TableMapping:
    """Build (once per topic) the column list and converters from the topic's Avro schema."""
    schema = codec(topic).schema
    fields = tuple((f["name"], _converter(f["type"])) for f in schema["fields"])
    names = [n for n, _ in fields]
    with_venue_name = "venue" in names
    dlq = topic.startswith("dlq.")
    columns = (
        (("dlq_topic",) if dlq else ()) + tuple(names) + (("venue_name",) if with_venue_name else ()) + KAFKA_COLUMNS
    )
    return TableMapping(table_for_topic(topic), columns, fields, with_venue_name, dlq)


def to_row(topic: str, partition: int, offset: int, record: dict[str, Any]) -> tuple:
    """Turn one decoded record into a row in the column order of :func:`mapping`."""
    m = mapping(topic)
    row: list[Any] = [topic] if m.dlq_topic else []
    for name, conv in m.fields:
        value = record[name]
        row.append(conv(value) if conv is not None else value)
    if m.with_venue_name:
        row.append(_venue_name(record["venue"]))
    row.extend((topic, partition, offset))
    return tuple(row)


def to_columns(
    topic: str, items: Sequence[tuple[int, int, dict[str, Any]]]
) -> tuple[str, tuple[str, ...], list[tuple]]:
    """Map ``(partition, offset, record)`` items of one topic to ``(table, columns, rows)``."""
    m = mapping(topic)
    return m.table, m.columns, [to_row(topic, p, o, r) for p, o, r in items]
