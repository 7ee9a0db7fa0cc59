"""Uniswap V2 constant-product math in exact integers.

Ports ``getAmountOut``, ``getAmountIn`` and ``getAmountsOut`` of ``UniswapV2Library.sol``
(Uniswap/v2-periphery ``contracts/libraries/UniswapV2Library.sol``), generalised from the hard-coded
997/1000 to any fee in basis points: the input is scaled by ``10000 - fee_bps`` and the reserve by ``10000``,
which for 30 bps is the contract's 997/1000 with both sides multiplied by 10, so every floor is identical.
Forks with other fees (PancakeSwap V2: 25 bps, ``9975/10000``) use the same form.

Amounts and reserves are raw token units (no decimals applied); every division floors, as Solidity does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from base.errors import AmmRevert

__all__ = ["BPS", "Hop", "get_amount_in", "get_amount_out", "get_amounts_out"]

BPS = 10_000
"""Basis points in one whole (fees are ``fee_bps / BPS``)."""


def _check_fee(fee_bps: int) -> None:
    # A fee of 100 % (or more) makes every output zero and getAmountIn divide by zero: a caller bug.
    if not 0 <= fee_bps < BPS:
        msg = f"fee_bps must be in [0, {BPS}), got {fee_bps}"
        raise ValueError(msg)


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int = 30) -> int:
    """Return the output of an exact-input swap on a constant-product pair.

    Port of ``UniswapV2Library.getAmountOut``::

        amountInWithFee = amountIn * (10000 - fee_bps)
        amountOut = amountInWithFee * reserveOut / (reserveIn * 10000 + amountInWithFee)

    Args:
        amount_in: input amount, raw token units of the input token (after any transfer fee).
        reserve_in: pair reserve of the input token, raw units.
        reserve_out: pair reserve of the output token, raw units.
        fee_bps: swap fee in bps (30 = 0.3 %, the 997/1000 of Uniswap V2).

    Returns:
        The output amount in raw units of the output token, floored as on chain.

    Raises:
        AmmRevert: ``INSUFFICIENT_INPUT_AMOUNT`` if ``amount_in <= 0``; ``INSUFFICIENT_LIQUIDITY`` if a
            reserve is not positive (the library's require strings).
        ValueError: if ``fee_bps`` is outside ``[0, 10000)``.

    Example:
        >>> get_amount_out(10**18, 1_000 * 10**18, 2_000_000 * 10**6)
        1992013962
    """
    if amount_in <= 0:
        msg = "INSUFFICIENT_INPUT_AMOUNT"
        raise AmmRevert(msg)
    if reserve_in <= 0 or reserve_out <= 0:
        msg = "INSUFFICIENT_LIQUIDITY"
        raise AmmRevert(msg)
    _check_fee(fee_bps)
    amount_in_with_fee = amount_in * (BPS - fee_bps)
    return (amount_in_with_fee * reserve_out) // (reserve_in * BPS + amount_in_with_fee)


def get_amount_in(amount_out: int, reserve_in: int, reserve_out: int, fee_bps: int = 30) -> int:
    """Return the input an exact-output swap pays on a constant-product pair.

    Port of ``UniswapV2Library.getAmountIn`` (the router's ``swapTokensForExactTokens`` pays this)::

        amountIn = reserveIn * amountOut * 10000 / ((reserveOut - amountOut) * (10000 - fee_bps)) + 1

    The ``+ 1`` is the library's: it over-pays by one unit when the division is exact.

    Args:
        amount_out: wanted output, raw units of the output token.
        reserve_in: pair reserve of the input token, raw units.
        reserve_out: pair reserve of the output token, raw units.
        fee_bps: swap fee in bps.

    Returns:
        The input amount in raw units of the input token.

    Raises:
        AmmRevert: ``INSUFFICIENT_OUTPUT_AMOUNT`` if ``amount_out <= 0``; ``INSUFFICIENT_LIQUIDITY`` if a
            reserve is not positive or ``amount_out >= reserve_out`` (the library would underflow or divide
            by zero there; the pair's own ``swap`` rejects it with ``UniswapV2: INSUFFICIENT_LIQUIDITY``).
        ValueError: if ``fee_bps`` is outside ``[0, 10000)``.
    """
    if amount_out <= 0:
        msg = "INSUFFICIENT_OUTPUT_AMOUNT"
        raise AmmRevert(msg)
    if reserve_in <= 0 or reserve_out <= 0 or amount_out >= reserve_out:
        msg = "INSUFFICIENT_LIQUIDITY"
        raise AmmRevert(msg)
    _check_fee(fee_bps)
    numerator = reserve_in * amount_out * BPS
    denominator = (reserve_out - amount_out) * (BPS - fee_bps)
    return numerator // denominator + 1


@dataclass(frozen=True, slots=True)
class Hop:
    """One constant-product pool oriented along a path: tokens go in on ``reserve_in``'s side.

    Attributes:
        reserve_in: reserve of the token entering this hop, raw units.
        reserve_out: reserve of the token leaving this hop, raw units.
        fee_bps: swap fee in bps.
    """

    reserve_in: int
    reserve_out: int
    fee_bps: int = 30

    def amount_out(self, amount_in: int) -> int:
        """Return ``get_amount_out(amount_in, reserve_in, reserve_out, fee_bps)`` (raw units)."""
        return get_amount_out(amount_in, self.reserve_in, self.reserve_out, self.fee_bps)


def get_amounts_out(amount_in: int, hops: Sequence[Hop]) -> list[int]:
    """Return the amounts along a path of pools, as ``UniswapV2Library.getAmountsOut`` does.

    Args:
        amount_in: input to the first hop, raw units.
        hops: the pools in path order, each oriented along the path.

    Returns:
        ``[amount_in, out_1, ..., out_n]`` in raw units of each token on the path.

    Raises:
        AmmRevert: ``INVALID_PATH`` for an empty path, or any revert of :func:`get_amount_out` on a hop
            (an intermediate amount of zero reverts with ``INSUFFICIENT_INPUT_AMOUNT``, as on chain).
    """
    if not hops:
        msg = "INVALID_PATH"
        raise AmmRevert(msg)
    amounts = [amount_in]
    for hop in hops:
        amounts.append(get_amount_out(amounts[-1], hop.reserve_in, hop.reserve_out, hop.fee_bps))
    return amounts
