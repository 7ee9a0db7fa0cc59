"""The ``--pools`` cycle (pure): which pools make a cycle, both directions from a start token, and the traded input
priced with pulsearb's own math (closed form for V2 pairs, the mixed search with a V3 leg), or a probe that loses."""

from __future__ import annotations

from math import isqrt

from flows.amm.cycle import optimal_input
from flows.amm.mixed import V3Leg, optimal_input_mixed
from flows.amm.v2 import Hop, get_amount_out
from flows.amm.v3.pool import V3PoolState
from flows.amm.v3.tick_math import MAX_TICK, MIN_TICK, get_tick_at_sqrt_ratio
from flows.pools import PoolState
from ops.simulator.chain.deploy import PairInfo
from ops.validation.route import best, cycle_probe, cycle_problem, price, probe_input, routes

USDC, WETH, WBTC = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20
U, W = 10**6, 10**18


def v2(address: str, t0: str, t1: str) -> PairInfo:
    return PairInfo(address, 300, 30, t0, t1, 6, 18)


def v3(address: str, t0: str, t1: str) -> PairInfo:
    return PairInfo(address, 301, 5, t0, t1, 6, 18, kind="v3", fee_pips=500, tick_spacing=10)


def v2_state(p: PairInfo, r0: int, r1: int) -> PoolState:
    return PoolState(p.address, p.venue, p.token0, p.token1, 6, 18, r0, r1, 30, 1, 0, 0, 0)


def v3_state(p: PairInfo, r0: int, r1: int) -> PoolState:
    """A full-range pool as deep as a V2 pair of these reserves, at their price."""
    sqrt_price = isqrt(r1 * 2**192 // r0)
    liquidity = isqrt(r0 * r1)
    lower, upper = -(-MIN_TICK // 10) * 10, MAX_TICK // 10 * 10
    state = V3PoolState(
        sqrt_price, get_tick_at_sqrt_ratio(sqrt_price), liquidity, 500, 10, {lower: liquidity, upper: -liquidity}
    )
    return PoolState(p.address, p.venue, p.token0, p.token1, 6, 18, 0, 0, 5, 1, 0, 0, 0, v3=state)


A, B, C = "0x" + "01" * 20, "0x" + "02" * 20, "0x" + "03" * 20


def test_two_pools_of_one_pair_are_a_cycle_both_ways() -> None:
    pools = [v2(A, USDC, WETH), v3(B, USDC, WETH)]
    assert cycle_problem(pools) is None
    found = routes(pools, USDC)
    assert [[p.address for p in r.pools] for r in found] == [[A, B], [B, A]]
    assert all(r.path == (USDC, WETH, USDC) for r in found)
    assert routes(pools, WBTC) == []
    assert "do not hold the same token pair" in str(cycle_problem([v2(A, USDC, WETH), v2(B, WETH, WBTC)]))


def test_three_pools_must_be_a_triangle() -> None:
    pools = [v2(A, USDC, WETH), v2(B, WBTC, WETH), v3(C, USDC, WBTC)]
    assert cycle_problem(pools) is None
    found = routes(pools, USDC)
    assert [[p.address for p in r.pools] for r in found] == [[A, B, C], [C, B, A]]
    assert found[0].path == (USDC, WETH, WBTC, USDC) and found[1].path == (USDC, WBTC, WETH, USDC)
    # from WETH the same triangle starts elsewhere
    assert [[p.address for p in r.pools] for r in routes(pools, WETH)] == [[B, C, A], [A, C, B]]
    assert "do not form a triangle" in str(cycle_problem([v2(A, USDC, WETH), v2(B, USDC, WETH), v2(C, USDC, WBTC)]))


def test_v2_cycle_is_priced_by_the_closed_form() -> None:
    a, b = v2(A, USDC, WETH), v2(B, USDC, WETH)
    states = {A: v2_state(a, 2_050_000 * U, 975 * W), B: v2_state(b, 2_000_000 * U, 1_000 * W)}
    found = routes([a, b], USDC)
    chosen = best([price(r, states, None, cycle_probe(found, states)) for r in found])
    expected = optimal_input([Hop(2_000_000 * U, 1_000 * W, 30), Hop(975 * W, 2_050_000 * U, 30)])
    assert [p.address for p in chosen.route.pools] == [B, A] and chosen.how == "optimal"
    assert (chosen.amount_in, chosen.amount_out, chosen.profit) == (
        expected.amount_in,
        expected.amount_out,
        expected.profit,
    )
    assert chosen.profit > 0
    at = price(chosen.route, states, 1_000 * U, 1)
    mid = get_amount_out(1_000 * U, 2_000_000 * U, 1_000 * W, 30)
    assert at.amounts == (1_000 * U, mid, get_amount_out(mid, 975 * W, 2_050_000 * U, 30)) and at.how == "--amount-in"


def test_mixed_cycle_is_priced_by_the_mixed_search() -> None:
    a, c = v2(A, USDC, WETH), v3(C, USDC, WETH)
    states = {A: v2_state(a, 2_050_000 * U, 975 * W), C: v3_state(c, 2_000_000 * U, 1_000 * W)}
    found = routes([a, c], USDC)
    chosen = best([price(r, states, None, cycle_probe(found, states)) for r in found])
    legs = [V3Leg(states[C].v3, zero_for_one=True), Hop(975 * W, 2_050_000 * U, 30)]
    expected = optimal_input_mixed(legs)
    assert [p.address for p in chosen.route.pools] == [C, A]
    assert (chosen.amount_in, chosen.amount_out) == (expected.amount_in, expected.amount_out) and chosen.profit > 0


def test_pools_in_line_are_priced_at_a_losing_probe() -> None:
    a, c = v2(A, USDC, WETH), v3(C, USDC, WETH)
    states = {A: v2_state(a, 2_000_000 * U, 1_000 * W), C: v3_state(c, 2_000_000 * U, 1_000 * W)}
    found = routes([a, c], USDC)
    probe = cycle_probe(found, states)
    assert probe == min(probe_input(states[A], USDC), probe_input(states[C], USDC)) > 0
    assert probe_input(states[A], USDC) == 2_000 * U
    priced = [price(r, states, None, probe) for r in found]
    assert all(p.optimal is None and p.how == "probe" and p.amount_in == probe and p.profit < 0 for p in priced)
    chosen = best(priced)
    assert chosen.profit == max(p.profit for p in priced)
