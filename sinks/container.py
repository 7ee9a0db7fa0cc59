"""Avro object containers built from single-object payloads, without decoding them (pure, no I/O).

A Kafka record's value is ``C3 01`` + an 8-byte schema fingerprint + the Avro body. Bodies written with one schema
concatenate into one container block; each body is followed by a few extra fields (the Kafka coordinates and
``archive_ns``), so the container's schema is the writer schema plus :data:`sinks.ingest.SUFFIX_FIELDS`.
ClickHouse's ``Avro`` input format then decodes the whole batch natively (see :mod:`sinks.ingest`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from fastavro.schema import to_parsing_canonical_form

from schemas.serde import MAGIC, codec
from sinks.ingest import SUFFIX_FIELDS

HEADER_LEN = 10  # magic (2) + fingerprint (8)


def zigzag(n: int) -> bytes:
    """Avro ``long`` encoding of ``n`` (zig-zag varint)."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _avro_string(text: str) -> bytes:
    raw = text.encode()
    return zigzag(len(raw)) + raw


@dataclass(frozen=True, slots=True)
class Writer:
    """One writer schema of a topic: its fingerprint and the container header for its bodies."""

    fingerprint: bytes
    header: bytes
    sync: bytes


@cache
def writers(schema_topic: str) -> dict[bytes, Writer]:
    """Every known writer schema of a topic (current and kept versions), by fingerprint."""
    c = codec(schema_topic)
    found = {c.fp: c.schema} | dict(c.readers)
    out = {}
    for fp, parsed in found.items():
        schema = json.loads(to_parsing_canonical_form(parsed))
        schema["fields"] = schema["fields"] + [{"name": n, "type": t} for n, t, _ in SUFFIX_FIELDS]
        sync = os.urandom(16)
        meta = {"avro.schema": json.dumps(schema).encode(), "avro.codec": b"null"}
        header = bytearray(b"Obj\x01")
        header += zigzag(len(meta))
        for key, value in meta.items():
            header += _avro_string(key) + zigzag(len(value)) + value
        header += b"\x00" + sync
        out[fp] = Writer(fp, bytes(header), sync)
    return out


def check_header(schema_topic: str, payload: bytes | None) -> str | None:
    """Return why ``payload`` cannot be archived under ``schema_topic``'s schema, or None when its header is fine."""
    if payload is None or len(payload) < HEADER_LEN or payload[:2] != MAGIC:
        return f"payload is not Avro single-object encoded (schema {codec(schema_topic).name})"
    if payload[2:HEADER_LEN] not in writers(schema_topic):
        fp = payload[2:HEADER_LEN].hex()
        return f"payload fingerprint {fp} is not a known version of schema {codec(schema_topic).name}"
    return None


def build(
    schema_topic: str,
    topic: str,
    partition: int,
    archive_ns: int,
    items: Sequence[tuple[int, bytes]],
) -> list[tuple[bytes, int, bytes]]:
    """Containers for ``(offset, payload)`` items, one per writer schema.

    Args:
        schema_topic: the topic whose schemas the payloads use (``topic`` itself unless archived under an alias).
        topic: the Kafka topic the records came from (stored in ``kafka_topic``).
        partition: their Kafka partition.
        archive_ns: ns since epoch, stamped into every row's trace as ``archive_ns``.
        items: ``(offset, payload)``; payloads must have passed :func:`check_header`.

    Returns:
        ``(fingerprint, rows, container bytes)`` per writer schema, in first-seen order.
    """
    known = writers(schema_topic)
    suffix = _avro_string(topic) + zigzag(partition) + zigzag(archive_ns)
    bodies: dict[bytes, list[bytes]] = {}
    for offset, payload in items:
        bodies.setdefault(payload[2:HEADER_LEN], []).append(payload[HEADER_LEN:] + suffix + zigzag(offset))
    out = []
    for fp, parts in bodies.items():
        w = known[fp]
        block = b"".join(parts)
        out.append((fp, len(parts), w.header + zigzag(len(parts)) + zigzag(len(block)) + block + w.sync))
    return out
