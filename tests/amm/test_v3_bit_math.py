"""BitMath: most/least significant bit, as BitMath.spec.ts states them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from base.errors import AmmRevert
from flows.amm.v3.bit_math import least_significant_bit, most_significant_bit


def test_spec_cases() -> None:
    assert most_significant_bit(1) == 0
    assert most_significant_bit(2) == 1
    assert most_significant_bit(2**255) == 255
    assert most_significant_bit(2**256 - 1) == 255
    assert least_significant_bit(1) == 0
    assert least_significant_bit(2) == 1
    assert least_significant_bit(2**255) == 255
    assert least_significant_bit(2**256 - 1) == 0
    with pytest.raises(AmmRevert, match="MSB"):
        most_significant_bit(0)
    with pytest.raises(AmmRevert, match="LSB"):
        least_significant_bit(0)


@settings(max_examples=200, deadline=None)
@given(x=st.integers(min_value=1, max_value=2**256 - 1))
def test_defining_properties(x: int) -> None:
    r = most_significant_bit(x)
    assert 2**r <= x < 2 ** (r + 1)
    s = least_significant_bit(x)
    assert x & (1 << s) and x & ((1 << s) - 1) == 0
