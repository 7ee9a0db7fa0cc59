"""The swap that moves a constant-product pool to a target price, in exact integers (pure, no I/O).

A V2 pair's price is the ratio of its reserves. Buying the base token raises it, selling lowers it; with the fee
staying in the pool, no closed form lands exactly on a price, so the size is searched: the price after an
exact-output swap is monotonic in the output, and :func:`flows.amm.v2.get_amount_in` gives the input the pair
accepts for it (its K check passes by construction). The result never overshoots the target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from flows.amm.v2 import get_amount_in


@dataclass(frozen=True, slots=True)
class Reprice:
    """A swap on one pool, in raw units.

    Attributes:
        buy_base: True pays the quote token in and takes the base token out (the price rises).
        amount_in: paid in, raw units of the input token.
        amount_out: taken out, raw units of the output token.
    """

    buy_base: bool
    amount_in: int
    amount_out: int


def price(reserve_base: int, reserve_quote: int) -> Fraction:
    """The pool's price: raw quote units per raw base unit."""
    return Fraction(reserve_quote, reserve_base)


def _largest(lo: int, hi: int, ok: Callable[[int], bool]) -> int:
    """Largest x in [lo, hi] with ok(x), given ok(lo) and ok monotone (true, then false)."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def reprice(reserve_base: int, reserve_quote: int, fee_bps: int, target: Fraction) -> Reprice | None:
    """The largest swap that moves the pool's price toward ``target`` without passing it.

    Args:
        reserve_base: reserve of the priced token, raw units.
        reserve_quote: reserve of the quote token, raw units.
        fee_bps: the pair's swap fee, bps.
        target: wanted price, raw quote units per raw base unit (positive).

    Returns:
        The swap (exact output, input from ``get_amount_in``), or None when the pool is at the target already
        (no swap of at least one raw unit out gets closer without passing it).

    Example:
        >>> r = reprice(1_000 * 10**18, 2_000_000 * 10**6, 30, Fraction(2_020 * 10**6, 10**18))
        >>> r.buy_base, r.amount_out
        (True, 4955391364154222061)
    """
    if reserve_base <= 0 or reserve_quote <= 0 or target <= 0:
        msg = f"reprice: reserves and target must be positive, got {reserve_base}, {reserve_quote}, {target}"
        raise ValueError(msg)
    now = price(reserve_base, reserve_quote)
    num, den = target.numerator, target.denominator
    if target > now:

        def below(base_out: int) -> bool:
            quote_in = get_amount_in(base_out, reserve_quote, reserve_base, fee_bps)
            return (reserve_quote + quote_in) * den <= num * (reserve_base - base_out)

        base_out = _largest(0, reserve_base - 1, lambda x: x == 0 or below(x))
        if base_out == 0:
            return None
        return Reprice(True, get_amount_in(base_out, reserve_quote, reserve_base, fee_bps), base_out)
    if target < now:

        def above(quote_out: int) -> bool:
            base_in = get_amount_in(quote_out, reserve_base, reserve_quote, fee_bps)
            return (reserve_quote - quote_out) * den >= num * (reserve_base + base_in)

        quote_out = _largest(0, reserve_quote - 1, lambda x: x == 0 or above(x))
        if quote_out == 0:
            return None
        return Reprice(False, get_amount_in(quote_out, reserve_base, reserve_quote, fee_bps), quote_out)
    return None
