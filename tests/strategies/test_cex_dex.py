"""cex_dex: both directions with the taker fee, the quoted size caps the fill, stale sides are not used."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.amm.v2 import get_amount_out
from flows.state.join import AsOfJoin
from flows.strategies import cex_dex
from tests.strategies.factories import USDC, WETH, params, pool, quote

DEX = pool("0xa", 400, USDC, 3_000_000 * 10**6, WETH, 1_000 * 10**18, sequence=1)  # 3,000 USDC/WETH
ETH = "102:ETH/USD"


def _sell_at_bid(q, weth: int) -> int:
    """USDC raw for selling ``weth`` wei at the bid, taker fee deducted, floored (as cex_dex states it)."""
    return weth * q.bid_price * 10**6 * (10_000 - q.taker_fee_bps) // (10**8 * 10**18 * 10_000)


def _buy_at_ask(q, usdc: int) -> int:
    return usdc * 10**8 * 10**18 * (10_000 - q.taker_fee_bps) // (q.ask_price * 10**6 * 10_000)


def test_dex_cheap_buys_on_the_pool_and_sells_at_the_bid() -> None:
    q = quote(ETH, WETH, USDC, bid=3_060.0, ask=3_060.5, size=100)
    (opp,) = cex_dex.evaluate([DEX, q], params(), now_ns=0)
    assert opp.path == (USDC, WETH, USDC) and opp.pools == ("0xa", ETH) and opp.venues == (400, 102)
    assert opp.fees_bps == (30, 5) and opp.flash_fee == 0
    weth = get_amount_out(opp.amount_in, *DEX.reserves_for(USDC), 30)
    assert _sell_at_bid(q, weth) == opp.amount_out > opp.amount_in
    assert opp.inputs[1].pool == ETH and opp.inputs[1].block_number == 0


def test_dex_dear_buys_at_the_ask_and_sells_into_the_pool() -> None:
    q = quote(ETH, WETH, USDC, bid=2_939.5, ask=2_940.0, size=100)
    (opp,) = cex_dex.evaluate([DEX, q], params(), now_ns=0)
    assert opp.pools == (ETH, "0xa") and opp.fees_bps == (5, 30)
    weth = _buy_at_ask(q, opp.amount_in)
    assert get_amount_out(weth, *DEX.reserves_for(WETH), 30) == opp.amount_out > opp.amount_in


def test_the_quoted_size_caps_the_trade() -> None:
    deep = cex_dex.evaluate([DEX, quote(ETH, WETH, USDC, bid=3_060.0, ask=3_061.0, size=100)], params(), now_ns=0)
    thin = cex_dex.evaluate([DEX, quote(ETH, WETH, USDC, bid=3_060.0, ask=3_061.0, size=1)], params(), now_ns=0)
    weth_thin = get_amount_out(thin[0].amount_in, *DEX.reserves_for(USDC), 30)
    assert weth_thin <= 10**18 < get_amount_out(deep[0].amount_in, *DEX.reserves_for(USDC), 30)
    assert thin[0].net_profit < deep[0].net_profit


def test_stale_quote_sides_and_taker_fees_are_respected() -> None:
    q = quote(ETH, WETH, USDC, bid=3_060.0, ask=3_060.5, sequence=2)
    late_pool = replace(DEX, timestamp_ns=q.timestamp_ns + 4_000_000_000)
    assert cex_dex.evaluate([late_pool, q], params(max_quote_age_ms=3_000), now_ns=0) == []
    assert cex_dex.evaluate([late_pool, q], params(max_quote_age_ms=5_000), now_ns=0) != []
    # 30 bps on the pool + 200 bps taker fee: a 2 % gap is not enough.
    assert cex_dex.evaluate([DEX, replace(q, taker_fee_bps=200)], params(), now_ns=0) == []


def test_a_trade_is_a_one_sided_quote_and_triggers_the_join() -> None:
    bid_only = replace(quote(ETH, WETH, USDC, bid=3_060.0, ask=0.0, sequence=2), ask_size=0, ask_ns=0)
    join = AsOfJoin(10**15, 10**12)
    join.insert(DEX)
    (view,) = join.insert(bid_only)
    (opp,) = cex_dex.evaluate(view, params(), now_ns=0)
    assert opp.pools == ("0xa", ETH) and opp.trace == {"detect_in_ns": 2}


@settings(max_examples=80, deadline=None)
@given(
    mid=st.integers(2_000, 4_000),
    half_spread_bps=st.integers(0, 20),
    fee=st.integers(0, 50),
    depth=st.integers(10, 10**5),
)
def test_no_opportunity_while_the_pool_price_is_inside_the_quote(
    mid: int, half_spread_bps: int, fee: int, depth: int
) -> None:
    dex = pool("0xa", 400, USDC, depth * mid * 10**6, WETH, depth * 10**18)
    q = quote(
        ETH, WETH, USDC, bid=mid * (1 - half_spread_bps / 1e4), ask=mid * (1 + half_spread_bps / 1e4), taker_fee_bps=fee
    )
    assert cex_dex.evaluate([dex, q], params(), now_ns=0) == []
