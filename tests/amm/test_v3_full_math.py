"""FullMath / UnsafeMath: v3-core's FullMath.spec.ts cases plus exact-rational properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from base.errors import AmmRevert
from flows.amm.v3.full_math import MAX_UINT256, div_rounding_up, mul_div, mul_div_rounding_up

Q128 = 2**128
uint256 = st.integers(min_value=0, max_value=MAX_UINT256)


@pytest.mark.parametrize("fn", [mul_div, mul_div_rounding_up])
@pytest.mark.parametrize(
    ("a", "b", "d"),
    [(Q128, 5, 0), (Q128, Q128, 0), (Q128, Q128, 1), (MAX_UINT256, MAX_UINT256, MAX_UINT256 - 1)],
)
def test_spec_reverts(fn, a: int, b: int, d: int) -> None:
    with pytest.raises(AmmRevert):
        fn(a, b, d)


def test_spec_values() -> None:
    assert mul_div(MAX_UINT256, MAX_UINT256, MAX_UINT256) == MAX_UINT256
    assert mul_div_rounding_up(MAX_UINT256, MAX_UINT256, MAX_UINT256) == MAX_UINT256
    assert mul_div(Q128, 50 * Q128 // 100, 150 * Q128 // 100) == Q128 // 3
    assert mul_div_rounding_up(Q128, 50 * Q128 // 100, 150 * Q128 // 100) == Q128 // 3 + 1
    assert mul_div(Q128, 35 * Q128, 8 * Q128) == 4375 * Q128 // 1000
    assert mul_div_rounding_up(Q128, 35 * Q128, 8 * Q128) == 4375 * Q128 // 1000
    assert mul_div(Q128, 1000 * Q128, 3000 * Q128) == Q128 // 3
    assert mul_div_rounding_up(Q128, 1000 * Q128, 3000 * Q128) == Q128 // 3 + 1


def test_spec_rounding_up_overflow_reverts() -> None:
    with pytest.raises(AmmRevert):
        mul_div_rounding_up(535006138814359, 432862656469423142931042426214547535783388063929571229938474969, 2)
    with pytest.raises(AmmRevert):
        mul_div_rounding_up(
            115792089237316195423570985008687907853269984659341747863450311749907997002549,
            115792089237316195423570985008687907853269984659341747863450311749907997002550,
            115792089237316195423570985008687907853269984653042931687443039491902864365164,
        )


@settings(max_examples=300, deadline=None)
@given(a=uint256, b=uint256, d=st.integers(min_value=1, max_value=MAX_UINT256))
def test_floor_and_ceiling_of_the_exact_quotient(a: int, b: int, d: int) -> None:
    floor, rem = divmod(a * b, d)
    if floor > MAX_UINT256:
        with pytest.raises(AmmRevert):
            mul_div(a, b, d)
        return
    assert mul_div(a, b, d) == floor
    ceil = floor + (1 if rem else 0)
    if ceil > MAX_UINT256:
        with pytest.raises(AmmRevert):
            mul_div_rounding_up(a, b, d)
    else:
        assert mul_div_rounding_up(a, b, d) == ceil


def test_div_rounding_up_follows_the_evm() -> None:
    assert div_rounding_up(7, 2) == 4
    assert div_rounding_up(8, 2) == 4
    assert div_rounding_up(0, 5) == 0
    assert div_rounding_up(5, 0) == 0  # EVM div by zero yields 0 inside assembly
