"""Avro containers built from single-object payloads decode to the records plus their Kafka coordinates."""

from __future__ import annotations

import io

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.serde import codec
from sinks import container
from sinks.container import Writer, bad_headers, build, build_batch, check_header, offset_suffixes, zigzag
from tests.sinks.records import encode, pool_sync


@pytest.mark.parametrize(
    ("n", "raw"), [(0, b"\x00"), (-1, b"\x01"), (1, b"\x02"), (64, b"\x80\x01"), (-65, b"\x81\x01")]
)
def test_zigzag_matches_avro_long(n: int, raw: bytes) -> None:
    assert zigzag(n) == raw


def test_container_decodes_to_records_and_coordinates() -> None:
    recs = [pool_sync(i) for i in range(5)]
    items = list(zip(range(100, 105), encode("market.pool_sync", recs), strict=True))
    [(fp, rows, blob)] = build("market.pool_sync", "staging.sync", 3, 42, items)
    assert fp == codec("market.pool_sync").fp and rows == 5
    out = list(fastavro.reader(io.BytesIO(blob)))
    for offset, (rec, got) in enumerate(zip(recs, out, strict=True), start=100):
        assert {k: got[k] for k in rec} == rec
        assert (got["kafka_topic"], got["kafka_partition"], got["archive_ns"], got["kafka_offset"]) == (
            "staging.sync",
            3,
            42,
            offset,
        )


def test_check_header_names_the_problem() -> None:
    good = encode("market.pool_sync", [pool_sync(1)])[0]
    assert check_header("market.pool_sync", good) is None
    assert "not Avro single-object" in check_header("market.pool_sync", b"garbage!!!!")
    assert "not Avro single-object" in check_header("market.pool_sync", None)
    wrong = good[:2] + codec("arb.decision").fp + good[10:]
    assert "is not a known version" in check_header("market.pool_sync", wrong)


# The fast paths the archive runs (offset_suffixes, build_batch, bad_headers) against the per-record references.

