"""Optimal input of a cyclic arbitrage through constant-product (Uniswap V2 style) pools.

A hop ``out = floor(g*R_out*x / (R_in + g*x))`` is a Moebius map, and so is any chain of them: the whole cycle
is one virtual constant-product curve ``Out(x) = N*x / (K + M*x)`` (reference/amm-math.md). With fee
multipliers ``g = (10000 - fee_bps) / 10000`` kept as integers, ``N``, ``K`` and ``M`` are exact integers, the
real optimum ``x* = (sqrt(N*K/(1+phi)) - K) / M`` comes from :func:`math.isqrt`, and the best real profit
``(sqrt(N) - sqrt((1+phi)*K))**2 / M`` is an exact upper bound on every integer profit.

The trade the chain executes floors at every hop, so the integer profit is a step function that sits at most a
few units below the real curve. :func:`optimal_input` therefore searches integers near ``x*`` and then proves
the answer: any input that could do better must lie where the real curve is above the best integer profit
found, an interval solved exactly from a quadratic; that interval is enumerated (in the units of whichever token
on the cycle makes it shortest), so the result is the integer argmax of the hop-by-hop profit. Only for very deep
pools, where that interval is too long to enumerate, does the proof fall back to a bounded search (see
:func:`optimal_input`). A two-hop cycle (the cross-venue pair, every sizing of ``cross_dex``) takes an unrolled
search with the same candidates and the same answer (:func:`_search_pair`; ``tests/amm/test_cycle_pair.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from math import isqrt

from base.errors import AmmRevert
from flows.amm.profit import flash_loan_fee
from flows.amm.v2 import BPS, Hop

__all__ = ["Hop", "Sizing", "VirtualCurve", "compose", "cycle_sizing", "optimal_input"]

# Half-width of the first scan around x*, in units of each token on the cycle.
_WINDOW = 4
# Most candidates evaluated to prove optimality (a few ms). Past this the profit curve is flat to within one unit
# over more than this many units of every token (very deep pools) and the best found is returned unproven.
_PROOF_BUDGET = 4096


@dataclass(frozen=True, slots=True)
class Sizing:
    """The size of a cyclic arbitrage and what it yields, in raw units of the start token X.

    Attributes:
        amount_in: input of the first hop (0 when the cycle is not profitable).
        amount_out: output of the last hop, computed hop by hop with the integer ``getAmountOut``.
        profit: ``amount_out - amount_in`` (gross of the flash-loan fee).
        flash_fee: flash-loan premium on ``amount_in``, rounded up (0 without a flash loan).
        net: ``profit - flash_fee``, the quantity the size maximises.
    """

    amount_in: int
    amount_out: int
    profit: int
    flash_fee: int
    net: int


_NO_TRADE = Sizing(0, 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class VirtualCurve:
    """A chain of constant-product hops as one curve ``Out(x) = n*x / (k + m*x)`` (real-valued).

    Attributes:
        n: numerator coefficient (product of ``(10000 - fee_bps) * reserve_out`` over the hops).
        k: constant of the denominator (product of ``10000 * reserve_in``).
        m: slope of the denominator.
    """

    n: int
    k: int
    m: int

    def is_profitable(self, flash_fee_bps: int = 0) -> bool:
        """Return whether the marginal rate at zero beats repaying ``(1 + phi)``: ``n/k > 1 + phi``."""
        return self.n * BPS > self.k * (BPS + flash_fee_bps)

    def optimum_floor(self, flash_fee_bps: int = 0) -> int:
        """Return ``floor(x*)``, the real maximiser of ``Out(x) - (1+phi)*x``, raw units (0 if unprofitable).

        ``x* = (sqrt(n*k/(1+phi)) - k) / m``; ``isqrt`` of the floored radicand is the floor of the real root.
        """
        if not self.is_profitable(flash_fee_bps):
            return 0
        root = isqrt(self.n * self.k * BPS // (BPS + flash_fee_bps))
        return max(0, (root - self.k) // self.m)

    def max_profit_floor(self, flash_fee_bps: int = 0) -> int:
        """Return ``floor(max_x Out(x) - (1+phi)*x)``, an upper bound on any integer net profit (raw units).

        ``10000*m*pi* = 10000*n + (10000+p)*k - 2*sqrt(10000*n*k*(10000+p))``; the square root is replaced by
        its ceiling, which leaves the floor unchanged because the numerator's other terms are integers.
        """
        if not self.is_profitable(flash_fee_bps):
            return 0
        q = BPS + flash_fee_bps
        four_s = 4 * BPS * self.n * self.k * q
        root = isqrt(four_s)
        if root * root != four_s:
            root += 1
        return (BPS * self.n + q * self.k - root) // (BPS * self.m)

    def beating_interval(self, target: int, flash_fee_bps: int = 0) -> tuple[int, int] | None:
        """Return integers ``(lo, hi)`` enclosing every ``x`` with ``Out(x) - (1+phi)*x >= target``.

        The set is where ``a*x**2 - b*x + c <= 0`` with ``a = (10000+p)*m``,
        ``b = 10000*n - (10000+p)*k - 10000*target*m``, ``c = 10000*target*k``; the roots are widened by one
        unit each way so the interval is a superset. ``None`` when no real ``x > 0`` qualifies.
        """
        q = BPS + flash_fee_bps
        a = q * self.m
        b = BPS * self.n - q * self.k - BPS * target * self.m
        c = BPS * target * self.k
        disc = b * b - 4 * a * c
        if b <= 0 or disc < 0:
            return None
        root = isqrt(disc)
        return max(1, (b - root - 1) // (2 * a)), (b + root + 1) // (2 * a) + 1


def _coefficients(hop: Hop) -> tuple[int, int, int]:
    # getAmountOut as floor(A*x / (B + C*x)).
    if hop.reserve_in <= 0 or hop.reserve_out <= 0:
        msg = "INSUFFICIENT_LIQUIDITY"
        raise AmmRevert(msg)
    if not 0 <= hop.fee_bps < BPS:
        msg = f"fee_bps must be in [0, {BPS}), got {hop.fee_bps}"
        raise ValueError(msg)
    gamma = BPS - hop.fee_bps
    return gamma * hop.reserve_out, BPS * hop.reserve_in, gamma


def compose(hops: Sequence[Hop]) -> VirtualCurve:
    """Compose hops into one virtual curve.

    If ``f(x) = N*x/(K + M*x)`` and a hop is ``A*y/(B + C*y)``, the chain is
    ``(A*N)*x / (B*K + (B*M + C*N)*x)``.

    Args:
        hops: pools in cycle order, each oriented along the cycle.

    Returns:
        The exact integer coefficients of the composed curve.

    Raises:
        AmmRevert: ``INSUFFICIENT_LIQUIDITY`` if a reserve is not positive.
        ValueError: on an empty path or a fee outside ``[0, 10000)``.
    """
    if not hops:
        msg = "a cycle needs at least one hop"
        raise ValueError(msg)
    n, k, m = 1, 1, 0
    for hop in hops:
        a, b, c = _coefficients(hop)
        n, k, m = a * n, b * k, b * m + c * n
    return VirtualCurve(n, k, m)


class _Cycle:
    """Integer forward and backward evaluation of a fixed cycle (no validation: callers check hops)."""

    __slots__ = ("back", "coeffs", "fee_bps")

    def __init__(self, hops: Sequence[Hop], flash_fee_bps: int) -> None:
        self.coeffs = [_coefficients(h) for h in hops]
        self.fee_bps = flash_fee_bps
        # back[j]: the hops before token j, last first (least_input walks them back; built once, not per call).
        self.back = [tuple(reversed(self.coeffs[:j])) for j in range(len(self.coeffs) + 1)]

    def prefix(self, x: int) -> list[int]:
        """Amounts ``[x, y_1, ..., y_n]``; a zero amount stays zero (the real swap would revert)."""
        amounts = [x]
        for a, b, c in self.coeffs:
            y = amounts[-1]
            amounts.append(a * y // (b + c * y) if y > 0 else 0)
        return amounts

    def output(self, x: int) -> int:
        y = x
        for a, b, c in self.coeffs:
            if y <= 0:
                return 0
            y = a * y // (b + c * y)
        return y

    def net(self, x: int) -> int:
        return self.output(x) - x - flash_loan_fee(x, self.fee_bps)

    def least_input(self, j: int, y: int) -> int | None:
        """Smallest ``x`` whose amount after hop ``j`` is at least ``y`` (``None`` if none is).

        Per hop, ``floor(A*x/(B + C*x)) >= y`` iff ``x*(A - C*y) >= y*B``; the hops are monotone, so inverting
        them one by one from hop ``j`` back to the first gives the least input of the chain.
        """
        for a, b, c in self.back[j]:
            if y <= 0:
                return 0
            den = a - c * y
            if den <= 0:
                return None
            y = -(-(y * b) // den)
        return y


def cycle_sizing(amount_in: int, hops: Sequence[Hop], flash_fee_bps: int = 0) -> Sizing:
    """Return what a given input yields around the cycle, hop by hop with the integer ``getAmountOut``.

    Args:
        amount_in: input of the first hop, raw units of X (``0`` means no trade).
        hops: pools in cycle order, each oriented along the cycle.
        flash_fee_bps: flash-loan premium in bps on ``amount_in``.

    Returns:
        The sizing for ``amount_in`` (an intermediate amount of zero gives ``amount_out == 0``; on chain that
        trade would revert with ``INSUFFICIENT_INPUT_AMOUNT``).
    """
    if amount_in <= 0:
        return _NO_TRADE
    out = _Cycle(hops, flash_fee_bps).output(amount_in)
    fee = flash_loan_fee(amount_in, flash_fee_bps)
    return Sizing(amount_in, out, out - amount_in, fee, out - amount_in - fee)


def optimal_input(hops: Sequence[Hop], flash_fee_bps: int = 0) -> Sizing:
    """Return the integer input that maximises the net profit of a cycle of constant-product pools.

    The profit is the hop-by-hop integer ``getAmountOut`` chain minus the input and the flash-loan premium
    (``repay (1 + phi) * x``, premium rounded up). Steps:

    1. compose the cycle into ``Out(x) = N*x/(K + M*x)`` and take ``floor(x*)`` from the closed form;
    2. evaluate, for each token on the cycle, the least inputs that reach a few units around that token's
       amount at ``x*`` (an optimum always sits at such a least input: within a step of the floors, a smaller
       input pays less for the same output);
    3. prove it: if the best net equals the closed-form bound ``floor(pi*)`` it is optimal; otherwise any
       better input lies in the exact interval where the real curve exceeds the best, which is enumerated in the
       units of the token that makes it shortest; if that is too long (over 4096 units of every token), it is
       searched instead, outwards from ``x*`` and in a golden-ratio sweep across it, re-proving after every
       improvement.

    Only when 4096 candidates are spent without reaching the bound is the best found returned unproven: pools
    so deep that the curve is flat to one unit over thousands of units of every token, and two or more tokens
    on the cycle much coarser than X (about 1 % of random three-pool cycles; the result was then one unit
    below the real bound).

    When several inputs reach the best net (the top of the curve is flat to one unit over a range), the smallest
    input among those examined is returned, which is not necessarily the smallest of the whole flat top.

    Args:
        hops: two or more pools in cycle order; hop ``i`` takes the token hop ``i-1`` gives out, and the last hop
            gives back the token the first takes (X).
        flash_fee_bps: flash-loan premium in bps (0: trading from inventory).

    Returns:
        The sizing, or all zeros when no input yields a positive net profit.

    Raises:
        AmmRevert: ``INSUFFICIENT_LIQUIDITY`` if a reserve is not positive.
        ValueError: on an empty path, a fee outside ``[0, 10000)``, or a negative flash fee.

    Example:
        >>> optimal_input([Hop(1_000_000, 1_000_000, 30), Hop(1_000_000, 1_100_000, 30)])
        Sizing(amount_in=22931, amount_out=23978, profit=1047, flash_fee=0, net=1047)
    """
    best_x, best_net, _proven = _search(hops, flash_fee_bps)
    if best_net <= 0:
        return _NO_TRADE
    if len(hops) == 2:  # the two hops' output, inline (cycle_sizing builds a _Cycle for any length)
        (a1, b1, c1), (a2, b2, c2) = _coefficients(hops[0]), _coefficients(hops[1])
        y = a1 * best_x // (b1 + c1 * best_x)
        out = a2 * y // (b2 + c2 * y)
        fee = flash_loan_fee(best_x, flash_fee_bps)
        return Sizing(best_x, out, out - best_x, fee, out - best_x - fee)
    return cycle_sizing(best_x, hops, flash_fee_bps)


def _search(hops: Sequence[Hop], flash_fee_bps: int, *, fast: bool = True) -> tuple[int, int, bool]:
    """Return ``(best_x, best_net, proven)``; ``proven`` is False only when the proof budget ran out.

    ``fast`` takes :func:`_search_pair` for two hops (the cross-venue cycle); ``fast=False`` is the general
    search, the reference the pair's is held to (tests/amm/test_cycle_pair.py).
    """
    if flash_fee_bps < 0:
        msg = f"flash_fee_bps must be non-negative, got {flash_fee_bps}"
        raise ValueError(msg)
    curve = compose(hops)
    bound = curve.max_profit_floor(flash_fee_bps)
    if bound <= 0:
        return 0, 0, True
    if fast and len(hops) == 2:
        return _search_pair(curve, bound, hops, flash_fee_bps)
    cycle = _Cycle(hops, flash_fee_bps)
    n_tokens = len(hops) + 1

    best_x, best_net = 0, 0
    coeffs, fee = cycle.coeffs, flash_fee_bps
    # Inputs already evaluated: a second look at one can change nothing (the best only moves to a higher net, or
    # to a smaller input at the same net), and neighbouring tokens' least inputs often coincide.
    seen: set[int] = set()
    least_input = cycle.least_input
    two = len(coeffs) == 2  # the cross-venue pair: its two hops unrolled
    (a1, b1, c1), (a2, b2, c2) = coeffs if two else ((0, 1, 0), (0, 1, 0))

    def consider(x: int | None) -> None:
        nonlocal best_x, best_net
        if x is None or x <= 0 or x in seen:
            return
        seen.add(x)
        # cycle.net(x), inlined (the hot loop of the search): the output hop by hop, less x and the flash fee.
        if two:
            y = a1 * x // (b1 + c1 * x)
            y = a2 * y // (b2 + c2 * y) if y > 0 else 0
        else:
            y = x
            for a, b, c in coeffs:
                if y <= 0:
                    y = 0
                    break
                y = a * y // (b + c * y)
        net = y - x + (-x * fee) // BPS
        if net > best_net or (net == best_net and best_net > 0 and x < best_x):
            best_x, best_net = x, net

    x0 = curve.optimum_floor(flash_fee_bps)
    around = cycle.prefix(max(x0, 1))
    for j in range(n_tokens):
        for y in range(max(around[j] - _WINDOW, 1), around[j] + _WINDOW + 1):
            consider(y if j == 0 else least_input(j, y))  # token 0 is the input itself

    # Prove, or improve until proven: a better input must lie where the real curve beats the best so far.
    spent = 0
    while best_net < bound:
        interval = curve.beating_interval(best_net + 1, flash_fee_bps)
        if interval is None:
            return best_x, best_net, True
        lo_amounts, hi_amounts = cycle.prefix(interval[0]), cycle.prefix(interval[1])
        j = min(range(n_tokens), key=lambda i: hi_amounts[i] - lo_amounts[i])
        lo, hi = max(lo_amounts[j], 1), hi_amounts[j]
        if hi - lo < _PROOF_BUDGET - spent:
            for y in range(lo, hi + 1):
                consider(least_input(j, y))
            return best_x, best_net, True
        # Too wide to enumerate: alternate a scan outwards from the optimum (where the curve leaves the most room
        # for the floors) with a golden-ratio sweep of the whole interval (the floors' losses drift slowly with
        # the input, so a contiguous scan can sit in a bad stretch), until something better turns up (then
        # re-prove) or the budget is spent.
        before = best_net
        for step, y in enumerate(_sweep(lo, hi, min(max(around[j], lo), hi), _PROOF_BUDGET - spent)):
            if y is not None:
                consider(cycle.least_input(j, y))
            if best_net > before:
                spent += step + 1
                break
        else:
            return best_x, best_net, False
    return best_x, best_net, True


def _sweep(lo: int, hi: int, centre: int, steps: int) -> Iterator[int | None]:
    """The amounts the search tries, one per step, when an interval is too wide to enumerate: alternately outwards
    from ``centre`` and along a golden-ratio stride over ``[lo, hi]`` (None for a step that falls outside)."""
    span = hi - lo + 1
    stride = (span * 6_180_339_887 // 10**10) | 1
    for step in range(steps):
        half = step // 2
        outwards = (half + 1) // 2 if half % 2 else -(half // 2)  # 0, 1, -1, 2, -2, ... on the even steps
        y = lo + (half + 1) * stride % span if step % 2 else centre + outwards
        yield y if lo <= y <= hi else None


def _search_pair(curve: VirtualCurve, bound: int, hops: Sequence[Hop], fee: int) -> tuple[int, int, bool]:
    """:func:`_search` of a two-hop cycle, unrolled: the same candidates, the same answer, a few times faster.

    The answer of the window and of an enumeration does not depend on the order candidates are tried in (the
    best net wins, then the smallest input), so candidates are collected, deduplicated and tried in increasing
    order, which allows stopping at the first that reaches the bound: no later one can beat it or tie it with a
    smaller input. The golden-ratio sweep, whose answer does depend on the order, tries them in the general
    search's order.
    """
    (a1, b1, c1), (a2, b2, c2) = _coefficients(hops[0]), _coefficients(hops[1])
    x0 = max(curve.optimum_floor(fee), 1)
    y1 = a1 * x0 // (b1 + c1 * x0)
    around = (x0, y1, a2 * y1 // (b2 + c2 * y1))
    window = set(range(max(x0 - _WINDOW, 1), x0 + _WINDOW + 1))
    # Least inputs of the amounts around token 1's and token 2's (_Cycle.least_input): a denominator that is not
    # positive stays so for every larger amount (c > 0), so the first one ends the range.
    for y in range(max(around[1] - _WINDOW, 1), around[1] + _WINDOW + 1):
        den = a1 - c1 * y
        if den <= 0:
            break
        window.add(-(-(y * b1) // den))
    for y in range(max(around[2] - _WINDOW, 1), around[2] + _WINDOW + 1):
        den = a2 - c2 * y
        if den <= 0:
            break
        z = -(-(y * b2) // den)
        den = a1 - c1 * z
        if den <= 0:
            break
        window.add(-(-(z * b1) // den))
    best_x = best_net = 0
    for x in sorted(window):
        # The net: output hop by hop (a zero amount stays zero: floor(0 / b) == 0), less x and the flash fee.
        y = a1 * x // (b1 + c1 * x)
        net = a2 * y // (b2 + c2 * y) - x + (-x * fee) // BPS
        if net > best_net or (net == best_net and best_net > 0 and x < best_x):
            best_x, best_net = x, net
            if net == bound:
                return best_x, best_net, True
    return _prove_pair(curve, bound, (a1, b1, c1, a2, b2, c2), fee, around, window, best_x, best_net)


def _prove_pair(
    curve: VirtualCurve,
    bound: int,
    coeffs: tuple[int, int, int, int, int, int],
    fee: int,
    around: tuple[int, int, int],
    seen: set[int],
    best_x: int,
    best_net: int,
) -> tuple[int, int, bool]:
    """The proof loop of :func:`_search` for two hops, from the window's best (``seen``: inputs already tried)."""
    a1, b1, c1, a2, b2, c2 = coeffs

    def least(j: int, y: int) -> int | None:
        # _Cycle.least_input for y >= 1: invert hop 2 (token 2 only), then hop 1.
        if j == 0:
            return y
        if j == 2:
            den = a2 - c2 * y
            if den <= 0:
                return None
            y = -(-(y * b2) // den)
        den = a1 - c1 * y
        return -(-(y * b1) // den) if den > 0 else None

    def prefix(x: int) -> tuple[int, int, int]:
        y1 = a1 * x // (b1 + c1 * x)
        return x, y1, a2 * y1 // (b2 + c2 * y1)

    def best_of(xs: Iterable[int | None]) -> None:
        # Candidates in increasing order: once one reaches the bound, no later one can beat it or tie it smaller.
        nonlocal best_x, best_net
        bx, bn = best_x, best_net
        for x in xs:
            if x is None or x in seen:
                continue
            seen.add(x)
            y = a1 * x // (b1 + c1 * x)
            net = a2 * y // (b2 + c2 * y) - x + (-x * fee) // BPS
            if net > bn or (net == bn and bn > 0 and x < bx):
                bx, bn = x, net
                if bn == bound:
                    break
        best_x, best_net = bx, bn

    spent = 0
    while best_net < bound:
        interval = curve.beating_interval(best_net + 1, fee)
        if interval is None:
            return best_x, best_net, True
        lo_amounts, hi_amounts = prefix(interval[0]), prefix(interval[1])
        j = min(range(3), key=lambda i: hi_amounts[i] - lo_amounts[i])
        lo, hi = max(lo_amounts[j], 1), hi_amounts[j]
        if hi - lo < _PROOF_BUDGET - spent:
            best_of(least(j, y) for y in range(lo, hi + 1))  # least() is non-decreasing in y
            return best_x, best_net, True
        before = best_net
        for step, y in enumerate(_sweep(lo, hi, min(max(around[j], lo), hi), _PROOF_BUDGET - spent)):
            if y is not None:
                best_of((least(j, y),))
            if best_net > before:
                spent += step + 1
                break
        else:
            return best_x, best_net, False
    return best_x, best_net, True
