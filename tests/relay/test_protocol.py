"""Enumerations and the 12-byte InstrumentId, against the reference's numbers and formulas (§1.3, §4)."""

from __future__ import annotations

import pytest

from base.venues import VenueId
from flows.relay.protocol import MAX_PAYLOAD, AssetType, InstrumentId, RelayDomain, SourceType, TlvType

from .helpers import USDC, WMATIC

M64 = (1 << 64) - 1


def test_numbering_is_the_canonical_one() -> None:
    assert [int(d) for d in RelayDomain] == [1, 2, 3, 4]  # not the 0-based regression
    assert (SourceType.COINBASE_COLLECTOR, SourceType.POLYGON_COLLECTOR, SourceType.ARBITRAGE_STRATEGY) == (3, 4, 20)
    assert (SourceType.EXECUTION_ENGINE, SourceType.MARKET_DATA_RELAY, SourceType.EXECUTION_RELAY) == (42, 80, 82)
    assert (VenueId.COINBASE, VenueId.POLYGON, VenueId.UNISWAP_V3, VenueId.QUICKSWAP) == (102, 202, 301, 400)
    assert (AssetType.TOKEN, AssetType.COIN, AssetType.POOL, AssetType.LP_TOKEN) == (50, 51, 100, 101)
    assert (TlvType.POOL_SYNC, TlvType.ARBITRAGE_SIGNAL, TlvType.HEARTBEAT, TlvType.POOL_INFO) == (16, 32, 100, 200)
    assert dict(MAX_PAYLOAD) == {1: 4096, 2: 8192, 3: 16384, 4: 32768}


@pytest.mark.parametrize(
    ("venue", "chain"), [(VenueId.UNISWAP_V2, 1), (VenueId.QUICKSWAP, 137), (VenueId.PANCAKESWAP, 56),
                         (VenueId.UNISWAP_V3_ARBITRUM, 42161), (VenueId.COINBASE, None)]
)
def test_venue_chain_id(venue: VenueId, chain: int | None) -> None:
    assert venue.chain_id() == chain


def test_coin_packs_the_symbol_big_endian() -> None:
    iid = InstrumentId.coin(VenueId.COINBASE, "BTC/USD")
    assert iid == InstrumentId(0x4254432F55534400, 102, 51, 0)
    assert iid.symbol() == "BTC/USD"
    assert InstrumentId.coin(1, "ABCDEFGHIJ").symbol() == "ABCDEFGH"  # first 8 bytes only
    assert InstrumentId.stock(VenueId.NASDAQ, "AAPL").asset_type == AssetType.STOCK


def test_token_uses_the_first_eight_address_bytes() -> None:
    iid = InstrumentId.token(VenueId.POLYGON, WMATIC.upper().replace("0X", "0x"))
    assert iid == InstrumentId(0x0D500B1D8E8EF31E, 202, 50, 0)
    with pytest.raises(ValueError, match="20 bytes"):
        InstrumentId.token(202, "0x1234")


def test_pool_id_is_order_independent_and_wraps() -> None:
    t0 = InstrumentId.token(202, WMATIC)
    t1 = InstrumentId.token(202, USDC)
    pool = InstrumentId.pool(VenueId.QUICKSWAP, t0, t1)
    lo, hi = sorted((t0.asset_id, t1.asset_id))
    assert pool == InstrumentId((lo * 31 + hi) & M64, 400, 100, 0)
    assert InstrumentId.pool(400, t1, t0) == pool
    tri = InstrumentId.triangular_pool(400, 3, 1, 2)
    assert tri == InstrumentId(1 * 31 + 2 * 17 + 3, 400, 100, 1)
    assert pool.lp_token() == InstrumentId(pool.asset_id, 400, AssetType.LP_TOKEN, 0)


def test_keys() -> None:
    iid = InstrumentId(0xFFEE_DDCC_BBAA_9988, 400, 100, 1)
    assert iid.to_u64() == (400 << 48) | (100 << 40) | 0xCC_BBAA_9988
    assert iid.cache_key() == (400 << 80) | (100 << 72) | (1 << 64) | 0xFFEE_DDCC_BBAA_9988
    assert InstrumentId.from_cache_key(iid.cache_key()) == iid


def test_pack_is_twelve_packed_bytes() -> None:
    iid = InstrumentId(0x0102030405060708, 0x0A0B, 0x0C, 0x0D)
    assert iid.pack() == bytes.fromhex("0807060504030201 0b0a 0c 0d")
    assert InstrumentId.unpack(b"xx" + iid.pack(), 2) == iid
