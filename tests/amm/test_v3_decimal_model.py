"""The V3 swap against an independent 80-digit Decimal model of concentrated liquidity.

The model is the textbook one (reference/amm-math.md): inside a range of liquidity L, token0 in moves
``1/sqrtP`` up by ``dx/L`` and pays ``L*(sqrtP - sqrtP')`` of token1; token1 in moves ``sqrtP`` up by ``dy/L`` and
pays ``L*(1/sqrtP - 1/sqrtP')`` of token0; crossing an initialized tick adds its liquidity_net (negated going down).
It stops only at initialized ticks and rounds nothing. The contract rounds every step in the pool's favour, so its
output is never above the model's and falls short by at most a couple of units per step taken.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.amm.v3 import V3PoolState, load_state_file
from flows.amm.v3.tick_math import get_sqrt_ratio_at_tick

from .helpers import V3_STATE_FILE

PREC = 80
Q96 = Decimal(2) ** 96


def _sqrt_at(tick: int) -> Decimal:
    return (Decimal("1.0001") ** tick).sqrt()


def model_exact_in(
    state: V3PoolState, amount_in: int, zero_for_one: bool, fee_in: int | None = None
) -> tuple[Decimal, int]:
    """Exact output of swapping ``amount_in`` in, and how many initialized ticks it crosses.

    ``fee_in``: when given, the net-of-fee input (as the contract computes it in a single step) instead of
    ``amount_in * (1 - fee)``.
    """
    with localcontext() as ctx:
        ctx.prec = PREC
        sqrt_p = Decimal(state.sqrt_price_x96) / Q96
        liquidity = Decimal(state.liquidity)
        gamma = 1 - Decimal(state.fee) / 1_000_000
        remaining = Decimal(fee_in) / gamma if fee_in is not None else Decimal(amount_in)
        out = Decimal(0)
        crossed = 0
        ticks = sorted(state.ticks)
        below = [t for t in ticks if t <= state.tick][::-1]
        above = [t for t in ticks if t > state.tick]
        for tick in below if zero_for_one else above:
            target = _sqrt_at(tick)
            if zero_for_one:
                need, pays = liquidity * (1 / target - 1 / sqrt_p), liquidity * (sqrt_p - target)
            else:
                need, pays = liquidity * (target - sqrt_p), liquidity * (1 / sqrt_p - 1 / target)
            if remaining * gamma < need or liquidity == 0:
                break
            remaining -= need / gamma
            out += pays
            sqrt_p = target
            net = state.ticks[tick]
            liquidity += -net if zero_for_one else net
            crossed += 1
        net_in = remaining * gamma
        if liquidity == 0:  # past the last position: the rest of the input buys nothing
            return out, crossed
        if zero_for_one:
            new = 1 / (1 / sqrt_p + net_in / liquidity)
            out += liquidity * (sqrt_p - new)
        else:
            new = sqrt_p + net_in / liquidity
            out += liquidity * (1 / sqrt_p - 1 / new)
        return out, crossed


REAL = load_state_file(V3_STATE_FILE)


@pytest.mark.parametrize("amount", [1_000, 12_345, 1_000_000, 10_000_000])
def test_single_range_token0_in_to_the_wei(amount: int) -> None:
    """WBTC in, inside the current range: the contract floors the fee, then rounds the price and the output."""
    out, state = REAL.swap_exact_in(amount, True)
    assert state.liquidity == REAL.liquidity  # no tick crossed
    net_in = amount * (1_000_000 - REAL.fee) // 1_000_000
    exact, crossed = model_exact_in(REAL, amount, True, fee_in=net_in)
    assert crossed == 0
    assert 0 <= exact - out < 2


@pytest.mark.parametrize("amount", [10**15, 10**17, 10**18, 3 * 10**18])
def test_single_range_token1_in_to_the_unit(amount: int) -> None:
    out, state = REAL.swap_exact_in(amount, False)
    assert state.liquidity == REAL.liquidity
    net_in = amount * (1_000_000 - REAL.fee) // 1_000_000
    exact, crossed = model_exact_in(REAL, amount, False, fee_in=net_in)
    assert crossed == 0
    assert 0 <= exact - out < 2


def _synthetic_pool() -> V3PoolState:
    """Price 1, spacing 10, positions on both sides and across several bitmap words (2560 ticks per word)."""
    positions = [(-30_000, 30_000, 10**21), (-800, 700, 4 * 10**21), (-5_000, -10, 10**21), (20, 9_000, 2 * 10**21)]
    ticks: dict[int, int] = {}
    for lower, upper, liquidity in positions:
        ticks[lower] = ticks.get(lower, 0) + liquidity
        ticks[upper] = ticks.get(upper, 0) - liquidity
    active = sum(liq for lower, upper, liq in positions if lower <= 0 < upper)
    return V3PoolState(get_sqrt_ratio_at_tick(0), 0, active, 500, 10, ticks)


SYNTH = _synthetic_pool()


@settings(max_examples=60, deadline=None)
@given(amount=st.integers(min_value=10**12, max_value=10**22), zero_for_one=st.booleans())
def test_tick_crossings_within_a_few_units(amount: int, zero_for_one: bool) -> None:
    out, state = SYNTH.swap_exact_in(amount, zero_for_one)
    exact, crossed = model_exact_in(SYNTH, amount, zero_for_one)
    # Steps the contract takes: every initialized tick crossed, every bitmap word boundary, and the last one.
    words = abs(state.tick // 10 // 256 - SYNTH.tick // 10 // 256)
    steps = crossed + words + 1
    # Price stays within ~2.5x of 1 here: each step loses < 1 unit of output and < 2 units of input.
    assert 0 <= exact - out <= 6 * steps


@pytest.mark.parametrize("amount", [10**21, 3 * 10**21, 10**22])
def test_real_pool_crossings_weth_in(amount: int) -> None:
    """WETH in over many ranges: the output is in satoshi, so input rounding is far below one unit per step."""
    out, state = REAL.swap_exact_in(amount, False)
    exact, crossed = model_exact_in(REAL, amount, False)
    assert crossed > 0
    words = abs(state.tick // 60 // 256 - REAL.tick // 60 // 256)
    assert 0 <= exact - out <= crossed + words + 1
