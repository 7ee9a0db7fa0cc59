"""ClickHouse-side Avro ingestion stores exactly what the Python mapping (sinks/archive.py) says, for every topic."""

from __future__ import annotations

from typing import Any

from schemas.serde import codec, topics_with_schemas
from sinks.archive import table_for_topic, to_columns
from sinks.clickhouse import insert_avro, query_rows, session
from sinks.container import build
from sinks.ingest import SUFFIX_FIELDS, ingest_table, stage_type
from tests.sinks.records import encode, random_records

TOPICS = ["dlq.test" if name == "dlq" else name for name in topics_with_schemas()]


def _norm(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(_norm(v) for k, v in value.items() if k != "archive_ns")
    if isinstance(value, list | tuple):
        return tuple(_norm(v) for v in value)
    return value


def test_every_topic_archives_exactly_like_the_python_mapping(store: str) -> None:
    with session(store) as client:
        for topic in TOPICS:
            payloads = encode(topic, random_records(topic, 4))
            items = list(enumerate(payloads))
            table = table_for_topic(topic)
            for _, _, blob in build(topic, topic, 2, 99, items):
                insert_avro(client, f"pulsearb.{ingest_table(table)}", blob)
            _, columns, expected = to_columns(topic, [(2, o, codec(topic).decode(p)) for o, p in items])
            # Bytes columns are compared as hex: the client shows non-UTF-8 strings as hex text.
            select = ", ".join(f"hex({c})" if c == "raw" else c for c in columns)
            _, got = query_rows(client, f"SELECT {select} FROM pulsearb.{table} ORDER BY kafka_offset")
            expected = [tuple(v.hex().upper() if isinstance(v, bytes) else v for v in row) for row in expected]
            assert [_norm(r) for r in got] == [_norm(r) for r in expected], topic
            _, trace = (
                query_rows(client, f"SELECT count() FROM pulsearb.{table} WHERE trace['archive_ns'] = 99")
                if "trace" in columns
                else (None, [(len(items),)])
            )
            assert trace[0][0] == len(items), f"{topic}: archive_ns is stamped into the trace"


def test_staging_tables_cover_every_avro_field(store: str) -> None:
    """Fails when an Avro field is added without a migration that adds it to ingest_<table> (docs/database.md)."""
    with session(store) as client:
        for name in topics_with_schemas():
            table = ingest_table(table_for_topic("dlq.x" if name == "dlq" else name))
            _, cols = query_rows(
                client,
                "SELECT name, type FROM system.columns WHERE database = 'pulsearb' AND table = {t:String}",
                {"t": table},
            )
            have = dict(cols)
            names: dict[str, Any] = {}
            want = {f["name"]: stage_type(f["type"], names) for f in codec(name).schema["fields"]}
            want |= {n: ch for n, _, ch in SUFFIX_FIELDS}
            missing = {n: t for n, t in want.items() if have.get(n) != t}
            assert not missing, f"{table} lacks {missing}: add a migration (docs/database.md, 'add a column')"
