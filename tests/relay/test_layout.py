"""Golden bytes per TLV layout: every encode must put each field at the offset the reference gives.

Expected bytes are assembled here by hand from the offset tables of /work/shared/reference/alphapulse-protocol.md
§2.2 (and docs/protocol.md for pulsearb's own layouts), independently of the codec's struct formats.
"""

from __future__ import annotations

import pytest

from flows.relay.codec import decode_frame, encode_frame

from .helpers import sample_tlvs

S = sample_tlvs()


def u(n: int, size: int) -> bytes:
    return n.to_bytes(size, "little", signed=False)


def i(n: int, size: int) -> bytes:
    return n.to_bytes(size, "little", signed=True)


def a(addr: str) -> bytes:
    return bytes.fromhex(addr[2:])


def layout(size: int, *fields: tuple[int, bytes]) -> bytes:
    out = bytearray(size)
    for offset, data in fields:
        assert out[offset : offset + len(data)] == bytes(len(data)), f"overlap at {offset}"
        out[offset : offset + len(data)] = data
    return bytes(out)


def expected(name: str) -> bytes:
    t = S[name]
    if name == "Trade":
        return layout(
            40, (0, u(t.asset_id, 8)), (8, i(t.price, 8)), (16, i(t.volume, 8)), (24, u(t.execution_timestamp_ns, 8)),
            (32, u(t.venue_id, 2)), (34, u(t.asset_type, 1)), (35, u(t.reserved, 1)), (36, u(t.side, 1)),
        )
    if name in ("Quote", "QuoteUpdate"):
        return layout(
            56, (0, u(t.asset_id, 8)), (8, i(t.bid_price, 8)), (16, i(t.bid_size, 8)), (24, i(t.ask_price, 8)),
            (32, i(t.ask_size, 8)), (40, u(t.quote_timestamp_ns, 8)), (48, u(t.venue_id, 2)),
            (50, u(t.asset_type, 1)), (51, u(t.reserved, 1)),
        )
    if name == "OrderBook":
        def side(levels: tuple) -> bytes:
            body = b"".join(i(lv.price, 8) + i(lv.size, 8) + u(lv.order_count, 4) + u(lv.reserved, 4) for lv in levels)
            return u(len(levels), 2) + bytes(6) + body

        return layout(
            2456, (0, u(t.snapshot_timestamp_ns, 8)), (8, u(t.sequence, 8)), (16, i(t.precision_factor, 8)),
            (24, u(t.asset_id, 8)), (32, u(t.venue_id, 2)), (34, u(t.asset_type, 1)), (35, u(t.reserved, 1)),
            (40, side(t.bids)), (1248, side(t.asks)),
        )
    if name == "PoolLiquidity":
        reserves = b"".join(u(r, 16) for r in t.reserves)
        return layout(
            208, (0, u(t.timestamp_ns, 8)), (16, u(len(t.reserves), 2)), (32, reserves), (160, a(t.pool_address)),
            (192, u(t.venue, 2)),
        )
    if name == "PoolSwap":
        return layout(
            208, (0, u(t.amount_in, 16)), (16, u(t.amount_out, 16)), (32, u(t.liquidity_after, 16)),
            (48, u(t.timestamp_ns, 8)), (56, u(t.block_number, 8)), (64, i(t.tick_after, 4)), (68, u(t.venue, 2)),
            (70, u(t.amount_in_decimals, 1)), (71, u(t.amount_out_decimals, 1)), (80, a(t.pool_address)),
            (112, a(t.token_in_addr)), (144, a(t.token_out_addr)), (176, u(t.sqrt_price_x96_after, 16)),
        )
    if name in ("PoolMint", "PoolBurn"):
        return layout(
            208, (0, u(t.liquidity_delta, 16)), (16, u(t.amount0, 16)), (32, u(t.amount1, 16)),
            (48, u(t.timestamp_ns, 8)), (56, i(t.tick_lower, 4)), (60, i(t.tick_upper, 4)), (64, u(t.venue, 2)),
            (66, u(t.token0_decimals, 1)), (67, u(t.token1_decimals, 1)), (80, a(t.pool_address)),
            (112, a(t.provider_addr)), (144, a(t.token0_addr)), (176, a(t.token1_addr)),
        )
    if name == "PoolTick":
        return layout(
            64, (0, i(t.liquidity_net, 8)), (8, u(t.price_sqrt, 8)), (16, u(t.timestamp_ns, 8)), (24, i(t.tick, 4)),
            (28, u(t.venue, 2)), (32, a(t.pool_address)),
        )
    if name == "PoolState":
        return layout(
            192, (0, u(t.reserve0, 16)), (16, u(t.reserve1, 16)), (32, u(t.sqrt_price_x96, 16)),
            (48, u(t.liquidity, 16)), (64, u(t.block_number, 8)), (72, u(t.timestamp_ns, 8)), (80, i(t.tick, 4)),
            (84, u(t.fee_rate, 4)), (88, u(t.venue, 2)), (90, u(t.pool_type, 1)), (91, u(t.token0_decimals, 1)),
            (92, u(t.token1_decimals, 1)), (96, a(t.pool_address)), (128, a(t.token0_addr)), (160, a(t.token1_addr)),
        )
    if name == "PoolSync":
        return layout(
            160, (0, u(t.reserve0, 16)), (16, u(t.reserve1, 16)), (32, u(t.timestamp_ns, 8)),
            (40, u(t.block_number, 8)), (48, u(t.venue, 2)), (50, u(t.token0_decimals, 1)),
            (51, u(t.token1_decimals, 1)), (64, a(t.pool_address)), (96, a(t.token0_addr)), (128, a(t.token1_addr)),
        )
    if name == "GasPrice":
        return layout(
            32, (0, u(t.block_number, 8)), (8, u(t.timestamp_ns, 8)), (16, u(t.gas_price_gwei, 4)),
            (20, u(t.base_fee_gwei, 4)), (24, u(t.priority_fee_gwei, 4)), (28, u(t.venue, 2)), (30, u(t.reserved, 2)),
        )
    if name == "ArbitrageSignal":
        return layout(
            170, (0, u(t.strategy_id, 2)), (2, u(t.signal_id, 8)), (10, u(t.chain_id, 4)), (14, a(t.source_pool)),
            (34, a(t.target_pool)), (54, u(t.source_venue, 2)), (56, u(t.target_venue, 2)), (58, a(t.token_in)),
            (78, a(t.token_out)), (98, i(t.expected_profit_usd_q8, 8)), (106, i(t.required_capital_usd_q8, 8)),
            (114, u(t.spread_bps, 2)), (116, i(t.dex_fees_usd_q8, 8)), (124, i(t.gas_cost_usd_q8, 8)),
            (132, i(t.slippage_usd_q8, 8)), (140, i(t.net_profit_usd_q8, 8)), (148, u(t.slippage_tolerance_bps, 2)),
            (150, u(t.max_gas_price_gwei, 4)), (154, u(t.valid_until, 4)), (158, u(t.priority, 2)),
            (160, u(t.reserved, 2)), (162, u(t.timestamp_ns, 8)),
        )
    if name == "PoolInfo":
        return layout(
            88, (0, u(t.discovered_at, 8)), (8, u(t.last_seen, 8)), (16, u(t.fee_tier, 4)), (20, u(t.venue, 2)),
            (22, u(t.tlv_type, 1)), (23, u(t.tlv_length, 1)), (24, u(t.token0_decimals, 1)),
            (25, u(t.token1_decimals, 1)), (26, u(t.pool_type, 1)), (28, a(t.pool_address)),
            (48, a(t.token0_address)), (68, a(t.token1_address)),
        )
    if name == "Heartbeat":
        return layout(16, (0, u(t.timestamp_ns, 8)), (8, u(t.sequence, 8)))
    if name == "ExecutionReport":
        return layout(
            48, (0, u(t.signal_id, 8)), (8, u(t.timestamp_ns, 8)), (16, u(t.block_number, 8)),
            (24, i(t.realized_profit, 16)), (40, u(t.gas_used, 4)), (44, u(t.status, 1)), (45, u(t.reason_code, 1)),
            (46, u(t.strategy_id, 2)),
        )
    if name == "FlashLoanResult":
        pools = b"".join(a(p) for p in t.pools)
        return layout(
            132 + 20 * len(t.pools), (0, u(t.signal_id, 8)), (8, u(t.timestamp_ns, 8)), (16, u(t.block_number, 8)),
            (24, u(t.amount, 16)), (40, u(t.fee, 16)), (56, i(t.realized_profit, 16)), (72, u(t.gas_used, 4)),
            (76, u(t.status, 1)), (77, u(t.provider, 1)), (78, u(len(t.pools), 1)), (80, a(t.asset)),
            (100, a(t.tx_hash)), (132, pools),
        )
    if name == "Subscribe":
        body = bytes(t.tlv_types) + b"".join(u(v, 2) for v in t.venues) + b"".join(a(p) for p in t.pools)
        return bytes((1, len(t.tlv_types), len(t.venues), len(t.pools))) + body
    raise AssertionError(name)


