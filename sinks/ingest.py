"""ClickHouse-side Avro ingestion: staging tables that read Avro batches, and the views that map them to tables.

The archive does not decode records in Python. It hands ClickHouse an Avro object container of the records'
bodies (:mod:`sinks.container`), inserted into ``ingest_<table>`` (engine ``Null``: nothing is stored there); a
materialized view turns each staged row into a row of ``<table>``: ``fixed(32)`` big-endian integers become
``UInt256``/``Int256``, ``venue`` gets its ``venue_name``, the trace gets ``archive_ns``, and ``dlq.*`` rows get
``dlq_topic``. This module generates that DDL from the Avro schemas; migration ``002_avro_ingest.sql`` is its
output (``python -m sinks.ingest``), and ``tests/sinks`` checks a migrated store still matches the schemas.
"""

from __future__ import annotations

import json
from typing import Any

from sinks.archive import table_for_topic

# Fields every staged row carries after the record's own fields (appended by sinks.container).
SUFFIX_FIELDS: tuple[tuple[str, str, str], ...] = (
    # name, Avro type, staging column type
    ("kafka_topic", "string", "String"),
    ("kafka_partition", "int", "Int32"),
    ("archive_ns", "long", "Int64"),
    ("kafka_offset", "long", "Int64"),
)

ARCHIVE_TRACE_KEY = "archive_ns"
"""The trace stage the ingest view adds to every archived row (the time its batch was written)."""

_PRIMITIVE = {
    "int": "Int32",
    "long": "Int64",
    "string": "String",
    "bytes": "String",
    "boolean": "Bool",
    "double": "Float64",
    "float": "Float32",
}


def ingest_table(table: str) -> str:
    """The staging table of an archive table: ``market_pool_sync`` -> ``ingest_market_pool_sync``."""
    return f"ingest_{table}"


def _named(avro_type: Any, names: dict[str, Any]) -> Any:
    """Resolve a reference to a named type (``pulsearb.types.UInt256``) and record definitions on the way."""
    if isinstance(avro_type, str) and avro_type not in _PRIMITIVE and avro_type != "null":
        return names[avro_type]
    if isinstance(avro_type, dict) and "name" in avro_type:
        name = avro_type["name"]
        full = name if "." in name else f"{avro_type.get('namespace', '')}.{name}"
        names[full.lstrip(".")] = avro_type
        names[avro_type["name"]] = avro_type
    return avro_type


def stage_type(avro_type: Any, names: dict[str, Any]) -> str:
    """The ClickHouse type ClickHouse's Avro input reads ``avro_type`` into."""
    t = _named(avro_type, names)
    if isinstance(t, str):
        return _PRIMITIVE[t]
    if isinstance(t, list):
        inner = [x for x in t if x != "null"]
        return f"Nullable({stage_type(inner[0], names)})"
    kind = t["type"]
    if kind == "fixed":
        return f"FixedString({t['size']})"
    if kind == "enum":
        return "String"
    if kind == "array":
        return f"Array({stage_type(t['items'], names)})"
    if kind == "map":
        return f"Map(String, {stage_type(t['values'], names)})"
    if kind == "record":
        inner = ", ".join(f"{f['name']} {stage_type(f['type'], names)}" for f in t["fields"])
        return f"Tuple({inner})"
    return _PRIMITIVE[kind]


def _int256(avro_type: Any) -> str | None:
    """``UInt256``/``Int256`` for the exact-integer fixed types, else None."""
    if isinstance(avro_type, dict) and avro_type.get("type") == "fixed":
        name = avro_type["name"]
        return "Int256" if name.endswith("Int256") and not name.endswith("UInt256") else "UInt256"
    return None


def convert_expr(expr: str, avro_type: Any, names: dict[str, Any]) -> str:
    """SQL turning a staged value into the archive table's value (big-endian fixed -> exact integers)."""
    t = _named(avro_type, names)
    wide = _int256(t)
    if wide:
        return f"reinterpretAs{wide}(reverse({expr}))"
    if isinstance(t, list):
        inner = next(x for x in t if x != "null")
        conv = convert_expr(f"assumeNotNull({expr})", inner, names)
        return expr if conv == f"assumeNotNull({expr})" else f"if(isNull({expr}), NULL, {conv})"
    if isinstance(t, dict) and t.get("type") == "array":
        conv = convert_expr("x", t["items"], names)
        return expr if conv == "x" else f"arrayMap(x -> {conv}, {expr})"
    if isinstance(t, dict) and t.get("type") == "record":
        convs = [convert_expr(f"{expr}.{f['name']}", f["type"], names) for f in t["fields"]]
        if all(c == f"{expr}.{f['name']}" for c, f in zip(convs, t["fields"], strict=True)):
            return expr
        return "tuple(" + ", ".join(convs) + ")"
    return expr


