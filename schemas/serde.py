"""Avro encoding of topic records with Avro single-object encoding (self-identifying payloads).

Every payload is ``C3 01`` + the writer schema's CRC-64-AVRO fingerprint (8 bytes, little-endian, as the Avro
spec says) + the Avro binary body. A reader looks the fingerprint up among the topic's current schema and every
earlier version kept in ``schemas/avro/history/<schema>/vN.avsc``, and lets fastavro resolve writer -> reader, so
old and new producers and consumers interoperate while the compatibility test holds. Encoding goes through a
schema-compiled encoder (schemas/avro_encoder.py) with fastavro as its fallback and reference.

Raw on-chain amounts are Avro ``fixed(32)`` big-endian integers (``UInt256``, two's complement ``Int256``):
:func:`u256`/:func:`i256` and their inverses convert at the record boundary.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from base.errors import ConfigError, SchemaError
from schemas.avro_encoder import Encoder, Unsupported, compile_encoder, compile_values_encoder

AVRO_DIR = Path(__file__).resolve().parent / "avro"
HISTORY_DIR = AVRO_DIR / "history"
MAGIC = b"\xc3\x01"

AvroRecord = dict[str, Any]
"""A decoded record: Avro field name -> value as fastavro reads it (int, str, bytes, bool, None, nested records
as dicts, arrays as lists); what :meth:`TopicCodec.decode` returns and :meth:`TopicCodec.encode` takes."""


def schema_name_for_topic(topic: str) -> str:
    """Map a topic to its schema file stem: every ``dlq.*`` topic shares ``dlq``."""
    return "dlq" if topic.startswith("dlq.") else topic


def schema_topic(topic: str, aliases: Mapping[str, str] | None = None) -> str:
    """The topic whose Avro schema (and archive table) the records of ``topic`` use: one rule for every flow.

    In order: an alias (the archive's ``store.aliases``) wins; a topic with a schema of its own, and every
    ``dlq.*`` topic, is itself; else the longest topic with a schema that the name holds as a run of whole
    dot-separated segments, at its start, end or inside, so ``prod.market.pool_sync`` (a per-environment prefix),
    ``market.pool_sync.staging`` (a staging or test copy) and ``prod.market.pool_sync.v2`` all use
    ``market.pool_sync``. Of two equally long matches the one further left wins.

    Raises:
        ConfigError: no topic with a schema matches the name.
    """
    if aliases and topic in aliases:
        return aliases[topic]
    names = _schema_topics()
    if topic in names or topic.startswith("dlq."):
        return topic
    parts = topic.split(".")
    best: tuple[int, int, str] | None = None  # (-length, start, name): the smallest wins
    for start in range(len(parts)):
        for end in range(start + 1, len(parts) + 1):
            name = ".".join(parts[start:end])
            if name in names and "." in name and (best is None or (-len(name), start) < best[:2]):
                best = (-len(name), start, name)
    if best is None:
        msg = (
            f"topic {topic!r}: no Avro schema in schemas/avro matches it (name it after one: <topic>, "
            "<prefix>.<topic> or <topic>.<suffix>)"
        )
        raise ConfigError(msg)
    return best[2]


@cache
def _schema_topics() -> frozenset[str]:
    return frozenset(topics_with_schemas())


def u256(value: int) -> bytes:
    """Encode a non-negative int as UInt256 (32 bytes, big-endian)."""
    return value.to_bytes(32, "big")


def from_u256(raw: bytes) -> int:
    """Decode a UInt256."""
    return int.from_bytes(raw, "big")


def i256(value: int) -> bytes:
    """Encode an int as Int256 (32 bytes, big-endian two's complement)."""
    return value.to_bytes(32, "big", signed=True)


def from_i256(raw: bytes) -> int:
    """Decode an Int256."""
    return int.from_bytes(raw, "big", signed=True)


def _fingerprint(parsed: dict) -> bytes:
    """The 8 fingerprint bytes exactly as the single-object header carries them."""
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))


