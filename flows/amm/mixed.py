"""Optimal input of a cycle whose legs are any exact swap functions (Uniswap V2 and V3 pools mixed).

A V3 leg has no closed form across ticks, but every leg's output is concave and non-decreasing in its input, so the
cycle's real profit is concave and an integer ternary search on the exact, leg-by-leg profit finds its top. The
search is bounded by the depth of the last pool (a profit needs ``out(x) > x``, and ``out`` never exceeds what that
pool can pay out) and by an optional inventory cap.

Integer rounding makes the exact profit a saw-tooth wherever an intermediate token's unit is worth many units of
X (WBTC's 8 decimals against WETH's 18: one satoshi is ~3.3e11 wei). So after a first search over the input, each
such coarse token gets a second search over its own amounts, each priced at the least input that buys it: every
optimum is such a least input (a larger input buying the same amount only pays more), and on that grid the
saw-tooth of that token is gone. A last scan tries the neighbours of the best point in every token's units.

What remains is rounding *inside* a leg: a V3 pool floors ``amount * (1e6 - fee) / 1e6``, so every ~333 satoshi
(at 0.3 %) one more satoshi buys nothing, and the best points sit just before those stalls. The search does not
enumerate them; its result is within about one unit of the coarsest token (valued in X) of the integer optimum.
For cycles of V2 pools only, :func:`flows.amm.cycle.optimal_input` is exact.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from flows.amm.cycle import Sizing
from flows.amm.profit import flash_loan_fee
from flows.amm.v3.pool import V3PoolState

__all__ = ["Leg", "V3Leg", "optimal_input_mixed"]

# Largest exact input a V3 pool accepts (int256); a V2 pair accepts it too and answers with its full depth.
_MAX_IN = 2**255 - 1
# The ternary search stops at this width (in the pivot token's units) and scans it.
_SCAN = 8
# Neighbours tried in every token's units around the best point, each side.
_POLISH = 2
# How far below the best a profit must fall to mark the edge of the top (units of X; rounding noise is ~2).
_NOISE = 4
_NO_TRADE = Sizing(0, 0, 0, 0, 0)


class Leg(Protocol):
    """A pool oriented along the cycle: exact input of the token it takes -> exact output, raw units."""

    def amount_out(self, amount_in: int) -> int:
        """Return the output for ``amount_in`` (> 0), as the contract computes it."""
        ...


@dataclass(frozen=True, slots=True)
class V3Leg:
    """A Uniswap V3 pool as a cycle leg, swapping with no price limit (the Quoter's price limit 0).

    Attributes:
        state: the pool state.
        zero_for_one: True when the cycle sends token0 in and takes token1 out.
    """

    state: V3PoolState
    zero_for_one: bool

    def amount_out(self, amount_in: int) -> int:
        """Return ``swap_exact_in(amount_in)``'s output, raw units."""
        return self.state.swap_exact_in(amount_in, self.zero_for_one)[0]


class _Chain:
    """Leg-by-leg evaluation with memoised least inputs per token."""

    __slots__ = ("_known", "fee_bps", "legs")

    def __init__(self, legs: Sequence[Leg], fee_bps: int) -> None:
        self.legs = legs
        self.fee_bps = fee_bps
        # Per token j: sorted amounts y and the least inputs buying them, to bracket new searches.
        self._known: dict[int, tuple[list[int], list[int]]] = {}

    def prefix(self, x: int, upto: int) -> int:
        # A zero amount mid-way stays zero: on chain the next swap would revert, so nothing comes back.
        for leg in self.legs[:upto]:
            if x <= 0:
                return 0
            x = leg.amount_out(x)
        return x

    def output(self, x: int) -> int:
        return self.prefix(x, len(self.legs))

    def net(self, x: int) -> int:
        if x <= 0:
            return 0
        return self.output(x) - x - flash_loan_fee(x, self.fee_bps)

    def least_input(self, j: int, y: int, cap: int) -> int | None:
        """Least ``x`` in ``[1, cap]`` whose amount after leg ``j`` is at least ``y`` (None if even ``cap`` fails).

        The prefix is non-decreasing. Known answers bracket the search; inside the bracket, interpolation (the
        legs are nearly linear at that scale) alternates with bisection, keeping ``prefix(lo) < y <= prefix(hi)``.
        """
        if y <= 0:
            return 0
        ys, xs = self._known.setdefault(j, ([], []))
        i = bisect_left(ys, y)
        if i < len(ys) and ys[i] == y:
            return xs[i]
        lo = xs[i - 1] if i > 0 else 0
        hi = xs[i] if i < len(ys) else cap
        p_lo, p_hi = self.prefix(lo, j), self.prefix(hi, j)
        if p_lo >= y:
            return lo
        if p_hi < y:
            return None
        bisect_next = False
        while hi - lo > 1:
            width = hi - lo
            if bisect_next:
                guess = lo + width // 2
            else:
                guess = lo + (y - p_lo) * width // (p_hi - p_lo)
                guess = min(max(guess, lo + 1), hi - 1)
            p = self.prefix(guess, j)
            if p >= y:
                hi, p_hi = guess, p
            else:
                lo, p_lo = guess, p
            bisect_next = (hi - lo) * 2 > width
        ys.insert(i, y)
        xs.insert(i, hi)
        return hi


def optimal_input_mixed(legs: Sequence[Leg], flash_fee_bps: int = 0, max_amount_in: int | None = None) -> Sizing:
    """Return the input maximising the net profit of a cycle of arbitrary exact-swap legs.

    Args:
        legs: two or more legs in cycle order (e.g. :class:`V3Leg` and :class:`flows.amm.v2.Hop`); the last gives
            back the token the first takes (X).
        flash_fee_bps: flash-loan premium in bps on the input (0: trading from inventory).
        max_amount_in: optional cap on the input (inventory or notional limit), raw units of X.

    Returns:
        The best sizing found, ``amount_out`` computed leg by leg; all zeros when nothing is profitable. Checked
        against brute force in the tests; unlike :func:`flows.amm.cycle.optimal_input` it carries no proof.

    Raises:
        ValueError: with fewer than two legs or a negative fee or cap.
    """
    if len(legs) < 2:
        msg = f"a cycle needs at least two legs, got {len(legs)}"
        raise ValueError(msg)
    if flash_fee_bps < 0 or (max_amount_in is not None and max_amount_in < 0):
        msg = "flash_fee_bps and max_amount_in must be non-negative"
        raise ValueError(msg)
    chain = _Chain(legs, flash_fee_bps)
    n_legs = len(legs)

    # A profit needs out(x) > x, and out(x) stays below everything the last pool can pay out.
    cap = legs[-1].amount_out(_MAX_IN)
    if max_amount_in is not None:
        cap = min(cap, max_amount_in)
    if cap <= 0:
        return _NO_TRADE

    best_x, best_net = 0, 0

    def consider(x: int | None) -> int:
        nonlocal best_x, best_net
        if x is None or x <= 0:
            return 0
        net = chain.net(x)
        if net > best_net or (net == best_net and x < best_x):
            best_x, best_net = x, net
        return net

    # Stage 1: over the input itself (exact when no intermediate token is coarser than X).
    lo, hi = _ternary(chain, 0, 1, cap, cap)
    for x in range(lo, hi + 1):
        consider(x)
    if not best_x:
        return _NO_TRADE

    # Stage 2: over each intermediate token whose unit is worth more than one unit of X, coarsest first, from
    # the best point so far: bracket the top by galloping out until the profit falls clearly, then search.
    # Coarse means a marginal unit of the token costs more than one unit of X (an average price misleads when a
    # pool is nearly drained).
    step = max(16, best_x >> 16)
    gains = {j: chain.prefix(best_x + step, j) - chain.prefix(best_x, j) for j in range(1, n_legs)}
    coarse = sorted((j for j, gain in gains.items() if gain < step), key=lambda j: gains[j])
    for j in coarse:
        y_centre = chain.prefix(best_x, j)
        if y_centre <= 0:
            continue
        y_cap = chain.prefix(cap, j)
        floor_net = best_net - _NOISE
        bounds = []
        for direction in (-1, 1):
            step = 1
            while True:
                y = y_centre + direction * step
                if not 1 <= y <= y_cap or consider(chain.least_input(j, y, cap)) < floor_net:
                    break
                step *= 2
            bounds.append(min(max(y_centre + direction * step, 1), y_cap))
        lo, hi = _ternary(chain, j, bounds[0], bounds[1], cap)
        for y in range(lo, hi + 1):
            consider(chain.least_input(j, y, cap))

    # Polish: neighbours of the best point in every token's units.
    centre = best_x
    for x in range(max(1, centre - _POLISH), centre + _POLISH + 1):
        consider(x)
    for j in range(1, n_legs + 1):
        y_centre = chain.prefix(centre, j)
        for y in range(max(1, y_centre - _POLISH), y_centre + _POLISH + 1):
            consider(chain.least_input(j, y, cap))

    if best_net <= 0:
        return _NO_TRADE
    out = chain.output(best_x)
    return Sizing(best_x, out, out - best_x, out - best_x - best_net, best_net)


def _ternary(chain: _Chain, j: int, lo: int, hi: int, cap: int) -> tuple[int, int]:
    """Narrow ``[lo, hi]`` (amounts of token ``j``, 0 = X) to at most ``_SCAN`` around the top of the profit.

    Each amount is priced at the least input buying it. Where nothing comes back the profit is just ``-x``,
    decreasing although the top lies to the right, so such points push the search right.
    """

    def value(y: int) -> tuple[int, bool]:
        x = y if j == 0 else chain.least_input(j, y, cap)
        if x is None or x <= 0:
            return 0, False
        out = chain.output(x)
        return out - x - flash_loan_fee(x, chain.fee_bps), out > 0

    while hi - lo > _SCAN:
        third = (hi - lo) // 3
        m1, m2 = lo + third, hi - third
        net1, pays1 = value(m1)
        net2, pays2 = value(m2)
        if not pays2:
            lo = m2
        elif not pays1 or net1 < net2:
            lo = m1
        else:
            hi = m2
    return lo, hi
