"""Optimal sizing of V2 cycles: closed form + integer search against brute force and an exact real bound."""

from __future__ import annotations

import doctest
from decimal import Decimal, localcontext
from math import isqrt

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import flows.amm.cycle
from base.errors import AmmRevert
from flows.amm.cycle import Hop, Sizing, compose, cycle_sizing, optimal_input
from flows.amm.v2 import get_amount_out

USDC = 10**6
ETH = 10**18
Pools = list[tuple[int, int, int]]


def _net(x: int, pools: Pools, flash_fee_bps: int = 0) -> int:
    """Hop-by-hop integer net profit of input ``x`` (a zero amount mid-way returns nothing)."""
    y = x
    for r_in, r_out, fee in pools:
        y = get_amount_out(y, r_in, r_out, fee) if y > 0 else 0
    return y - x - (-(-x * flash_fee_bps // 10_000))


def _real_curve(pools: Pools, flash_fee_bps: int) -> tuple[Decimal, Decimal, Decimal]:
    """Real optimum ``x*``, best real profit ``pi*`` and ``q = 1 + phi`` of the cycle, to 150 digits.

    Composes ``g*R_out*x / (R_in + g*x)`` hop by hop in Decimal, independently of flows.amm.cycle.
    """
    with localcontext() as ctx:
        ctx.prec = 150
        n, k, m = Decimal(1), Decimal(1), Decimal(0)
        for r_in, r_out, fee in pools:
            g = Decimal(10_000 - fee) / 10_000
            n, k, m = n * g * r_out, k * r_in, m * r_in + n * g
        q = Decimal(10_000 + flash_fee_bps) / 10_000
        if n <= q * k:
            return Decimal(0), Decimal(0), q
        x_star = ((n * k / q).sqrt() - k) / m
        p_star = (n.sqrt() - (q * k).sqrt()) ** 2 / m
        return x_star, p_star, q


def _beating_range(pools: Pools, flash_fee_bps: int, target: int) -> tuple[int, int] | None:
    """Integers enclosing every ``x`` whose *real* net profit reaches ``target`` (None if none does)."""
    with localcontext() as ctx:
        ctx.prec = 150
        n, k, m = Decimal(1), Decimal(1), Decimal(0)
        for r_in, r_out, fee in pools:
            g = Decimal(10_000 - fee) / 10_000
            n, k, m = n * g * r_out, k * r_in, m * r_in + n * g
        q = Decimal(10_000 + flash_fee_bps) / 10_000
        # n x / (k + m x) - q x >= t  <=>  q m x^2 - (n - q k - t m) x + t k <= 0
        a, b, c = q * m, n - q * k - target * m, target * k
        disc = b * b - 4 * a * c
        if b <= 0 or disc < 0:
            return None
        root = disc.sqrt()
        return max(1, int((b - root) / (2 * a)) - 2), int((b + root) / (2 * a)) + 2


def _ternary_reference(pools: Pools, flash_fee_bps: int, hi: int) -> int:
    """Plain integer ternary search on the hop-by-hop profit, then a +-64 scan: the reference search."""
    lo = 1
    while hi - lo > 8:
        m1, m2 = lo + (hi - lo) // 3, hi - (hi - lo) // 3
        if _net(m1, pools, flash_fee_bps) < _net(m2, pools, flash_fee_bps):
            lo = m1
        else:
            hi = m2
    return max(_net(x, pools, flash_fee_bps) for x in range(max(1, lo - 64), hi + 65))


def _reserve() -> st.SearchStrategy[int]:
    # Log-uniform over 1e3 .. 1e30 raw units.
    return st.integers(3, 29).flatmap(lambda e: st.integers(10**e, 10 ** (e + 1)))


cycles = st.lists(st.tuples(_reserve(), _reserve(), st.integers(1, 100)), min_size=2, max_size=3)


def test_docstring_example_runs() -> None:
    assert doctest.testmod(flows.amm.cycle, raise_on_error=True).attempted >= 1


def test_reference_example_in_raw_units() -> None:
    """reference/amm-math.md: A=(2,000,000 USDC, 1,000 ETH), B=(1,000 ETH, 2,100,000 USDC), 0.3 % each."""
    a = Hop(2_000_000 * USDC, 1_000 * ETH, 30)
    b = Hop(1_000 * ETH, 2_100_000 * USDC, 30)
    sizing = optimal_input([a, b])
    # x* ~ 21,718.63 USDC and pi* ~ 469.58 USDC, as published (to the cent).
    assert abs(sizing.amount_in - 21_718_630_000) <= USDC // 100
    assert abs(sizing.profit - 469_580_000) <= USDC // 100
    assert sizing.amount_out == b.amount_out(a.amount_out(sizing.amount_in))
    assert sizing == Sizing(sizing.amount_in, sizing.amount_out, sizing.amount_out - sizing.amount_in, 0, sizing.profit)
    # The same-fee integer formula of the reference lands on the same profit.
    a_in, a_out, b_in, b_out = a.reserve_in, a.reserve_out, b.reserve_in, b.reserve_out
    x_doc = (997_000 * isqrt(a_in * a_out * b_in * b_out) - 1_000_000 * a_in * b_in) // (
        997_000 * b_in + 994_009 * a_out
    )
    pools = [(a_in, a_out, 30), (b_in, b_out, 30)]
    assert max(_net(x, pools) for x in range(x_doc - 50, x_doc + 51)) == sizing.profit
    # And nothing beats it: the whole range where the real curve could do better is enumerated.
    beating = _beating_range(pools, 0, sizing.profit + 1)
    assert beating is None or all(_net(x, pools) <= sizing.profit for x in range(beating[0], beating[1] + 1))


def test_reverse_cycle_of_the_example_is_not_profitable() -> None:
    a = Hop(2_100_000 * USDC, 1_000 * ETH, 30)
    b = Hop(1_000 * ETH, 2_000_000 * USDC, 30)
    assert optimal_input([a, b]) == Sizing(0, 0, 0, 0, 0)


@settings(max_examples=300, deadline=None)
@given(a_in=_reserve(), a_out=_reserve(), b_in=_reserve(), b_out=_reserve())
def test_closed_form_matches_the_references_30_bps_formula(a_in: int, a_out: int, b_in: int, b_out: int) -> None:
    curve = compose([Hop(a_in, a_out, 30), Hop(b_in, b_out, 30)])
    numerator = 997_000 * isqrt(a_in * a_out * b_in * b_out) - 1_000_000 * a_in * b_in
    if 994_009 * a_out * b_out <= 1_000_000 * a_in * b_in:
        assert not curve.is_profitable()
        return
    x_doc = max(0, numerator // (997_000 * b_in + 994_009 * a_out))
    # Both floor the same real root; the reference's isqrt of the product loses at most one more unit.
    assert abs(curve.optimum_floor() - x_doc) <= 1


@settings(max_examples=1500, deadline=None)
@given(pools=cycles, flash_fee_bps=st.sampled_from([0, 0, 5, 9]))
def test_random_cycles_against_brute_force_and_the_exact_bound(pools: Pools, flash_fee_bps: int) -> None:
    sizing = optimal_input([Hop(*p) for p in pools], flash_fee_bps)
    x_star, p_star, _q = _real_curve(pools, flash_fee_bps)

    # The reported numbers are what the chain would compute for that input.
    if sizing.amount_in:
        assert sizing.net == _net(sizing.amount_in, pools, flash_fee_bps) > 0
        assert sizing.profit == sizing.amount_out - sizing.amount_in
        assert sizing.flash_fee == -(-sizing.amount_in * flash_fee_bps // 10_000)
        assert sizing.net == sizing.profit - sizing.flash_fee
    else:
        assert sizing == Sizing(0, 0, 0, 0, 0)

    # No integer input beats the real optimum of the curve (floors only lose).
    assert sizing.net <= int(p_star) or (p_star == 0 and sizing.net == 0)

    # Brute force around x*, and a ternary search over the whole range, never find more.
    centre = int(x_star)
    around = max(_net(x, pools, flash_fee_bps) for x in range(max(1, centre - 64), centre + 65))
    depth = pools[-1][1]
    assert around <= sizing.net
    assert _ternary_reference(pools, flash_fee_bps, depth) <= sizing.net

    # Exhaustive check of every input that could beat it, when that set is small enough to enumerate here.
    beating = _beating_range(pools, flash_fee_bps, sizing.net + 1)
    if beating is None:
        event("optimal: no real x beats it")
    elif beating[1] - beating[0] <= 3_000:
        assert all(_net(x, pools, flash_fee_bps) <= sizing.net for x in range(beating[0], beating[1] + 1))
        event("optimal: enumerated every x that could beat it")
    else:
        event("checked against windows only")


@settings(max_examples=150, deadline=None)
@given(
    pools=st.lists(
        st.tuples(st.integers(1, 2_000), st.integers(1, 2_000), st.integers(1, 100)), min_size=2, max_size=3
    ),
    flash_fee_bps=st.sampled_from([0, 9, 50]),
)
def test_tiny_pools_equal_full_brute_force(pools: Pools, flash_fee_bps: int) -> None:
    sizing = optimal_input([Hop(*p) for p in pools], flash_fee_bps)
    # A profit needs out > x and out < reserve_out of the last pool: every candidate is below it.
    best = max([0] + [_net(x, pools, flash_fee_bps) for x in range(1, pools[-1][1] + 1)])
    assert sizing.net == best
    if best > 0:
        assert _net(sizing.amount_in, pools, flash_fee_bps) == best


def test_flash_fee_is_paid_and_shrinks_the_trade() -> None:
    hops = [Hop(2_000_000 * USDC, 1_000 * ETH, 30), Hop(1_000 * ETH, 2_100_000 * USDC, 30)]
    free = optimal_input(hops)
    paid = optimal_input(hops, flash_fee_bps=9)
    assert paid.flash_fee == -(-paid.amount_in * 9 // 10_000) > 0
    assert paid.net == paid.profit - paid.flash_fee
    assert paid.amount_in < free.amount_in
    assert paid.net < free.net
    # The net with the fee is at least what the fee-free size would net after paying the fee.
    assert paid.net >= free.profit - -(-free.amount_in * 9 // 10_000)
    # A fee above the whole edge kills the trade.
    assert optimal_input(hops, flash_fee_bps=500) == Sizing(0, 0, 0, 0, 0)


def test_cycle_sizing_evaluates_a_given_input() -> None:
    hops = [Hop(2_000_000 * USDC, 1_000 * ETH, 30), Hop(1_000 * ETH, 2_100_000 * USDC, 30)]
    pools = [(h.reserve_in, h.reserve_out, h.fee_bps) for h in hops]
    s = cycle_sizing(10_000 * USDC, hops, flash_fee_bps=9)
    assert s.net == _net(10_000 * USDC, pools, 9)
    assert cycle_sizing(0, hops) == Sizing(0, 0, 0, 0, 0)


def test_three_hop_triangle() -> None:
    # USDC -> ETH -> WBTC -> USDC with WBTC slightly cheap in the ETH pool.
    hops = [
        Hop(30_000_000 * USDC, 10_000 * ETH, 30),
        Hop(10_000 * ETH, 510 * 10**8, 30),
        Hop(500 * 10**8, 30_000_000 * USDC, 30),
    ]
    pools = [(h.reserve_in, h.reserve_out, h.fee_bps) for h in hops]
    sizing = optimal_input(hops)
    assert sizing.net > 0
    assert sizing.net == _net(sizing.amount_in, pools)
    x_star, p_star, _q = _real_curve(pools, 0)
    assert sizing.net <= int(p_star)
    assert max(_net(x, pools) for x in range(int(x_star) - 200, int(x_star) + 200)) <= sizing.net


def test_bad_pools_are_rejected() -> None:
    with pytest.raises(AmmRevert, match="INSUFFICIENT_LIQUIDITY"):
        optimal_input([Hop(0, 10, 30), Hop(10, 10, 30)])
    with pytest.raises(ValueError, match="at least one hop"):
        optimal_input([])
    with pytest.raises(ValueError, match="fee_bps"):
        optimal_input([Hop(10, 10, 10_000), Hop(10, 10, 30)])
    with pytest.raises(ValueError, match="flash_fee_bps"):
        optimal_input([Hop(10, 10, 30), Hop(10, 10, 30)], flash_fee_bps=-1)


def _search_reference(hops: list[Hop], flash_fee_bps: int) -> tuple[int, int, bool]:
    """flows.amm.cycle._search as it was before its inner loop was inlined and repeated inputs skipped."""
    from flows.amm.cycle import _PROOF_BUDGET, _WINDOW, _Cycle

    curve = compose(hops)
    bound = curve.max_profit_floor(flash_fee_bps)
    if bound <= 0:
        return 0, 0, True
    cycle = _Cycle(hops, flash_fee_bps)
    n_tokens = len(hops) + 1
    best_x, best_net = 0, 0

    def least_input(j: int, y: int) -> int | None:
        for a, b, c in reversed(cycle.coeffs[:j]):
            if y <= 0:
                return 0
            den = a - c * y
            if den <= 0:
                return None
            y = -(-(y * b) // den)
        return y

    def consider(x: int | None) -> None:
        nonlocal best_x, best_net
        if x is None or x <= 0:
            return
        net = cycle.output(x) - x - (-(-x * flash_fee_bps // 10_000))
        if net > best_net or (net == best_net and best_net > 0 and x < best_x):
            best_x, best_net = x, net

    x0 = curve.optimum_floor(flash_fee_bps)
    around = cycle.prefix(max(x0, 1))
    for j in range(n_tokens):
        for y in range(max(around[j] - _WINDOW, 1), around[j] + _WINDOW + 1):
            consider(least_input(j, y))
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
        centre = min(max(around[j], lo), hi)
        span = hi - lo + 1
        stride = (span * 6_180_339_887 // 10**10) | 1
        before = best_net
        for step in range(_PROOF_BUDGET - spent):
            half = step // 2
            if step % 2:
                y = lo + (half + 1) * stride % span
            else:
                y = centre + ((half + 1) // 2 if half % 2 else -(half // 2))
            if lo <= y <= hi:
                consider(least_input(j, y))
            if best_net > before:
                spent += step + 1
                break
        else:
            return best_x, best_net, False
    return best_x, best_net, True


@settings(max_examples=400, deadline=None)
@given(
    pools=st.one_of(cycles, st.lists(st.tuples(st.integers(1, 10**4), st.integers(1, 10**4), st.integers(0, 100)),
                                     min_size=2, max_size=4)),
    flash_fee_bps=st.sampled_from([0, 0, 5, 9, 30]),
    shift=st.integers(0, 2_000),
)  # fmt: skip
def test_the_search_equals_its_reference_implementation(pools: Pools, flash_fee_bps: int, shift: int) -> None:
    """The inlined, de-duplicated search returns exactly (best_x, best_net, proven) of the plain one: a cycle whose
    last pool is skewed by ``shift`` bps so that most draws are profitable and the proof loop runs."""
    hops = [Hop(r_in, r_out, fee) for r_in, r_out, fee in pools]
    last = hops[-1]
    hops[-1] = Hop(last.reserve_in, last.reserve_out * (10_000 + shift) // 10_000 or 1, last.fee_bps)
    assert flows.amm.cycle._search(hops, flash_fee_bps) == _search_reference(hops, flash_fee_bps)
