"""Bit positions of a ``uint256``, ported from v3-core ``contracts/libraries/BitMath.sol``.

The binary searches of the Solidity version are replaced by :meth:`int.bit_length`, which returns the same index.
"""

from __future__ import annotations

from base.errors import AmmRevert

__all__ = ["least_significant_bit", "most_significant_bit"]


def most_significant_bit(x: int) -> int:
    """Return the index of the highest set bit: ``2**r <= x < 2**(r+1)`` (``BitMath.mostSignificantBit``).

    Raises:
        AmmRevert: ``MSB`` if ``x <= 0``.
    """
    if x <= 0:
        msg = "MSB"
        raise AmmRevert(msg)
    return x.bit_length() - 1


def least_significant_bit(x: int) -> int:
    """Return the index of the lowest set bit (``BitMath.leastSignificantBit``).

    Raises:
        AmmRevert: ``LSB`` if ``x <= 0``.
    """
    if x <= 0:
        msg = "LSB"
        raise AmmRevert(msg)
    return (x & -x).bit_length() - 1
