"""Sizing a cycle of legs, exactly: a marginal-rate screen, the optimal input, and the hop-by-hop re-check (pure).

A leg is anything with ``amount_out(amount_in) -> int`` as the venue computes it: a constant-product
:class:`~flows.amm.v2.Hop`, a :class:`~flows.amm.mixed.V3Leg`, or a CEX fill at a fixed price (:class:`CexLeg`).
Cycles of V2 hops are sized with the proven closed form (:func:`flows.amm.cycle.optimal_input`), anything else
with :func:`flows.amm.mixed.optimal_input_mixed`. Either way the chosen input is re-run leg by leg with the integer
formulas, and a cycle whose re-check disagrees with the sizing is dropped, so a reported ``amount_out`` is what the
pools pay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from base.errors import AmmRevert
from flows.amm.cycle import Sizing, optimal_input
from flows.amm.mixed import Leg, V3Leg, optimal_input_mixed
from flows.amm.v2 import BPS, Hop
from flows.amm.v3.swap_math import PIPS

_Q192 = 2**192


@dataclass(frozen=True, slots=True)
class CexLeg:
    """A CEX fill at a fixed price: ``out = floor(min(x, cap) * numerator / denominator)`` (raw units).

    The fee is in the ratio; the cap is what the quoted size allows (input beyond it buys nothing here, so the
    optimiser never goes past it).

    Attributes:
        numerator: raw output units per ``denominator`` raw input units, fee included.
        denominator: positive.
        cap: most input the quote fills, raw units.
    """

    numerator: int
    denominator: int
    cap: int

    def amount_out(self, amount_in: int) -> int:
        """Output for ``amount_in`` raw input units (floored: the venue never pays a fraction of a unit)."""
        return min(amount_in, self.cap) * self.numerator // self.denominator


def marginal_rate(leg: Leg) -> tuple[int, int]:
    """The leg's output per unit of input at zero size, after fees, as an exact ratio ``(num, den)``.

    V2: ``(10000 - fee) * R_out / (10000 * R_in)``. V3: the ``slot0`` price ``sqrtP**2 / 2**192`` (token1 per
    token0) or its inverse, times ``(1e6 - fee) / 1e6``. CEX: its fixed ratio (0 when the cap is 0).
    """
    if isinstance(leg, Hop):
        return (BPS - leg.fee_bps) * leg.reserve_out, BPS * leg.reserve_in
    if isinstance(leg, V3Leg):
        price = leg.state.sqrt_price_x96 * leg.state.sqrt_price_x96
        keep = PIPS - leg.state.fee
        return (price * keep, _Q192 * PIPS) if leg.zero_for_one else (_Q192 * keep, price * PIPS)
    if isinstance(leg, CexLeg):
        return (leg.numerator if leg.cap > 0 else 0), leg.denominator
    msg = f"no marginal rate for leg {type(leg).__name__}"
    raise TypeError(msg)


def profitable_at_margin(legs: Sequence[Leg], flash_fee_bps: int = 0) -> bool:
    """True when the cycle's marginal rate beats repaying ``1 + flash fee``: a necessary condition for profit.

    Every leg is concave, so a cycle that loses on its first unit loses on every size; the screen costs a few
    integer products and skips the sizing of almost every cycle of a consistent market.
    """
    num = den = 1
    for leg in legs:
        n, d = marginal_rate(leg)
        num *= n
        den *= d
    return num * BPS > den * (BPS + flash_fee_bps)


def amounts_along(legs: Sequence[Leg], amount_in: int) -> tuple[int, ...]:
    """``(amount_in, out_1, ..., out_n)`` leg by leg with the integer formulas (0 once a leg pays nothing)."""
    amounts = [amount_in]
    for leg in legs:
        x = amounts[-1]
        amounts.append(leg.amount_out(x) if x > 0 else 0)
    return tuple(amounts)


def size_cycle(
    legs: Sequence[Leg], flash_fee_bps: int = 0, max_amount_in: int | None = None
) -> tuple[Sizing, tuple[int, ...]] | None:
    """Return the profit-maximising input of a cycle and the amounts along it, or None if no size profits.

    Args:
        legs: the cycle's legs in order; the last gives back the token the first takes.
        flash_fee_bps: flash-loan premium in bps on the input.
        max_amount_in: cap on the input (inventory), raw units; None for none.

    Returns:
        ``(sizing, amounts)``, ``amounts[-1] == sizing.amount_out``, re-checked leg by leg; None when the cycle is
        unprofitable at the margin, nothing profits, a leg reverts, or the re-check disagrees.
    """
    if not profitable_at_margin(legs, flash_fee_bps):
        return None
    try:
        if max_amount_in is None and all(isinstance(leg, Hop) for leg in legs):
            sizing = optimal_input(legs, flash_fee_bps=flash_fee_bps)  # type: ignore[arg-type]
        else:
            sizing = optimal_input_mixed(legs, flash_fee_bps=flash_fee_bps, max_amount_in=max_amount_in)
        if sizing.amount_in <= 0 or sizing.net <= 0:
            return None
        amounts = amounts_along(legs, sizing.amount_in)
    except AmmRevert:
        return None
    if amounts[-1] != sizing.amount_out:
        return None
    return sizing, amounts
