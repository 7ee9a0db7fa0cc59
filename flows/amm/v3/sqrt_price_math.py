"""Prices and token deltas in one liquidity range, ported from v3-core ``contracts/libraries/SqrtPriceMath.sol``.

Prices are Q64.96 square roots, liquidity is ``uint128``, amounts are raw token units. The 256-bit overflow
checks of the contract are reproduced where they select a different formula (the token0 price update falls back
to ``L / (L/sqrtP + amount)`` when ``amount * sqrtP`` overflows, which rounds differently), because that choice
changes the result in the last wei.
"""

from __future__ import annotations

from base.errors import AmmRevert
from flows.amm.v3.full_math import MAX_UINT256, div_rounding_up, mul_div, mul_div_rounding_up

__all__ = [
    "Q96",
    "RESOLUTION",
    "get_amount0_delta",
    "get_amount0_delta_signed",
    "get_amount1_delta",
    "get_amount1_delta_signed",
    "get_next_sqrt_price_from_amount0_rounding_up",
    "get_next_sqrt_price_from_amount1_rounding_down",
    "get_next_sqrt_price_from_input",
    "get_next_sqrt_price_from_output",
]

RESOLUTION = 96
Q96 = 1 << RESOLUTION
_MAX_UINT160 = 2**160 - 1


def _to_uint160(x: int) -> int:
    # SafeCast.toUint160
    if x > _MAX_UINT160:
        msg = "SafeCast: value does not fit uint160"
        raise AmmRevert(msg)
    return x


def get_next_sqrt_price_from_amount0_rounding_up(sqrt_price_x96: int, liquidity: int, amount: int, add: bool) -> int:
    """Return the price after adding or removing ``amount`` of token0 (``getNextSqrtPriceFromAmount0RoundingUp``).

    ``L * sqrtP / (L +- amount * sqrtP)``, rounded up; when ``amount * sqrtP`` (or the sum) overflows 256 bits the
    contract computes ``L / (L/sqrtP + amount)`` instead, and so does this.

    Args:
        sqrt_price_x96: starting price, Q64.96.
        liquidity: usable liquidity.
        amount: token0 added (input) or removed (output), raw units.
        add: True to add token0 (price falls), False to remove it (price rises).

    Returns:
        The new Q64.96 price.

    Raises:
        AmmRevert: when removing at least the range's virtual token0 reserve, or on ``uint160`` overflow.
    """
    if amount == 0:
        return sqrt_price_x96
    numerator1 = liquidity << RESOLUTION
    product = amount * sqrt_price_x96
    if add:
        if product <= MAX_UINT256:
            denominator = numerator1 + product
            if denominator <= MAX_UINT256:
                return mul_div_rounding_up(numerator1, sqrt_price_x96, denominator)
        denominator1 = numerator1 // sqrt_price_x96 + amount
        if denominator1 > MAX_UINT256:
            msg = "SqrtPriceMath: denominator overflows uint256"
            raise AmmRevert(msg)
        return div_rounding_up(numerator1, denominator1)
    if product > MAX_UINT256 or numerator1 <= product:
        msg = "SqrtPriceMath: output exceeds the virtual reserve of token0"
        raise AmmRevert(msg)
    return _to_uint160(mul_div_rounding_up(numerator1, sqrt_price_x96, numerator1 - product))


def get_next_sqrt_price_from_amount1_rounding_down(sqrt_price_x96: int, liquidity: int, amount: int, add: bool) -> int:
    """Return the price after adding or removing ``amount`` of token1 (``getNextSqrtPriceFromAmount1RoundingDown``).

    ``sqrtP +- amount / L`` with the quotient rounded down when adding and up when removing, so the price always
    rounds down.

    Args:
        sqrt_price_x96: starting price, Q64.96.
        liquidity: usable liquidity (positive).
        amount: token1 added (input) or removed (output), raw units.
        add: True to add token1 (price rises), False to remove it (price falls).

    Returns:
        The new Q64.96 price.

    Raises:
        AmmRevert: when removing at least the range's virtual token1 reserve, or on overflow.
    """
    if add:
        quotient = (amount << RESOLUTION) // liquidity if amount <= _MAX_UINT160 else mul_div(amount, Q96, liquidity)
        result = sqrt_price_x96 + quotient
        if result > MAX_UINT256:
            msg = "SafeMath: addition overflow"
            raise AmmRevert(msg)
        return _to_uint160(result)
    quotient = (
        div_rounding_up(amount << RESOLUTION, liquidity)
        if amount <= _MAX_UINT160
        else mul_div_rounding_up(amount, Q96, liquidity)
    )
    if sqrt_price_x96 <= quotient:
        msg = "SqrtPriceMath: output exceeds the virtual reserve of token1"
        raise AmmRevert(msg)
    return sqrt_price_x96 - quotient