@pytest.mark.parametrize("name", sorted(S))
def test_encode_matches_reference_layout(name: str) -> None:
    tlv = S[name]
    want = expected(name)
    assert tlv.encode() == want
    if tlv.SIZE is not None:
        assert len(want) == tlv.SIZE
    assert type(tlv).decode(want, 0, len(want)) == tlv


@pytest.mark.parametrize("name", sorted(S))
def test_sample_survives_a_frame(name: str) -> None:
    tlv = S[name]
    raw = encode_frame(4, 80, [tlv], sequence=3, timestamp_ns=9)
    assert decode_frame(raw).tlvs == (tlv,)


def test_sizes_are_the_real_ones_not_the_declared() -> None:
    sizes = {name: len(S[name].encode()) for name in S}
    assert sizes["Quote"] == 56  # declared 52
    assert sizes["ArbitrageSignal"] == 170  # declared 168
    assert sizes["PoolSync"] == 160  # declared bound 40..150
    assert sizes["PoolSwap"] == sizes["PoolMint"] == sizes["PoolBurn"] == sizes["PoolLiquidity"] == 208
    assert sizes["OrderBook"] == 2456
    assert (sizes["PoolTick"], sizes["PoolState"], sizes["GasPrice"], sizes["PoolInfo"]) == (64, 192, 32, 88)
