"""Sizing a cycle through a real V3 pool and a V2 pool: ternary search vs a brute-force grid with refinement."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.amm.cycle import Hop, Sizing, optimal_input
from flows.amm.mixed import V3Leg, optimal_input_mixed
from flows.amm.v2 import get_amount_out
from flows.amm.v3 import load_state_file

from .helpers import V3_STATE_FILE

STATE = load_state_file(V3_STATE_FILE)  # token0 = WBTC (8 decimals), token1 = WETH (18)
WEI_PER_SAT = Fraction(STATE.sqrt_price_x96**2, 2**192)
V2_WBTC = 100 * 10**8


def _v2_reserves(premium: Fraction) -> tuple[int, int]:
    """A V2 WBTC/WETH pair holding 100 WBTC, pricing WBTC at the V3 price times ``premium``."""
    weth = V2_WBTC * WEI_PER_SAT * premium
    return V2_WBTC, weth.numerator // weth.denominator


def _cycle(premium: Fraction) -> tuple[list, Callable[[int], int]]:
    """Legs in the profitable direction and an independent leg-by-leg net function (WETH in, WETH out)."""
    wbtc, weth = _v2_reserves(premium)
    if premium > 1:  # WBTC dear on V2: buy it on V3 (WETH in, one for zero), sell it on V2
        legs = [V3Leg(STATE, False), Hop(wbtc, weth, 30)]

        def net(x: int) -> int:
            y = STATE.swap_exact_in(x, False)[0]
            return (get_amount_out(y, wbtc, weth) if y else 0) - x

    else:  # WBTC cheap on V2: buy it there, sell it on V3 (WBTC in, zero for one)
        legs = [Hop(weth, wbtc, 30), V3Leg(STATE, True)]

        def net(x: int) -> int:
            y = get_amount_out(x, weth, wbtc)
            return (STATE.swap_exact_in(y, True)[0] if y else 0) - x

    return legs, net


def _least_input(buys, y: int, hi: int) -> int:
    """Least x with buys(x) >= y, by bisection (buys is non-decreasing)."""
    lo = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if buys(mid) >= y:
            hi = mid
        else:
            lo = mid
    return hi


def _brute_force(net, buys, depth: int) -> int:
    """Best net on a 400-point geometric grid, refined by 64-point grids between the best point's neighbours,
    then a scan of the least inputs buying +-16 satoshi around it."""
    grid = sorted({int(Fraction(depth) ** Fraction(k, 400)) for k in range(1, 401)})
    values = [net(x) for x in grid]
    k = max(range(len(grid)), key=values.__getitem__)
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    while hi - lo > 64:
        points = [lo + (hi - lo) * i // 64 for i in range(65)]
        values = [net(x) for x in points]
        k = max(range(65), key=values.__getitem__)
        lo, hi = points[max(k - 1, 0)], points[min(k + 1, 64)]
    best_x = max(range(lo, hi + 1), key=net)
    best = net(best_x)
    y_centre = buys(best_x)
    for y in range(max(1, y_centre - 16), y_centre + 17):
        best = max(best, net(_least_input(buys, y, 2 * best_x + 1)))
    return best


@pytest.mark.parametrize("premium", [Fraction(101, 100), Fraction(99, 100), Fraction(6, 5)])
def test_v2_v3_cycle_against_brute_force(premium: Fraction) -> None:
    legs, net = _cycle(premium)
    sizing = optimal_input_mixed(legs)
    assert sizing.net > 0
    assert sizing.net == net(sizing.amount_in)  # the reported profit is what the exact swaps give
    assert sizing.amount_out == sizing.amount_in + sizing.profit
    depth = legs[-1].amount_out(2**255 - 1)
    assert sizing.amount_in < depth
    buys = legs[0].amount_out
    reference = _brute_force(net, buys, depth)
    # One satoshi valued in wei: the grain of the V3 fee's rounding, the only saw-tooth the search leaves.
    sat = int(WEI_PER_SAT * premium) + 1
    assert reference - sat <= sizing.net
    assert sizing.net - reference <= sat


@pytest.mark.parametrize("premium", [Fraction(10_001, 10_000), Fraction(9_999, 10_000)])
def test_a_price_gap_below_the_fees_is_not_traded(premium: Fraction) -> None:
    legs, _net = _cycle(premium)
    assert optimal_input_mixed(legs) == Sizing(0, 0, 0, 0, 0)


def test_inventory_cap_and_flash_fee() -> None:
    legs, net = _cycle(Fraction(101, 100))
    free = optimal_input_mixed(legs)
    capped = optimal_input_mixed(legs, max_amount_in=free.amount_in // 2)
    assert 0 < capped.amount_in <= free.amount_in // 2
    assert 0 < capped.net < free.net
    assert capped.net == net(capped.amount_in)
    flash = optimal_input_mixed(legs, flash_fee_bps=5)
    assert flash.flash_fee == -(-flash.amount_in * 5 // 10_000)
    assert flash.net == net(flash.amount_in) - flash.flash_fee
    assert flash.net < free.net


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least two legs"):
        optimal_input_mixed([Hop(10, 10, 30)])
    with pytest.raises(ValueError, match="non-negative"):
        optimal_input_mixed([Hop(10, 10, 30), Hop(10, 10, 30)], flash_fee_bps=-1)


def _reserve() -> st.SearchStrategy[int]:
    return st.integers(3, 29).flatmap(lambda e: st.integers(10**e, 10 ** (e + 1)))


@settings(max_examples=150, deadline=None)
@given(pools=st.lists(st.tuples(_reserve(), _reserve(), st.integers(1, 100)), min_size=2, max_size=2))
def test_v2_legs_come_within_a_few_units_of_the_proven_optimum(pools: list[tuple[int, int, int]]) -> None:
    hops = [Hop(*p) for p in pools]
    exact = optimal_input(hops)
    searched = optimal_input_mixed(hops)
    assert searched.net <= exact.net
    # Two legs: on the search grid the integer profit is the real one minus < 2 units of rounding.
    assert exact.net - searched.net <= 4
