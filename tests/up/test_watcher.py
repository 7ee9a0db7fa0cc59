"""The chain watcher's swaps-only feed: a pool's Swap log -> the PoolSwap TLV AlphaPulse's adapter would send."""

from __future__ import annotations

from flows.collector.abi import SWAP as V3_SWAP_TOPIC
from flows.collector.abi import RawLog
from ops.simulator.chain.deploy import PairInfo
from ops.simulator.chain.watcher import V2_SWAP_TOPIC, swap_tlv

USDC = "0x" + "11" * 20
WETH = "0x" + "22" * 20
V2 = PairInfo("0x" + "a1" * 20, 300, 30, USDC, WETH, 6, 18)
V3 = PairInfo("0x" + "b1" * 20, 301, 5, USDC, WETH, 6, 18, "v3", 500, 10)
ADDR_TOPIC = "0x" + "00" * 12 + "cc" * 20


def _words(*values: int) -> bytes:
    return b"".join(v.to_bytes(32, "big", signed=True) for v in values)


def _log(pool: PairInfo, topic0: str, data: bytes) -> RawLog:
    return RawLog(pool.address, (topic0, ADDR_TOPIC, ADDR_TOPIC), data, 42, "0x" + "ab" * 32, 3)


def test_a_v2_swap_is_the_net_amounts_in_and_out() -> None:
    # amount0In, amount1In, amount0Out, amount1Out: 5,000 USDC in, 2.5 WETH out.
    tlv = swap_tlv(V2, _log(V2, V2_SWAP_TOPIC, _words(5_000 * 10**6, 0, 0, 25 * 10**17)), 7)
    assert tlv is not None
    assert (tlv.token_in_addr, tlv.token_out_addr, tlv.amount_in, tlv.amount_out) == (
        USDC,
        WETH,
        5 * 10**9,
        25 * 10**17,
    )
    assert (tlv.amount_in_decimals, tlv.amount_out_decimals, tlv.venue, tlv.block_number) == (6, 18, 300, 42)
    assert (tlv.sqrt_price_x96_after, tlv.liquidity_after, tlv.tick_after, tlv.timestamp_ns) == (0, 0, 0, 7)
    # The other way, and a flash swap whose donation rides on the input: reserves gain exactly the net amounts.
    tlv = swap_tlv(V2, _log(V2, V2_SWAP_TOPIC, _words(3, 10**18 + 5, 1_999 * 10**6, 0)), 7)
    assert tlv is not None
    assert (tlv.token_in_addr, tlv.amount_in, tlv.amount_out) == (WETH, 10**18 + 5, 1_999 * 10**6 - 3)


def test_a_v3_swap_carries_the_price_liquidity_and_tick_after_it() -> None:
    price, liquidity, tick = 3_543_191_142_285_914_378_072_636_784_640, 10**20, 200_000
    # amount0 < 0: the pool paid USDC out; amount1 > 0: it took WETH in.
    tlv = swap_tlv(V3, _log(V3, V3_SWAP_TOPIC, _words(-1_000 * 10**6, 5 * 10**17, price, liquidity, tick)), 9)
    assert tlv is not None
    assert (tlv.token_in_addr, tlv.token_out_addr, tlv.amount_in, tlv.amount_out) == (WETH, USDC, 5 * 10**17, 10**9)
    assert (tlv.sqrt_price_x96_after, tlv.liquidity_after, tlv.tick_after) == (price, liquidity, tick)
    assert (tlv.amount_in_decimals, tlv.amount_out_decimals, tlv.venue) == (18, 6, 301)


def test_what_is_not_one_swap_is_left_out() -> None:
    both_in = _words(10, 10, 0, 0)  # both reserves grew: no single input token (the collector's state corrects it)
    assert swap_tlv(V2, _log(V2, V2_SWAP_TOPIC, both_in), 1) is None
    assert swap_tlv(V2, _log(V2, V3_SWAP_TOPIC, _words(1, 2, 3, 4, 5)), 1) is None  # a V3 log on a V2 pair
    assert swap_tlv(V3, _log(V3, V3_SWAP_TOPIC, _words(1, 2, 3)), 1) is None  # not a V3 Swap's shape
