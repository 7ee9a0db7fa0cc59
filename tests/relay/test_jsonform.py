"""JSON form: shape, lower-case hex addresses, integers at any width, and the encode/decode identity."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from base.errors import FrameError
from flows.relay.codec import decode_frame, encode_frame
from flows.relay.jsonform import frame_from_json, frame_to_json, tlv_from_json, tlv_to_json
from flows.relay.protocol import MAX_PAYLOAD, RelayDomain
from flows.relay.tlv import UnknownTlv

from .helpers import any_known_tlv, sample_tlvs

S = sample_tlvs()


@settings(max_examples=60, deadline=None)
@given(tlvs=st.lists(any_known_tlv | st.builds(UnknownTlv, st.integers(0, 254).filter(lambda t: t not in
       (1, 2, 3, 10, 11, 12, 13, 14, 15, 16, 17, 18, 32, 45, 67, 100, 106, 200, 250)), st.binary(max_size=300)),
       max_size=3), crc=st.booleans(), version=st.sampled_from([1, 1, 1, 2]))
def test_json_identity(tlvs: list, crc: bool, version: int) -> None:
    if version != 1:
        tlvs = [UnknownTlv(t.wire_type, t.encode()) for t in tlvs]
    domain = RelayDomain.SYSTEM
    try:
        raw = encode_frame(domain, 80, tlvs, sequence=5, timestamp_ns=6, checksum=crc, version=version)
    except FrameError:
        return  # too big for any domain
    obj = frame_to_json(decode_frame(raw))
    text = json.dumps(obj)  # JSON-serialisable as is
    again = json.loads(text)
    assert frame_from_json(again) == raw
    assert frame_to_json(decode_frame(frame_from_json(again))) == again
    assert MAX_PAYLOAD[domain] >= obj["header"]["payload_size"]


def test_addresses_come_out_lower_case_and_go_in_any_case() -> None:
    obj = tlv_to_json(S["PoolSync"])
    assert obj["token1_addr"] == "0x2791bca1f2de4661ed88a30c99a7a9449aa84174"
    obj["token1_addr"] = "0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174"  # EIP-55 checksummed
    assert tlv_from_json(obj) == S["PoolSync"]


def test_nested_values() -> None:
    book = tlv_to_json(S["OrderBook"])
    assert book["bids"][0] == {"price": 11682700000000, "size": 5, "order_count": 2, "reserved": 0}
    assert tlv_from_json(book) == S["OrderBook"]
    liq = tlv_to_json(S["PoolLiquidity"])
    assert liq["reserves"] == [10**24, 2_500_000 * 10**6]
    assert tlv_from_json(liq) == S["PoolLiquidity"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"venue": "400"}, "PoolSync.venue: expected an integer"),
        ({"venue": 1 << 16}, "PoolSync.venue: 65536 out of range for u16"),
        ({"reserve0": -5}, "reserve0: -5 out of range for u128"),
        ({"pool_address": "0xabc"}, "pool_address: expected 20 bytes as 0x hex"),
        ({"bogus": 1}, "unknown bogus"),
    ],
)
def test_bad_tlv_json_is_one_clear_error(change: dict, message: str) -> None:
    obj = {**tlv_to_json(S["PoolSync"]), **change}
    with pytest.raises(FrameError, match=message):
        tlv_from_json(obj)


def test_missing_fields_and_bad_frames() -> None:
    obj = tlv_to_json(S["PoolSync"])
    del obj["reserve1"]
    with pytest.raises(FrameError, match="missing reserve1"):
        tlv_from_json(obj)
    with pytest.raises(FrameError, match="'raw' must be a hex string"):
        tlv_from_json({"type": 9, "name": "unknown", "raw": "zz"})
    with pytest.raises(FrameError, match="expected an object with 'header'"):
        frame_from_json({"tlvs": []})
    good = frame_to_json(decode_frame(encode_frame(1, 4, [S["PoolSync"]], sequence=1, timestamp_ns=1)))
    good["header"]["sequence"] = "1"
    with pytest.raises(FrameError, match="'sequence' must be an integer"):
        frame_from_json(good)
