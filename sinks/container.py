"""Avro object containers built from single-object payloads, without decoding them (pure, no I/O).

A Kafka record's value is ``C3 01`` + an 8-byte schema fingerprint + the Avro body. Bodies written with one schema
concatenate into one container block; each body is followed by a few extra fields (the Kafka coordinates and
``archive_ns``), so the container's schema is the writer schema plus :data:`sinks.ingest.SUFFIX_FIELDS`.
ClickHouse's ``Avro`` input format then decodes the whole batch natively (see :mod:`sinks.ingest`).

:func:`build` is the plain per-record reference; :func:`build_batch` is what the archive runs: the same bytes for
several partitions at once, with the per-record work done by slicing and joining in C and the offset varints
computed by numpy (:func:`offset_suffixes`). ``tests/sinks/test_container.py`` proves them byte-identical.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from operator import itemgetter

import numpy as np
from fastavro.schema import to_parsing_canonical_form

from schemas.serde import MAGIC, codec
from sinks.ingest import SUFFIX_FIELDS

HEADER_LEN = 10  # magic (2) + fingerprint (8)

_HEAD = itemgetter(slice(0, HEADER_LEN))
_FP = itemgetter(slice(2, HEADER_LEN))
_BODY = itemgetter(slice(HEADER_LEN, None))
# Upper bounds of 1..9-byte varints; a value at or above the last needs 10 bytes.
_VARINT_LIMITS = np.array([1 << (7 * k) for k in range(1, 10)], dtype=np.uint64)
_SMALL = 64  # below this many offsets, numpy's set-up costs more than the Python loop
_MAX_RUNS = 16  # more varint-length changes than this (unsorted offsets): use the Python loop

Segment = tuple[str, str, int, Sequence[int], Sequence[bytes]]  # schema topic, topic, partition, offsets, payloads


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


@cache
def _known_heads(schema_topic: str) -> frozenset[bytes]:
    return frozenset(MAGIC + fp for fp in writers(schema_topic))


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


def bad_headers(schema_topic: str, payloads: Sequence[bytes | None]) -> list[int]:
    """Indexes of the payloads :func:`check_header` rejects, in order (one C-level pass when all are fine)."""
    try:
        if _known_heads(schema_topic).issuperset(map(_HEAD, payloads)):
            return []
    except TypeError:  # a None value (tombstone): find it the slow way
        pass
    return [i for i, payload in enumerate(payloads) if check_header(schema_topic, payload) is not None]


def offset_suffixes(prefix: bytes, offsets: Sequence[int]) -> list[bytes]:
    """``prefix + zigzag(offset)`` for each offset, computed with numpy for runs of offsets >= 0.

    Kafka offsets in a partition ascend, so their varints change length only a few times per batch: each run of
    one length becomes a byte matrix (prefix columns, then the 7-bit groups) sliced into rows.
    """
    n = len(offsets)
    if n < _SMALL:
        return [prefix + zigzag(o) for o in offsets]
    try:
        signed = np.asarray(offsets, dtype=np.int64)
    except (OverflowError, TypeError, ValueError):
        return [prefix + zigzag(o) for o in offsets]
    if signed.ndim != 1 or int(signed.min()) < 0:
        return [prefix + zigzag(o) for o in offsets]
    values = signed.astype(np.uint64) << np.uint64(1)  # zig-zag of n >= 0 is 2n
    widths = np.searchsorted(_VARINT_LIMITS, values, side="right") + 1
    cuts = np.flatnonzero(np.diff(widths)) + 1
    if len(cuts) > _MAX_RUNS:
        return [prefix + zigzag(o) for o in offsets]
    head = np.frombuffer(prefix, dtype=np.uint8)
    out: list[bytes] = []
    for start, end in zip([0, *cuts.tolist()], [*cuts.tolist(), n], strict=True):
        width = int(widths[start])
        size = len(prefix) + width
        groups = (values[start:end, None] >> (np.arange(width, dtype=np.uint64) * np.uint64(7))) & np.uint64(0x7F)
        groups[:, :-1] |= np.uint64(0x80)  # continuation bit on all but the last group
        rows = np.empty((end - start, size), dtype=np.uint8)
        rows[:, : len(prefix)] = head
        rows[:, len(prefix) :] = groups
        buf = rows.tobytes()
        out += [buf[i : i + size] for i in range(0, len(buf), size)]
    return out


def build_batch(archive_ns: int, segments: Sequence[Segment]) -> list[tuple[bytes, int, bytes]]:
    """Containers for the records of several partitions (and topics of one table), one per writer schema.

    Byte for byte what :func:`build` gives for one segment; for several, each writer schema's block holds the
    segments' bodies in segment order, each body followed by its own Kafka coordinates.

    Args:
        archive_ns: ns since epoch, stamped into every row's trace as ``archive_ns``.
        segments: ``(schema_topic, topic, partition, offsets, payloads)``; payloads must have passed
            :func:`check_header` under their schema topic.

    Returns:
        ``(fingerprint, rows, container bytes)`` per writer schema, in first-seen order.
    """
    parts: dict[bytes, list[bytes]] = {}
    rows: dict[bytes, int] = {}
    heads: dict[bytes, Writer] = {}
    for schema_topic, topic, partition, offsets, payloads in segments:
        n = len(payloads)
        if not n:
            continue
        known = writers(schema_topic)
        suffixes = offset_suffixes(_avro_string(topic) + zigzag(partition) + zigzag(archive_ns), offsets)
        fps = set(map(_FP, payloads))
        if len(fps) == 1:
            [fp] = fps
            pairs: list[bytes] = [b""] * (2 * n)
            pairs[0::2] = map(_BODY, payloads)
            pairs[1::2] = suffixes
            parts.setdefault(fp, []).extend(pairs)
            rows[fp] = rows.get(fp, 0) + n
            heads.setdefault(fp, known[fp])
            continue
        for payload, suffix in zip(payloads, suffixes, strict=True):
            fp = payload[2:HEADER_LEN]
            parts.setdefault(fp, []).extend((payload[HEADER_LEN:], suffix))
            rows[fp] = rows.get(fp, 0) + 1
            heads.setdefault(fp, known[fp])
    out = []
    for fp, block in parts.items():
        w = heads[fp]
        size = sum(map(len, block))
        block.insert(0, w.header + zigzag(rows[fp]) + zigzag(size))
        block.append(w.sync)
        out.append((fp, rows[fp], b"".join(block)))
    return out
