"""cross_dex: exact sizes, gas and freshness, triggers, a V3 leg, and no opportunity in a consistent market."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.amm.v2 import get_amount_out
from flows.amm.v3.pool import V3PoolState
from flows.amm.v3.tick_math import get_sqrt_ratio_at_tick
from flows.state.join import AsOfJoin
from flows.strategies import cross_dex
from tests.strategies.factories import USDC, WBTC, WETH, params, pool

A = pool("0xa", 400, USDC, 2_000_000 * 10**6, WETH, 1_000 * 10**18, sequence=1)
B = pool("0xb", 401, USDC, 2_100_000 * 10**6, WETH, 1_000 * 10**18, sequence=2)


def test_reference_example_sizes_exactly() -> None:
    # reference/amm-math.md: x* = 21,718.63 USDC, pi* = 469.58 USDC; integers re-checked hop by hop.
    (opp,) = cross_dex.evaluate([A, B], params(), now_ns=0)
    assert (opp.amount_in, opp.amount_out) == (21_718_627_451, 22_188_205_707)
    middle = get_amount_out(opp.amount_in, *A.reserves_for(USDC), 30)
    assert get_amount_out(middle, *B.reserves_for(WETH), 30) == opp.amount_out
    assert opp.path == (USDC, WETH, USDC) and opp.pools == ("0xa", "0xb") and opp.venues == (400, 401)
    assert opp.gross_profit == opp.net_profit == 469_578_256
    assert opp.inputs[0].pool == "0xa" and opp.inputs[1].sequence == 2


def test_gas_is_charged_in_the_start_token_at_the_pair_price_and_gates() -> None:
    gas = params(gas_price_wei=30 * 10**9, gas_units=150_000)
    (opp,) = cross_dex.evaluate([A, B], gas, now_ns=0)
    # 4.5e15 wei of WETH at the deepest pool's price; both hold 1,000 WETH, the first by address (A) wins:
    # 2,000 USDC/WETH -> 9 USDC.
    assert opp.gas_cost == 9_000_000
    assert opp.net_profit == opp.gross_profit - 9_000_000
    assert cross_dex.evaluate([A, B], replace(gas, min_net_profit=opp.net_profit + 1), now_ns=0) == []


def test_gas_is_priced_at_the_cycles_own_pools_before_a_deeper_pool_of_the_join() -> None:
    # C is ten times deeper than A and B, at 2,020 USDC/WETH, on A's venue (so A and C are never joined). The A-B
    # cycle is costed at its own pools (9 USDC), not at C (9.09 USDC): its cost depends on the states its id names.
    c = pool("0xc", 400, USDC, 20_200_000 * 10**6, WETH, 10_000 * 10**18, sequence=3)
    gas = params(gas_price_wei=30 * 10**9, gas_units=150_000)
    found = {frozenset(o.pools): o for o in cross_dex.evaluate([A, B, c], gas, now_ns=0)}
    assert found[frozenset(("0xa", "0xb"))].gas_cost == 9_000_000
    assert found[frozenset(("0xc", "0xb"))].gas_cost == 9_090_000


def test_ids_are_deterministic_and_name_the_inputs() -> None:
    first = cross_dex.evaluate([A, B], params(), now_ns=1)
    again = cross_dex.evaluate([B, A], params(), now_ns=2)
    assert [o.id for o in first] == [o.id for o in again]
    moved = replace(B, sequence=3)
    assert cross_dex.evaluate([A, moved], params(), now_ns=0)[0].id != first[0].id


def test_stale_partner_and_same_venue_are_not_joined() -> None:
    old = replace(A, block_number=A.block_number - 6)
    assert cross_dex.evaluate([old, B], params(), now_ns=0) == []
    same_venue = replace(B, venue=400)
    assert cross_dex.evaluate([A, same_venue], params(), now_ns=0) == []


def test_a_trigger_is_joined_with_the_other_pools_only_and_keeps_its_trace() -> None:
    c = pool("0xc", 402, USDC, 2_050_000 * 10**6, WETH, 1_000 * 10**18, sequence=3, trace={"detect_in_ns": 7})
    join = AsOfJoin(10**15, 10**12)
    for s in (A, B):
        join.insert(s)
    (view,) = join.insert(c)
    found = cross_dex.evaluate(view, params(), now_ns=0)
    assert {frozenset(o.pools) for o in found} == {frozenset(("0xa", "0xc")), frozenset(("0xb", "0xc"))}
    assert all(o.trace == {"detect_in_ns": 7} for o in found)


def test_usd_prices_price_gas_when_no_pool_of_the_join_does() -> None:
    a = pool("0xa", 400, USDC, 6_000_000 * 10**6, WBTC, 50 * 10**8, sequence=1)
    b = pool("0xb", 401, USDC, 6_300_000 * 10**6, WBTC, 50 * 10**8, sequence=2)
    (opp,) = cross_dex.evaluate([a, b], params(gas_price_wei=10**9, gas_units=100_000), now_ns=0)
    # 1e14 wei of WETH at 3682.04 USDC/WETH = 0.368204 USDC, exactly.
    assert opp.gas_cost == 368_204
    assert cross_dex.evaluate([a, b], params(gas_price_wei=10**9, usd_prices={}), now_ns=0) == []


def test_a_v3_pool_is_a_leg_sized_with_its_ticks() -> None:
    # A V3 USDC/WETH pool at ~2,100 USDC/WETH against the V2 pool A at 2,000: buy WETH on A, sell on the V3 pool.
    tick = -198_240  # token0 USDC (6), token1 WETH (18): price WETH per USDC raw ~ 1.0001**tick
    v3 = V3PoolState(get_sqrt_ratio_at_tick(tick), tick, 10**17, 3000, 60, {-198_300: 10**17, -198_180: -(10**17)})
    c = pool("0xc", 300, USDC, 0, WETH, 0, sequence=3, v3=v3)
    (opp,) = cross_dex.evaluate([A, c], params(), now_ns=0)
    assert opp.pools == ("0xa", "0xc") and opp.fees_bps == (30, 30)
    weth = get_amount_out(opp.amount_in, *A.reserves_for(USDC), 30)
    assert v3.swap_exact_in(weth, zero_for_one=False)[0] == opp.amount_out
    assert opp.amount_out > opp.amount_in


@settings(max_examples=200, deadline=None)
@given(
    price=st.integers(1_000, 5_000),
    depth_a=st.integers(10**4, 10**8),
    depth_b=st.integers(10**4, 10**8),
    fee_a=st.integers(1, 100),
    fee_b=st.integers(1, 100),
)
def test_no_opportunity_between_pools_at_the_same_price(
    price: int, depth_a: int, depth_b: int, fee_a: int, fee_b: int
) -> None:
    a = pool("0xa", 400, USDC, depth_a * price * 10**6, WETH, depth_a * 10**18, fee_bps=fee_a, sequence=1)
    b = pool("0xb", 401, USDC, depth_b * price * 10**6, WETH, depth_b * 10**18, fee_bps=fee_b, sequence=2)
    assert cross_dex.evaluate([a, b], params(), now_ns=0) == []


@settings(max_examples=200, deadline=None)
@given(
    reserves=st.lists(st.integers(1, 10**30), min_size=4, max_size=4),
    fees=st.tuples(st.integers(0, 9_999), st.integers(0, 9_999)),
    flash=st.integers(0, 100),
)
def test_the_v2_screen_equals_the_generic_marginal_rate(reserves: list[int], fees: tuple, flash: int) -> None:
    from flows.strategies.cross_dex import _screen
    from flows.strategies.legs import profitable_at_margin

    a = pool("0xa", 400, USDC, reserves[0], WETH, reserves[1], fee_bps=fees[0])
    b = pool("0xb", 401, USDC, reserves[2], WETH, reserves[3], fee_bps=fees[1])
    generic = (
        profitable_at_margin([a.leg(a.token0), b.leg(a.token1)], flash),
        profitable_at_margin([b.leg(a.token0), a.leg(a.token1)], flash),
    )
    assert _screen(a, b, flash) == generic
