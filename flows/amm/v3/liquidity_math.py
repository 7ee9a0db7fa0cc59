"""Signed liquidity deltas, ported from v3-core ``contracts/libraries/LiquidityMath.sol`` (``addDelta``)."""

from __future__ import annotations

from base.errors import AmmRevert

__all__ = ["MAX_UINT128", "add_delta"]

MAX_UINT128 = 2**128 - 1


def add_delta(x: int, y: int) -> int:
    """Return ``x + y`` for a ``uint128`` liquidity ``x`` and an ``int128`` delta ``y``.

    Args:
        x: active liquidity, ``uint128``.
        y: liquidity delta (a tick's ``liquidityNet``, sign already adjusted for the direction), ``int128``.

    Returns:
        The new liquidity.

    Raises:
        AmmRevert: ``LS`` (liquidity sub) if the result would go below zero, ``LA`` (liquidity add) if it would
            exceed ``uint128``.
    """
    z = x + y
    if y < 0 and z < 0:
        msg = "LS"
        raise AmmRevert(msg)
    if y >= 0 and z > MAX_UINT128:
        msg = "LA"
        raise AmmRevert(msg)
    return z
