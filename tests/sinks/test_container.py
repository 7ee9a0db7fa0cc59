"""Avro containers built from single-object payloads decode to the records plus their Kafka coordinates."""

from __future__ import annotations

import io

import fastavro
import pytest

from schemas.serde import codec
from sinks.container import build, check_header, zigzag
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
