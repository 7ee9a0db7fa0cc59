"""The two-hop search (flows.amm.cycle._search_pair) against the general search it unrolls: the same answer."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.amm.cycle import Hop, _search, cycle_sizing, optimal_input


def _reserve() -> st.SearchStrategy[int]:
    # Tiny pools (1..100 units), log-uniform 1e3..1e30, and exact powers of ten (equal prices across pools).
    return st.one_of(
        st.integers(1, 100),
        st.integers(3, 29).flatmap(lambda e: st.integers(10**e, 10 ** (e + 1))),
        st.integers(0, 30).map(lambda e: 10**e),
    )


pair = st.tuples(_reserve(), _reserve(), st.integers(0, 100), _reserve(), _reserve(), st.integers(0, 100))


def _hops(p: tuple[int, int, int, int, int, int], skew_bps: int) -> list[Hop]:
    a_in, a_out, fee_a, b_in, b_out, fee_b = p
    return [Hop(a_in, a_out, fee_a), Hop(b_in, b_out * (10_000 + skew_bps) // 10_000 or 1, fee_b)]


@settings(max_examples=600, deadline=None)
@given(p=pair, flash_fee_bps=st.sampled_from([0, 0, 5, 9, 30, 100]), skew_bps=st.integers(0, 3_000))
def test_pair_search_equals_the_general_search(p: tuple[int, int, int, int, int, int], flash_fee_bps: int,
                                               skew_bps: int) -> None:  # fmt: skip
    """(best input, best net, proven) are those of the general search, and so is the sizing."""
    hops = _hops(p, skew_bps)
    fast, reference = _search(hops, flash_fee_bps), _search(hops, flash_fee_bps, fast=False)
    assert fast == reference
    expected = cycle_sizing(reference[0], hops, flash_fee_bps) if reference[1] > 0 else cycle_sizing(0, hops)
    assert optimal_input(hops, flash_fee_bps) == expected


@settings(max_examples=300, deadline=None)
@given(
    exponent=st.integers(18, 30),
    price_bps=st.tuples(st.integers(9_900, 10_100), st.integers(9_900, 10_300)),
    fees=st.tuples(st.integers(0, 100), st.integers(0, 100)),
    flash_fee_bps=st.sampled_from([0, 5, 9]),
)
def test_deep_pools_same_decimals(
    exponent: int, price_bps: tuple[int, int], fees: tuple[int, int], flash_fee_bps: int
) -> None:
    """Deep pools of two tokens with the same decimals: the top of the curve is flat over more than the proof's
    budget in every token, so the golden-ratio sweep runs; it must try the same inputs in the same order."""
    r = 10**exponent
    hops = [Hop(r, r * price_bps[0] // 10_000, fees[0]), Hop(r, r * price_bps[1] // 10_000, fees[1])]
    assert _search(hops, flash_fee_bps) == _search(hops, flash_fee_bps, fast=False)


def test_equal_prices_and_one_unit_pools_do_not_trade() -> None:
    for hops in ([Hop(10**18, 10**18, 0), Hop(10**18, 10**18, 0)], [Hop(1, 1, 0), Hop(1, 1, 0)]):
        assert _search(hops, 0) == _search(hops, 0, fast=False) == (0, 0, True)
        assert optimal_input(hops).amount_in == 0
