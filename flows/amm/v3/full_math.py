"""512-bit-safe multiply-divide, ported from v3-core ``contracts/libraries/FullMath.sol``.

Python integers never overflow, so the 512-bit intermediate of the Solidity version is just ``a * b``; what is
kept are the contract's checks: a zero denominator and a result that does not fit in ``uint256`` revert.
Also the ``divRoundingUp`` of ``UnsafeMath.sol``.
"""

from __future__ import annotations

from base.errors import AmmRevert

__all__ = ["MAX_UINT256", "div_rounding_up", "mul_div", "mul_div_rounding_up"]

MAX_UINT256 = 2**256 - 1


def mul_div(a: int, b: int, denominator: int) -> int:
    """Return ``floor(a * b / denominator)`` (``FullMath.mulDiv``).

    Args:
        a: multiplicand, ``uint256``.
        b: multiplier, ``uint256``.
        denominator: divisor, ``uint256``.

    Returns:
        The floored quotient.

    Raises:
        AmmRevert: if ``denominator == 0`` or the result exceeds ``uint256`` (the contract's bare ``require``).
    """
    if denominator == 0:
        msg = "FullMath: denominator is zero"
        raise AmmRevert(msg)
    result = a * b // denominator
    if result > MAX_UINT256:
        msg = "FullMath: result overflows uint256"
        raise AmmRevert(msg)
    return result


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    """Return ``ceil(a * b / denominator)`` (``FullMath.mulDivRoundingUp``).

    Raises:
        AmmRevert: as :func:`mul_div`, or if rounding up overflows ``uint256``.
    """
    result = mul_div(a, b, denominator)
    if (a * b) % denominator:
        if result >= MAX_UINT256:
            msg = "FullMath: result overflows uint256"
            raise AmmRevert(msg)
        result += 1
    return result


def div_rounding_up(x: int, y: int) -> int:
    """Return ``ceil(x / y)`` as ``UnsafeMath.divRoundingUp`` does (EVM ``div`` by zero yields 0)."""
    if y == 0:
        return 0
    return x // y + (1 if x % y else 0)
