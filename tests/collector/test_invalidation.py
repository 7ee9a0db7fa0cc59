"""StateInvalidation (TLV 106): its 224-byte layout, the bridge's route to market.invalidation, and which followed
pools a record names."""

from __future__ import annotations

from flows.bridge import Router
from flows.collector.invalidation import invalidated_pools, pool_instrument
from flows.collector.state import PoolInfo
from flows.relay.codec import decode_frame, encode_frame
from flows.relay.framing import Framer
from flows.relay.protocol import AssetType, InstrumentId, RelayDomain, SourceType
from flows.relay.tlv import StateInvalidation
from schemas.serde import codec

WMATIC = "0x0d500b1d8e8ef31e21c99d1db9a6444d3adf1270"
USDC = "0x2791bca1f2de4661ed88a30c99a7a9449aa84174"
WETH = "0x7ceb23fd6bc0add59e62ac25578270cff1b9f619"


def info(address: str, venue: int, t0: str, t1: str) -> PoolInfo:
    return PoolInfo(address, "v2", "0xf", venue, 0, t0, t1, 18, 6, 30)


POOLS = {
    "0x01": info("0x01", 400, WMATIC, USDC),
    "0x02": info("0x02", 401, WMATIC, USDC),
    "0x03": info("0x03", 400, USDC, WETH),
}


def test_the_tlv_has_the_reference_layout() -> None:
    """Bytes assembled by hand from the offsets of the protocol reference (@0 sequence, @8 timestamp, @16 count,
    @24 16 x 12-byte InstrumentIds, @216 venue, @218 reason)."""
    pool = pool_instrument(POOLS["0x01"])
    token = InstrumentId.token(202, WETH)
    tlv = StateInvalidation(2**64 - 1, 1_755_893_490_012_637_000, (pool.cache_key(), token.cache_key()), 400, 3)
    raw = tlv.encode()
    want = bytearray(224)
    want[0:8] = (2**64 - 1).to_bytes(8, "little")
    want[8:16] = (1_755_893_490_012_637_000).to_bytes(8, "little")
    want[16:18] = (2).to_bytes(2, "little")
    for i, iid in enumerate((pool, token)):
        at = 24 + 12 * i
        want[at : at + 8] = iid.asset_id.to_bytes(8, "little")
        want[at + 8 : at + 10] = iid.venue.to_bytes(2, "little")
        want[at + 10] = iid.asset_type
        want[at + 11] = iid.reserved
    want[216:218] = (400).to_bytes(2, "little")
    want[218] = 3
    assert raw == bytes(want)
    assert StateInvalidation.decode(raw) == tlv
    frame = encode_frame(RelayDomain.MARKET_DATA, SourceType.POLYGON_COLLECTOR, [tlv], sequence=1, timestamp_ns=2)
    assert decode_frame(frame).tlvs == (tlv,)


def test_the_bridge_routes_it_to_market_invalidation_and_the_pools_are_found() -> None:
    pool = pool_instrument(POOLS["0x01"])
    tlv = StateInvalidation(7, 99, (pool.cache_key(),), 400, 1)
    frame = encode_frame(RelayDomain.MARKET_DATA, SourceType.POLYGON_COLLECTOR, [tlv], sequence=5, timestamp_ns=6)
    router = Router("bridge", clock=lambda: 10)
    [(topic, key, value)] = router.route(Framer().feed(frame), received_ns=8)
    assert (topic, key) == ("market.invalidation", b"400")
    rec = codec(topic).decode(value)
    assert rec["instruments"] == [
        {"asset_id": pool.asset_id - (2**64 if pool.asset_id >= 2**63 else 0), "venue": 400, "asset_type": 100,
         "reserved": 0}
    ]  # fmt: skip
    assert (rec["venue"], rec["reason"], rec["tlv_sequence"], rec["sequence"], rec["source"]) == (400, 1, 7, 5, 4)
    # the pool instrument names both pools of the pair on that venue only
    assert invalidated_pools(rec, POOLS) == {"0x01"}
    token = {"asset_id": InstrumentId.token(202, WETH).asset_id, "venue": 202, "asset_type": AssetType.TOKEN,
             "reserved": 0}  # fmt: skip
    assert invalidated_pools({"venue": 202, "instruments": [token]}, POOLS) == {"0x03"}
    assert invalidated_pools({"venue": 401, "instruments": []}, POOLS) == {"0x02"}  # a whole DEX venue
    assert invalidated_pools({"venue": 202, "instruments": []}, POOLS) == set(POOLS)  # a whole chain
