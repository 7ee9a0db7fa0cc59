"""Golden frames: exact bytes for whole messages, starting with the reference's worked example (§1.6)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from base.venues import VenueId
from flows.relay.codec import ChecksumPolicy, decode_frame, encode_frame
from flows.relay.header import HEADER_STRUCT
from flows.relay.jsonform import frame_from_json, frame_to_json
from flows.relay.protocol import AssetType, InstrumentId, RelayDomain, SourceType
from flows.relay.tlv import OrderBook, PoolSync, Trade, UnknownTlv

from .helpers import TS, sample_tlvs

DATA = Path(__file__).resolve().parents[1] / "data" / "relay"
GOLDEN = DATA / "golden_frames.json"

# /work/shared/reference/alphapulse-protocol.md §1.6, byte for byte.
WORKED_EXAMPLE = bytes.fromhex(
    "efbeadde010103000100000000000000"
    "48c79f77d32f5e182a000000ca0f0c15"
    "0128004453552f43544240fa3f1ca00a"
    "0000331000000000000048c79f77d32f"
    "5e186600330000000000"
)


def coinbase_trade(record: dict) -> Trade:
    """Convert one Coinbase ``match`` event as AlphaPulse's collector does (x1e8 via Decimal, "-" -> "/")."""
    msg = record["raw_message"]
    when = datetime.fromisoformat(msg["time"].replace("Z", "+00:00"))
    ns = int(when.timestamp()) * 10**9 + when.microsecond * 1000
    iid = InstrumentId.coin(VenueId.COINBASE, msg["product_id"].replace("-", "/"))
    return Trade(
        asset_id=iid.asset_id,
        price=int(Decimal(msg["price"]) * 100_000_000),
        volume=int(Decimal(msg["size"]) * 100_000_000),
        execution_timestamp_ns=ns,
        venue_id=iid.venue,
        asset_type=iid.asset_type,
        reserved=iid.reserved,
        side=0 if msg["side"] == "buy" else 1,
    )


def test_worked_example_decodes_to_the_stated_values() -> None:
    frame = decode_frame(WORKED_EXAMPLE, policy=ChecksumPolicy.every(allow_zero=False))
    h = frame.header
    assert (h.magic, h.relay_domain, h.version, h.source, h.flags) == (0xDEADBEEF, 1, 1, 3, 0)
    assert (h.sequence, h.timestamp, h.payload_size, h.checksum) == (1, 1755893490012637000, 42, 0x150C0FCA)
    assert frame.checksum_ok is True
    (trade,) = frame.tlvs
    assert trade == Trade(0x4254432F55534400, 11682785000000, 4147, 1755893490012637000, 102, 51, 0, 0)
    assert InstrumentId(trade.asset_id, trade.venue_id, trade.asset_type).symbol() == "BTC/USD"
    assert WORKED_EXAMPLE[34:42] == b"\x00DSU/CTB"  # "BTC/USD" packed big-endian, stored LE: reads reversed


def test_worked_example_reencodes_to_the_same_74_bytes() -> None:
    frame = decode_frame(WORKED_EXAMPLE)
    raw = encode_frame(
        RelayDomain.MARKET_DATA, SourceType.COINBASE_COLLECTOR, frame.tlvs, sequence=1, timestamp_ns=1755893490012637000
    )
    assert len(raw) == 74
    assert raw == WORKED_EXAMPLE
    assert HEADER_STRUCT.unpack_from(raw)[-1] == 0x150C0FCA


def test_real_coinbase_trade_gives_the_worked_example() -> None:
    records = json.loads((DATA / "coinbase_trades_head.json").read_text())
    trade = coinbase_trade(records[0])
    raw = encode_frame(1, SourceType.COINBASE_COLLECTOR, [trade], sequence=1, timestamp_ns=trade.execution_timestamp_ns)
    assert raw == WORKED_EXAMPLE
    # The rest of the capture round-trips too, sells and ETH included.
    for seq, record in enumerate(records, start=1):
        trade = coinbase_trade(record)
        raw = encode_frame(1, 3, [trade], sequence=seq, timestamp_ns=trade.execution_timestamp_ns)
        assert decode_frame(raw).tlvs == (trade,)
    assert coinbase_trade(records[5]).asset_id == InstrumentId.coin(102, "ETH/USD").asset_id
    assert coinbase_trade(records[1]).side == 1
    assert coinbase_trade(records[0]).asset_type == AssetType.COIN


