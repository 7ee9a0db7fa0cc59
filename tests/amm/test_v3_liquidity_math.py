"""LiquidityMath.addDelta: the LS / LA reverts."""

from __future__ import annotations

import pytest

from base.errors import AmmRevert
from flows.amm.v3.liquidity_math import MAX_UINT128, add_delta


def test_add_delta() -> None:
    assert add_delta(1, 0) == 1
    assert add_delta(1, -1) == 0
    assert add_delta(1, 1) == 2
    assert add_delta(MAX_UINT128 - 15, 15) == MAX_UINT128
    with pytest.raises(AmmRevert, match="LA"):
        add_delta(MAX_UINT128 - 15, 16)
    with pytest.raises(AmmRevert, match="LS"):
        add_delta(0, -1)
    with pytest.raises(AmmRevert, match="LS"):
        add_delta(3, -4)