def get_next_sqrt_price_from_input(sqrt_price_x96: int, liquidity: int, amount_in: int, zero_for_one: bool) -> int:
    """Return the price after swapping ``amount_in`` (net of fee) in (``getNextSqrtPriceFromInput``).

    Rounds so the price never passes the target: up for token0 in, down for token1 in.

    Raises:
        AmmRevert: if the price or the liquidity is zero, or on overflow.
    """
    if sqrt_price_x96 <= 0 or liquidity <= 0:
        msg = "SqrtPriceMath: price and liquidity must be positive"
        raise AmmRevert(msg)
    if zero_for_one:
        return get_next_sqrt_price_from_amount0_rounding_up(sqrt_price_x96, liquidity, amount_in, True)
    return get_next_sqrt_price_from_amount1_rounding_down(sqrt_price_x96, liquidity, amount_in, True)


def get_next_sqrt_price_from_output(sqrt_price_x96: int, liquidity: int, amount_out: int, zero_for_one: bool) -> int:
    """Return the price after swapping ``amount_out`` out (``getNextSqrtPriceFromOutput``).

    Rounds so the price always reaches far enough to deliver the output.

    Raises:
        AmmRevert: if the price or the liquidity is zero, or the output exceeds the range's virtual reserve.
    """
    if sqrt_price_x96 <= 0 or liquidity <= 0:
        msg = "SqrtPriceMath: price and liquidity must be positive"
        raise AmmRevert(msg)
    if zero_for_one:
        return get_next_sqrt_price_from_amount1_rounding_down(sqrt_price_x96, liquidity, amount_out, False)
    return get_next_sqrt_price_from_amount0_rounding_up(sqrt_price_x96, liquidity, amount_out, False)


def get_amount0_delta(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int, round_up: bool) -> int:
    """Return the token0 between two prices: ``L * (sqrtB - sqrtA) / (sqrtA * sqrtB)`` (``getAmount0Delta``).

    Args:
        sqrt_ratio_a_x96: one price, Q64.96 (the order does not matter).
        sqrt_ratio_b_x96: the other price, Q64.96.
        liquidity: liquidity, ``uint128``.
        round_up: round up (amounts owed to the pool) or down (amounts paid out).

    Returns:
        Raw token0 units.

    Raises:
        AmmRevert: if the lower price is zero.
    """
    if sqrt_ratio_a_x96 > sqrt_ratio_b_x96:
        sqrt_ratio_a_x96, sqrt_ratio_b_x96 = sqrt_ratio_b_x96, sqrt_ratio_a_x96
    numerator1 = liquidity << RESOLUTION
    numerator2 = sqrt_ratio_b_x96 - sqrt_ratio_a_x96
    if sqrt_ratio_a_x96 <= 0:
        msg = "SqrtPriceMath: price must be positive"
        raise AmmRevert(msg)
    if round_up:
        return div_rounding_up(mul_div_rounding_up(numerator1, numerator2, sqrt_ratio_b_x96), sqrt_ratio_a_x96)
    return mul_div(numerator1, numerator2, sqrt_ratio_b_x96) // sqrt_ratio_a_x96


def get_amount1_delta(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int, round_up: bool) -> int:
    """Return the token1 between two prices: ``L * (sqrtB - sqrtA)`` (``getAmount1Delta``).

    Args:
        sqrt_ratio_a_x96: one price, Q64.96 (the order does not matter).
        sqrt_ratio_b_x96: the other price, Q64.96.
        liquidity: liquidity, ``uint128``.
        round_up: round up (amounts owed to the pool) or down (amounts paid out).

    Returns:
        Raw token1 units.
    """
    if sqrt_ratio_a_x96 > sqrt_ratio_b_x96:
        sqrt_ratio_a_x96, sqrt_ratio_b_x96 = sqrt_ratio_b_x96, sqrt_ratio_a_x96
    if round_up:
        return mul_div_rounding_up(liquidity, sqrt_ratio_b_x96 - sqrt_ratio_a_x96, Q96)
    return mul_div(liquidity, sqrt_ratio_b_x96 - sqrt_ratio_a_x96, Q96)


def get_amount0_delta_signed(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int) -> int:
    """Return the signed token0 delta for a signed liquidity delta (the ``int128`` overload of ``getAmount0Delta``).

    Negative liquidity (removed) rounds the magnitude down, positive (added) rounds it up.
    """
    if liquidity < 0:
        return -get_amount0_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, -liquidity, False)
    return get_amount0_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, liquidity, True)


def get_amount1_delta_signed(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int) -> int:
    """Return the signed token1 delta for a signed liquidity delta (the ``int128`` overload of ``getAmount1Delta``)."""
    if liquidity < 0:
        return -get_amount1_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, -liquidity, False)
    return get_amount1_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, liquidity, True)