def _cases() -> dict[str, bytes]:
    """Every golden case as bytes, built with the codec (regenerate the file from these)."""
    s = sample_tlvs()
    domain_of = {
        "ArbitrageSignal": RelayDomain.SIGNAL,
        "FlashLoanResult": RelayDomain.SIGNAL,
        "ExecutionReport": RelayDomain.EXECUTION,
        "Heartbeat": RelayDomain.SYSTEM,
        "Subscribe": RelayDomain.SYSTEM,
    }
    cases = {"worked_example_1_6": WORKED_EXAMPLE}
    for name, tlv in sorted(s.items()):
        domain = domain_of.get(name, RelayDomain.MARKET_DATA)
        cases[f"tlv_{name}"] = encode_frame(domain, 4, [tlv], sequence=100 + tlv.TYPE, timestamp_ns=TS)
    several = [s["PoolSync"], s["PoolSwap"], s["GasPrice"]]
    cases["several_tlvs"] = encode_frame(1, 4, several, sequence=5, timestamp_ns=TS)
    cases["unknown_tlv_kept_raw"] = encode_frame(
        1, 4, [UnknownTlv(9, b"\x01\x02\x03"), s["PoolSync"]], sequence=6, timestamp_ns=TS
    )
    cases["checksum_zero_hot_path"] = encode_frame(1, 4, [s["PoolSync"]], sequence=7, timestamp_ns=TS, checksum=False)
    cases["empty_order_book_extended"] = encode_frame(
        1, 1, [OrderBook(TS, 1, 10**8, 1, 100, 51, 0, (), ())], sequence=8, timestamp_ns=TS
    )
    raw_sync = UnknownTlv(16, PoolSync.encode(s["PoolSync"]))
    cases["version_2_raw_tlvs"] = encode_frame(1, 4, [raw_sync], sequence=9, timestamp_ns=TS, version=2)
    return cases


def _golden() -> list[dict]:
    if os.environ.get("PULSEARB_REGEN_GOLDEN") == "1":
        table = [
            {"name": name, "hex": raw.hex(), "json": frame_to_json(decode_frame(raw))} for name, raw in _cases().items()
        ]
        GOLDEN.write_text(json.dumps(table, indent=1) + "\n")
    if not GOLDEN.exists():
        pytest.fail(f"{GOLDEN} missing: re-record with PULSEARB_REGEN_GOLDEN=1 .venv/bin/python -m pytest {__file__}")
    return json.loads(GOLDEN.read_text())


GOLDEN_TABLE = _golden()


@pytest.mark.parametrize("case", GOLDEN_TABLE, ids=[c["name"] for c in GOLDEN_TABLE])
def test_golden_frame(case: dict) -> None:
    raw = bytes.fromhex(case["hex"])
    assert frame_from_json(case["json"]) == raw  # encode -> exact bytes
    assert frame_to_json(decode_frame(raw)) == case["json"]  # decode -> exact values


def test_golden_table_covers_every_case() -> None:
    assert sorted(c["name"] for c in GOLDEN_TABLE) == sorted(_cases())
    assert {c["name"]: bytes.fromhex(c["hex"]) for c in GOLDEN_TABLE} == _cases()


def test_golden_json_spells_values_as_documented() -> None:
    by_name = {c["name"]: c["json"] for c in GOLDEN_TABLE}
    sync = by_name["tlv_PoolSync"]["tlvs"][0]
    assert sync["name"] == "PoolSync" and sync["type"] == 16
    assert sync["reserve0"] == 123_456_789_012_345_678_901_234  # u128 stays a JSON integer
    assert sync["pool_address"] == "0x6e7a5fafcec6bb1e78bae2a1f0b612012bf14827"
    assert not any(k.startswith("_") or "padding" in k for k in sync)
    unknown = by_name["unknown_tlv_kept_raw"]["tlvs"][0]
    assert unknown == {"type": 9, "name": "unknown", "raw": "010203"}
    assert by_name["checksum_zero_hot_path"]["header"]["checksum"] == 0
    assert [t["name"] for t in by_name["version_2_raw_tlvs"]["tlvs"]] == ["unknown"]
    book = bytes.fromhex(next(c["hex"] for c in GOLDEN_TABLE if c["name"] == "empty_order_book_extended"))
    assert book[32:37] == bytes([255, 0, 3]) + (2456).to_bytes(2, "little")
