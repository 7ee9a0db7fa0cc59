"""The swap that moves a pool to a target price: exact, accepted by the pair's K check, never past the target."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.amm.v2 import get_amount_in, get_amount_out
from ops.simulator.chain.drive import bar_price, target_price
from ops.simulator.chain.reprice import price, reprice

WETH, USDC = 10**18, 10**6


def _after(base: int, quote: int, fee: int, target: Fraction) -> tuple[int, int]:
    """Reserves after the reprice swap, checked against the pair's K rule (output <= get_amount_out of input)."""
    move = reprice(base, quote, fee, target)
    assert move is not None
    if move.buy_base:
        assert get_amount_out(move.amount_in, quote, base, fee) >= move.amount_out
        return base - move.amount_out, quote + move.amount_in
    assert get_amount_out(move.amount_in, base, quote, fee) >= move.amount_out
    return base + move.amount_in, quote - move.amount_out


def test_raises_the_price_to_just_below_the_target() -> None:
    base, quote, target = 543 * WETH, 2_000_000 * USDC, Fraction(3_700 * USDC, WETH)
    move = reprice(base, quote, 30, target)
    assert move is not None and move.buy_base
    assert move.amount_in == get_amount_in(move.amount_out, quote, base, 30)
    assert price(base - move.amount_out, quote + move.amount_in) <= target
    more_in = get_amount_in(move.amount_out + 1, quote, base, 30)  # one more raw unit out passes the target
    assert price(base - move.amount_out - 1, quote + more_in) > target


def test_lowers_the_price_to_just_above_the_target() -> None:
    base, quote, target = 543 * WETH, 2_000_000 * USDC, Fraction(3_600 * USDC, WETH)
    move = reprice(base, quote, 25, target)
    assert move is not None and not move.buy_base
    assert move.amount_in == get_amount_in(move.amount_out, base, quote, 25)
    assert price(base + move.amount_in, quote - move.amount_out) >= target
    more_in = get_amount_in(move.amount_out + 1, base, quote, 25)
    assert price(base + more_in, quote - move.amount_out - 1) < target


def test_a_pool_at_its_target_is_left_alone() -> None:
    assert reprice(1_000 * WETH, 2_000_000 * USDC, 30, Fraction(2_000 * USDC, WETH)) is None


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        reprice(0, 1, 30, Fraction(1))


@settings(max_examples=200, deadline=None)
@given(
    base=st.integers(10**6, 10**27),
    quote=st.integers(10**6, 10**27),
    fee=st.sampled_from([0, 5, 25, 30, 100]),
    move_bps=st.integers(-3_000, 3_000).filter(lambda m: m != 0),
)
def test_any_move_lands_on_the_near_side_of_the_target(base: int, quote: int, fee: int, move_bps: int) -> None:
    target = price(base, quote) * Fraction(10_000 + move_bps, 10_000)
    move = reprice(base, quote, fee, target)
    if move is None:  # too small a pool for one raw unit to move it without passing the target
        return
    b, q = _after(base, quote, fee, target)
    assert (price(b, q) <= target) if move_bps > 0 else (price(b, q) >= target)
    assert abs(price(b, q) - target) < abs(price(base, quote) - target)


def test_bar_prices_interpolate_and_clamp() -> None:
    bars = [(60, 100.0), (120, 110.0)]
    assert [bar_price(bars, t) for t in (0, 60, 90, 120, 500)] == [100.0, 100.0, 105.0, 110.0, 110.0]


def test_target_price_is_raw_quote_per_raw_base() -> None:
    assert target_price(3_682.04, 1.0, 18, 6) == Fraction(368204, 100) * 10**6 / 10**18
    assert target_price(115_000.0, 3_680.0, 8, 18) == Fraction(115_000, 3_680) * 10**18 / 10**8