@dataclass(slots=True)
class TopicCodec:
    """Encoder/decoder for one schema (current version) that also reads every kept earlier version."""

    name: str
    schema: dict
    fp: bytes
    header: bytes
    readers: dict[bytes, dict] = field(default_factory=dict)
    compiled: Encoder | None = None

    def __post_init__(self) -> None:
        if self.compiled is None:
            self.compiled = compile_encoder(self.schema, self.header)

    def encode(self, record: dict[str, Any]) -> bytes:
        """Encode a record as an Avro single-object payload.

        The schema-compiled encoder (schemas/avro_encoder.py) writes it; a record that encoder does not take as
        is goes through fastavro, which writes the same bytes or says why the record does not match.

        Raises:
            SchemaError: the record does not match the schema.
        """
        try:
            return self.compiled(record)  # type: ignore[misc]
        except Unsupported:
            return self.encode_reference(record)

    def values_encoder(self, names: tuple[str, ...], encoded: frozenset[str] = frozenset()) -> Callable[..., bytes]:
        """A compiled encoder taking the record's field values positionally, in the order of ``names``.

        ``values_encoder(names)(*values)`` returns what :meth:`encode` returns for ``dict(zip(names, values))``
        whenever the compiled encoder takes that record, and raises :class:`~schemas.avro_encoder.Unsupported`
        otherwise (then build the dict and call :meth:`encode`). Fields in ``encoded`` are passed already
        Avro-encoded. See :func:`schemas.avro_encoder.compile_values_encoder`.
        """
        return compile_values_encoder(self.schema, names, self.header, encoded)

    def encode_reference(self, record: dict[str, Any]) -> bytes:
        """Encode with ``fastavro.schemaless_writer`` (the reference the compiled encoder is held to).

        Raises:
            SchemaError: the record does not match the schema.
        """
        buf = io.BytesIO()
        buf.write(self.header)
        try:
            fastavro.schemaless_writer(buf, self.schema, record)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, struct.error) as exc:
            msg = f"record does not match schema {self.name}: {exc}"
            raise SchemaError(msg) from exc
        return buf.getvalue()

    def decode(self, payload: bytes) -> AvroRecord:
        """Decode a single-object payload written with this schema or any kept version of it.

        Raises:
            SchemaError: not a single-object payload, unknown fingerprint, or a corrupt body.
        """
        if len(payload) < 10 or payload[:2] != MAGIC:
            msg = f"payload is not Avro single-object encoded (schema {self.name})"
            raise SchemaError(msg)
        fp = bytes(payload[2:10])
        writer = self.schema if fp == self.fp else self.readers.get(fp)
        if writer is None:
            msg = f"payload fingerprint {fp.hex()} is not a known version of schema {self.name}"
            raise SchemaError(msg)
        try:
            if writer is self.schema:
                return fastavro.schemaless_reader(io.BytesIO(payload[10:]), self.schema, None)
            return fastavro.schemaless_reader(io.BytesIO(payload[10:]), writer, self.schema)
        except (EOFError, ValueError, TypeError, IndexError, struct.error, UnicodeDecodeError) as exc:
            msg = f"corrupt {self.name} payload: {exc}"
            raise SchemaError(msg) from exc


def load_schema_file(path: Path) -> dict:
    """Parse an .avsc file with fastavro (named types resolved)."""
    return fastavro.parse_schema(json.loads(path.read_text()))


def history_paths(name: str) -> list[Path]:
    """Earlier versions of schema ``name`` kept in the repository, oldest first."""
    directory = HISTORY_DIR / name
    return sorted(directory.glob("v*.avsc"), key=lambda p: int(p.stem[1:])) if directory.exists() else []


@cache
def codec(topic: str) -> TopicCodec:
    """Return the codec for a topic (cached; schemas are read once per process).

    Raises:
        SchemaError: the topic has no schema in schemas/avro.
    """
    name = schema_name_for_topic(topic)
    path = AVRO_DIR / f"{name}.avsc"
    if not path.exists():
        msg = f"no Avro schema for topic {topic!r}: expected {path}"
        raise SchemaError(msg)
    schema = load_schema_file(path)
    fp = _fingerprint(schema)
    readers = {}
    for old in history_paths(name):
        old_schema = load_schema_file(old)
        readers[_fingerprint(old_schema)] = old_schema
    return TopicCodec(name=name, schema=schema, fp=fp, header=MAGIC + fp, readers=readers)


def topics_with_schemas() -> list[str]:
    """Schema names defined in schemas/avro (topic names, plus ``dlq`` for every dlq.* topic)."""
    return sorted(p.stem for p in AVRO_DIR.glob("*.avsc"))
