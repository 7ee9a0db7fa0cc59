"""triangular: cycles re-check hop by hop in integers, consistent markets give nothing, one id per triangle."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.amm.cycle import optimal_input
from flows.amm.v2 import Hop, get_amount_out
from flows.state.join import AsOfJoin
from flows.strategies import triangular
from tests.strategies.factories import DAI, USDC, WBTC, WETH, params, pool

# WETH at 3,000 USDC, WBTC at 100,000 USDC; the WBTC/WETH pool overprices WBTC by 3 %.
USDC_WETH = pool("0x01", 400, USDC, 3_000_000 * 10**6, WETH, 1_000 * 10**18, sequence=1)
USDC_WBTC = pool("0x02", 401, USDC, 5_000_000 * 10**6, WBTC, 50 * 10**8, sequence=2)
WBTC_WETH = pool("0x03", 400, WBTC, 30 * 10**8, WETH, 1_030 * 10**18, sequence=3)


def _recheck(opp, states) -> int:
    """Run the opportunity's input hop by hop with the integer getAmountOut of its own input pools."""
    by_pool = {s.pool: s for s in states}
    amount = opp.amount_in
    for i, address in enumerate(opp.pools):
        state = by_pool[address]
        amount = get_amount_out(amount, *state.reserves_for(opp.path[i]), opp.fees_bps[i])
    return amount


def test_a_mispriced_triangle_is_found_starting_in_usdc() -> None:
    states = [USDC_WETH, USDC_WBTC, WBTC_WETH]
    (opp,) = triangular.evaluate(states, params(), now_ns=0)
    # Cheap WBTC on 0x02, sold dear for WETH on 0x03, WETH back to USDC on 0x01.
    assert opp.path == (USDC, WBTC, WETH, USDC)
    assert opp.pools == ("0x02", "0x03", "0x01")
    assert _recheck(opp, states) == opp.amount_out > opp.amount_in
    hops = [Hop(*s.reserves_for(opp.path[i]), 30) for i, s in enumerate((USDC_WBTC, WBTC_WETH, USDC_WETH))]
    assert optimal_input(hops).amount_in == opp.amount_in
    assert opp.pair == "/".join(sorted((USDC, WBTC, WETH)))
    assert opp.venues == (401, 400, 400)


def test_every_trigger_finds_the_same_triangle_once() -> None:
    join = AsOfJoin(10**15, 10**12)
    ids = []
    for state in (USDC_WETH, USDC_WBTC, WBTC_WETH):
        for view in join.insert(state):
            ids += [o.id for o in triangular.evaluate(view, params(), now_ns=0)]
    assert len(ids) == 1  # only the last pool closes the triangle
    again = triangular.evaluate([WBTC_WETH, USDC_WETH, USDC_WBTC], params(), now_ns=0)
    assert [o.id for o in again] == ids


def test_stale_legs_are_not_joined() -> None:
    old = replace(USDC_WETH, block_number=USDC_WETH.block_number - 6)
    assert triangular.evaluate([old, USDC_WBTC, WBTC_WETH], params(), now_ns=0) == []


def test_cycles_use_any_venue_combination() -> None:
    other = pool("0x04", 402, USDC, 3_000_000 * 10**6, WETH, 1_000 * 10**18, sequence=4)
    found = triangular.evaluate([USDC_WETH, USDC_WBTC, WBTC_WETH, other], params(), now_ns=0)
    assert {o.pools for o in found} == {("0x02", "0x03", "0x01"), ("0x02", "0x03", "0x04")}


def test_start_token_falls_back_to_the_smallest_address() -> None:
    weth_dai = pool("0x11", 400, WETH, 1_000 * 10**18, DAI, 3_000_000 * 10**18, sequence=1)
    dai_wbtc = pool("0x12", 400, DAI, 5_000_000 * 10**18, WBTC, 50 * 10**8, sequence=2)
    (opp,) = triangular.evaluate([weth_dai, dai_wbtc, WBTC_WETH], params(base_tokens=()), now_ns=0)
    assert opp.path[0] == min(DAI, WBTC, WETH) == WBTC


TOKENS = (USDC, WETH, WBTC, DAI)


@st.composite
def markets(draw: st.DrawFn, consistent: bool) -> list:
    """Pools on every pair of four tokens, priced from one USD vector (consistent) or independently."""
    usd = {t: draw(st.integers(1, 10**6)) for t in TOKENS}
    states = []
    seq = 0
    for i, a in enumerate(TOKENS):
        for b in TOKENS[i + 1 :]:
            for venue in (400, 401):
                seq += 1
                depth_usd = draw(st.integers(10**3, 10**7))
                skew = 1000 if consistent else draw(st.integers(900, 1100))
                ra = depth_usd * 10**18 // usd[a]
                rb = depth_usd * 10**18 * skew // (usd[b] * 1000)
                if ra == 0 or rb == 0:
                    continue
                fee = draw(st.sampled_from((1, 5, 25, 30, 100)))
                states.append(pool(f"0x{seq:02x}", venue, a, ra, b, rb, fee_bps=fee, sequence=seq))
    return states


@settings(max_examples=40, deadline=None)
@given(markets(consistent=False))
def test_reported_cycles_are_profitable_hop_by_hop_in_integers(states: list) -> None:
    p = params(gas_price_wei=30 * 10**9, flash_fee_bps=9)
    for opp in triangular.evaluate(states, p, now_ns=0):
        assert _recheck(opp, states) == opp.amount_out
        assert opp.amount_out - opp.amount_in - opp.gas_cost - opp.flash_fee == opp.net_profit >= p.min_net_profit
        assert len(set(opp.path[:3])) == 3 and opp.path[0] == opp.path[-1]


@settings(max_examples=60, deadline=None)
@given(markets(consistent=True))
def test_no_opportunity_in_a_consistent_market(states: list) -> None:
    assert triangular.evaluate(states, params(), now_ns=0) == []