_BOUNDARIES = [63, 64, 8191, 8192, 2**20 - 1, 2**20, 2**27, 2**34, 2**62 - 1, 2**62, 2**63 - 1]
_offsets = st.one_of(
    st.lists(st.integers(0, 2**63 - 1), max_size=300),  # anything, unsorted
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=200),  # negative ones too
    st.tuples(st.sampled_from(_BOUNDARIES), st.integers(0, 400), st.integers(1, 3)).map(
        lambda t: [o for o in range(max(0, t[0] - t[1] // 2), t[0] + t[1], t[2]) if o < 2**63]
    ),  # ascending runs across varint lengths, with gaps
)


@settings(max_examples=400, deadline=None)
@given(prefix=st.binary(max_size=40), offsets=_offsets)
def test_offset_suffixes_equal_the_per_record_encoding(prefix: bytes, offsets: list[int]) -> None:
    assert offset_suffixes(prefix, offsets) == [prefix + zigzag(o) for o in offsets]


def _block(blob: bytes, w: Writer) -> tuple[int, bytes]:
    """(rows, block bytes) of a one-block container."""
    assert blob.startswith(w.header) and blob.endswith(w.sync)
    body = io.BytesIO(blob[len(w.header) : -len(w.sync)])
    rows = read_long(body)
    size = read_long(body)
    block = body.read()
    assert len(block) == size
    return rows, block


def read_long(buf: io.BytesIO) -> int:
    """Read one Avro long (zig-zag varint)."""
    shift = n = 0
    while True:
        byte = buf.read(1)[0]
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (n >> 1) ^ -(n & 1)


_SYNC_PAYLOADS = encode("market.pool_sync", [pool_sync(i) for i in range(40)])
_OTHER_FP = b"\x01\x02\x03\x04\x05\x06\x07\x08"


@pytest.fixture
def two_writers(monkeypatch: pytest.MonkeyPatch) -> dict[bytes, Writer]:
    """market.pool_sync with a second (made-up) writer schema, to mix fingerprints in one batch."""
    real = container.writers("market.pool_sync")
    assert len(real) == 1
    both = {**real, _OTHER_FP: Writer(_OTHER_FP, b"Obj\x01(a made-up header)", b"S" * 16)}
    monkeypatch.setattr(container, "writers", lambda topic: both)
    return both


_segment = st.tuples(
    st.sampled_from(["market.pool_sync", "market.pool_sync.staging", "t"]),
    st.integers(0, 2**31 - 1),
    st.lists(st.tuples(st.integers(0, 39), st.booleans()), max_size=120),
    st.integers(0, 2**40),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(_segment, min_size=1, max_size=5), archive_ns=st.integers(0, 2**62))
def test_build_batch_is_byte_identical_to_build(
    two_writers: dict[bytes, Writer], segments: list[tuple], archive_ns: int
) -> None:
    segs = []
    for topic, partition, picks, first in segments:
        payloads = [
            _SYNC_PAYLOADS[i][:2] + _OTHER_FP + _SYNC_PAYLOADS[i][10:] if other else _SYNC_PAYLOADS[i]
            for i, other in picks
        ]
        segs.append(("market.pool_sync", topic, partition, list(range(first, first + len(payloads))), payloads))
    got = build_batch(archive_ns, segs)
    # Reference: build() per segment; a multi-segment container holds each schema's blocks in segment order.
    rows: dict[bytes, int] = {}
    blocks: dict[bytes, bytes] = {}
    for schema_topic, topic, partition, offsets, payloads in segs:
        for fp, n, blob in build(schema_topic, topic, partition, archive_ns, list(zip(offsets, payloads, strict=True))):
            n_block, block = _block(blob, two_writers[fp])
            assert n_block == n
            rows[fp] = rows.get(fp, 0) + n
            blocks[fp] = blocks.get(fp, b"") + block
    want = [
        (
            fp,
            rows[fp],
            two_writers[fp].header + zigzag(rows[fp]) + zigzag(len(blocks[fp])) + blocks[fp] + two_writers[fp].sync,
        )
        for fp in blocks
    ]
    assert got == want
    if len(segs) == 1:
        s = segs[0]
        assert got == build(s[0], s[1], s[2], archive_ns, list(zip(s[3], s[4], strict=True)))


def test_multi_partition_container_decodes_to_every_records_coordinates() -> None:
    recs = [pool_sync(i) for i in range(6)]
    payloads = encode("market.pool_sync", recs)
    segs = [
        ("market.pool_sync", "market.pool_sync", 0, [10, 11, 12], payloads[:3]),
        ("market.pool_sync", "market.pool_sync.staging", 5, [70, 90, 200], payloads[3:]),
    ]
    [(fp, rows, blob)] = build_batch(7, segs)
    assert (fp, rows) == (codec("market.pool_sync").fp, 6)
    out = list(fastavro.reader(io.BytesIO(blob)))
    assert [{k: r[k] for k in recs[0]} for r in out] == recs
    assert [(r["kafka_topic"], r["kafka_partition"], r["kafka_offset"], r["archive_ns"]) for r in out] == [
        ("market.pool_sync", 0, 10, 7),
        ("market.pool_sync", 0, 11, 7),
        ("market.pool_sync", 0, 12, 7),
        ("market.pool_sync.staging", 5, 70, 7),
        ("market.pool_sync.staging", 5, 90, 7),
        ("market.pool_sync.staging", 5, 200, 7),
    ]


_good = _SYNC_PAYLOADS[0]
_payload = st.one_of(
    st.sampled_from([_good, _SYNC_PAYLOADS[7], None, b"", b"\xc3\x01", _good[:9], _good[:10], b"\xc3\x02" + _good[2:]]),
    st.binary(max_size=16),
    st.binary(max_size=8).map(lambda b: _good[:2] + codec("market.pool_sync").fp + b),
    st.binary(min_size=8, max_size=8).map(lambda fp: _good[:2] + fp + _good[10:]),
)


@settings(max_examples=400, deadline=None)
@given(payloads=st.lists(_payload, max_size=30))
def test_bad_headers_agrees_with_check_header(payloads: list[bytes | None]) -> None:
    want = [i for i, p in enumerate(payloads) if check_header("market.pool_sync", p) is not None]
    assert bad_headers("market.pool_sync", payloads) == want