def record_expr(expr: str, avro_type: Any, names: dict[str, Any]) -> str:
    """SQL turning an archive table's value back into the value the Avro record held (inverse of
    :func:`convert_expr`: exact integers -> big-endian ``fixed(32)`` bytes)."""
    t = _named(avro_type, names)
    if _int256(t):
        return f"reverse(reinterpretAsFixedString({expr}))"
    if isinstance(t, list):
        inner = next(x for x in t if x != "null")
        conv = record_expr(f"assumeNotNull({expr})", inner, names)
        return expr if conv == f"assumeNotNull({expr})" else f"if(isNull({expr}), NULL, {conv})"
    if isinstance(t, dict) and t.get("type") == "array":
        conv = record_expr("x", t["items"], names)
        return expr if conv == "x" else f"arrayMap(x -> {conv}, {expr})"
    if isinstance(t, dict) and t.get("type") == "record":
        convs = [record_expr(f"{expr}.{f['name']}", f["type"], names) for f in t["fields"]]
        if all(c == f"{expr}.{f['name']}" for c, f in zip(convs, t["fields"], strict=True)):
            return expr
        return "tuple(" + ", ".join(convs) + ")"
    return expr


def record_selects(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, SQL)`` reading each field of a topic's Avro schema back from its archive table, the inverse of
    the view :func:`ingest_ddl` creates: the trace loses the ``archive_ns`` the view added, 256-bit integers become
    ``fixed(32)`` bytes again. Nested records come back as tuples (in field order)."""
    names: dict[str, Any] = {}
    out = []
    for f in schema["fields"]:
        name = f["name"]
        if name == "trace":
            out.append((name, f"mapFilter((k, v) -> k != '{ARCHIVE_TRACE_KEY}', trace)"))
        else:
            out.append((name, record_expr(name, f["type"], names)))
    return out


def venue_name_expr(column: str = "venue") -> str:
    """SQL naming a venue id as base.venues.VenueId does (``venue_<id>`` when unknown)."""
    from base.venues import VenueId

    ids = ", ".join(str(int(v)) for v in VenueId)
    names = ", ".join(f"'{v.name}'" for v in VenueId)
    return f"transform(toUInt16({column}), [{ids}], [{names}], concat('venue_', toString({column})))"


def ingest_ddl(schema_name: str, database: str = "{database}") -> list[str]:
    """CREATE statements of the staging table and its view for one schema (``dlq`` for every ``dlq.*`` topic)."""
    from schemas.serde import AVRO_DIR

    schema = json.loads((AVRO_DIR / f"{schema_name}.avsc").read_text())
    table = table_for_topic(schema_name if schema_name != "dlq" else "dlq.any")
    names: dict[str, Any] = {}
    columns = []
    selects = []
    dlq = schema_name == "dlq"
    if dlq:
        selects.append("kafka_topic AS dlq_topic")
    for f in schema["fields"]:
        name = f["name"]
        columns.append(f"{name} {stage_type(f['type'], names)}")
        if name == "trace":
            selects.append(f"mapUpdate(trace, map('{ARCHIVE_TRACE_KEY}', archive_ns)) AS trace")
        else:
            conv = convert_expr(name, f["type"], names)
            selects.append(name if conv == name else f"{conv} AS {name}")
        if name == "venue":
            selects.append(f"{venue_name_expr()} AS venue_name")
    columns += [f"{name} {ch}" for name, _, ch in SUFFIX_FIELDS]
    selects += ["kafka_topic", "kafka_partition", "kafka_offset"]
    stage = ingest_table(table)
    create = f"CREATE TABLE IF NOT EXISTS {database}.{stage} (\n    " + ",\n    ".join(columns) + "\n) ENGINE = Null"
    view = (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.{stage}_mv TO {database}.{table} AS\nSELECT "
        + ",\n    ".join(selects)
        + f"\nFROM {database}.{stage}"
    )
    return [create, view]


def migration_text() -> str:
    """The text of migration 002: staging tables and views for every schema in schemas/avro."""
    from schemas.serde import topics_with_schemas

    head = (
        "-- Generated by `python -m sinks.ingest` from schemas/avro (see sinks/ingest.py). Never edit: a later Avro\n"
        "-- field needs a new migration that adds the column to ingest_<table> and <table> and recreates the view.\n"
        "-- ingest_<table> (engine Null) receives Avro batches; its view converts and inserts into <table>.\n"
    )
    parts = [head]
    for name in topics_with_schemas():
        for statement in ingest_ddl(name):
            parts.append(statement + ";\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(migration_text(), end="")
