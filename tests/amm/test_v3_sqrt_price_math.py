"""SqrtPriceMath: v3-core spec cases (as deployed in v1.0.0) and rounding against exact rationals."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from math import ceil, floor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from base.errors import AmmRevert
from flows.amm.v3.sqrt_price_math import (
    get_amount0_delta,
    get_amount0_delta_signed,
    get_amount1_delta,
    get_amount1_delta_signed,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
)
from flows.amm.v3.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO

MAX_UINT256 = 2**256 - 1
E18 = 10**18


def encode_price_sqrt(reserve1: int, reserve0: int) -> int:
    """v3-core test/shared/utilities.ts encodePriceSqrt: bignumber.js, 20 decimal places, then floor."""
    with localcontext() as ctx:
        ctx.prec = 100
        root = (Decimal(reserve1) / Decimal(reserve0)).sqrt().quantize(Decimal("1e-20"), rounding=ROUND_HALF_UP)
        return int(root * (Decimal(2) ** 96))


def test_spec_next_price_from_input() -> None:
    price = encode_price_sqrt(1, 1)
    assert get_next_sqrt_price_from_input(price, E18, E18 // 10, False) == 87150978765690771352898345369
    assert get_next_sqrt_price_from_input(price, E18, E18 // 10, True) == 72025602285694852357767227579
    assert get_next_sqrt_price_from_input(price, 10 * E18, 2**100, True) == 624999999995069620
    assert get_next_sqrt_price_from_input(price, 1, MAX_UINT256 // 2, True) == 1
    assert get_next_sqrt_price_from_input(1, 1, 2**255, True) == 1
    assert get_next_sqrt_price_from_input(price, E18 // 10, 0, True) == price
    assert get_next_sqrt_price_from_input(price, E18 // 10, 0, False) == price
    with pytest.raises(AmmRevert):
        get_next_sqrt_price_from_input(0, 0, E18 // 10, False)
    with pytest.raises(AmmRevert):
        get_next_sqrt_price_from_input(1, 0, E18 // 10, True)
    with pytest.raises(AmmRevert):
        get_next_sqrt_price_from_input(2**160 - 1, 1024, 1024, False)


def test_spec_next_price_from_output() -> None:
    price = encode_price_sqrt(1, 1)
    assert get_next_sqrt_price_from_output(price, E18, E18 // 10, False) == 88031291682515930659493278152
    assert get_next_sqrt_price_from_output(price, E18, E18 // 10, True) == 71305346262837903834189555302
    assert get_next_sqrt_price_from_output(price, E18 // 10, 0, True) == price
    small = 20282409603651670423947251286016
    # Virtual reserves of that range are 4 token0 and 262144 token1: taking all (or more) reverts.
    for amount_out, zero_for_one in ((4, False), (5, False), (262144, True), (262145, True)):
        with pytest.raises(AmmRevert):
            get_next_sqrt_price_from_output(small, 1024, amount_out, zero_for_one)
    for zero_for_one in (True, False):
        with pytest.raises(AmmRevert):
            get_next_sqrt_price_from_output(price, 1, MAX_UINT256, zero_for_one)


def test_spec_amount_deltas() -> None:
    one, p121 = encode_price_sqrt(1, 1), encode_price_sqrt(121, 100)
    assert get_amount0_delta(p121, one, E18, True) == 90909090909090910
    assert get_amount0_delta(p121, one, E18, False) == 90909090909090909
    assert get_amount1_delta(one, p121, E18, True) == 100000000000000000
    assert get_amount1_delta(one, p121, E18, False) == 99999999999999999
    assert get_amount0_delta(encode_price_sqrt(2, 1), one, 0, True) == 0
    assert get_amount1_delta(one, encode_price_sqrt(2, 1), 0, True) == 0
    hi, lo = encode_price_sqrt(2**96, 1), encode_price_sqrt(2**90, 1)
    assert get_amount0_delta(hi, lo, E18, True) == get_amount0_delta(hi, lo, E18, False) + 1
    # Signed overloads: added liquidity rounds up, removed rounds down.
    assert get_amount0_delta_signed(p121, one, E18) == 90909090909090910
    assert get_amount0_delta_signed(p121, one, -E18) == -90909090909090909
    assert get_amount1_delta_signed(one, p121, E18) == 100000000000000000
    assert get_amount1_delta_signed(one, p121, -E18) == -99999999999999999


def test_spec_sqrt_p_times_sqrt_q_overflows() -> None:
    sqrt_p = 1025574284609383690408304870162715216695788925244
    liquidity = 50015962439936049619261659728067971248
    sqrt_q = get_next_sqrt_price_from_input(sqrt_p, liquidity, 406, True)
    assert sqrt_q == 1025574284609383582644711336373707553698163132913
    assert get_amount0_delta(sqrt_p, sqrt_q, liquidity, True) == 406


prices = st.integers(min_value=MIN_SQRT_RATIO, max_value=MAX_SQRT_RATIO - 1)
liquidities = st.integers(min_value=1, max_value=2**128 - 1)


@settings(max_examples=300, deadline=None)
@given(sqrt_p=prices, liquidity=liquidities, amount=st.integers(min_value=1, max_value=2**128))
def test_next_price_rounds_in_the_pools_favour(sqrt_p: int, liquidity: int, amount: int) -> None:
    p = Fraction(sqrt_p, 2**96)
    # token0 in: exact sqrtP' = L*sqrtP / (L + amount*sqrtP); the contract rounds it up (less output).
    exact0 = liquidity * p / (liquidity + amount * p) * 2**96
    got0 = get_next_sqrt_price_from_input(sqrt_p, liquidity, amount, True)
    if amount * sqrt_p <= MAX_UINT256 and (liquidity << 96) + amount * sqrt_p <= MAX_UINT256:
        assert got0 == ceil(exact0)
    else:  # the overflow fallback L / (L/sqrtP + amount) is coarser, still never below the exact price
        assert got0 >= ceil(exact0)
    # token1 in: exact sqrtP' = sqrtP + amount / L; the contract rounds it down (less output).
    exact1 = (p + Fraction(amount, liquidity)) * 2**96
    try:
        got1 = get_next_sqrt_price_from_input(sqrt_p, liquidity, amount, False)
    except AmmRevert:
        assert floor(exact1) >= 2**160
    else:
        assert got1 == floor(exact1)


@settings(max_examples=300, deadline=None)
@given(a=prices, b=prices, liquidity=liquidities)
def test_amount_deltas_bracket_the_exact_value(a: int, b: int, liquidity: int) -> None:
    lo, hi = sorted((a, b))
    exact0 = Fraction(liquidity * 2**96 * (hi - lo), hi * lo)
    exact1 = Fraction(liquidity * (hi - lo), 2**96)
    assert get_amount0_delta(a, b, liquidity, False) == floor(exact0)
    assert get_amount0_delta(a, b, liquidity, True) in (ceil(exact0), ceil(exact0) + 1)
    assert get_amount1_delta(a, b, liquidity, False) == floor(exact1)
    assert get_amount1_delta(a, b, liquidity, True) == ceil(exact1)
