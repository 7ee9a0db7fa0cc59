"""TickMath: boundary values, v3-core spec values, round trips, and accuracy against 80-digit Decimal."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from base.errors import AmmRevert
from flows.amm.v3.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)

ticks = st.integers(min_value=MIN_TICK, max_value=MAX_TICK)


def test_boundaries() -> None:
    assert get_sqrt_ratio_at_tick(MIN_TICK) == MIN_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(MAX_TICK) == MAX_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(0) == 2**96
    # TickMath.spec.ts
    assert get_sqrt_ratio_at_tick(MIN_TICK + 1) == 4295343490
    assert get_sqrt_ratio_at_tick(MAX_TICK - 1) == 1461373636630004318706518188784493106690254656249
    assert get_tick_at_sqrt_ratio(MIN_SQRT_RATIO) == MIN_TICK
    assert get_tick_at_sqrt_ratio(MIN_SQRT_RATIO + 1) == MIN_TICK
    assert get_tick_at_sqrt_ratio(MAX_SQRT_RATIO - 1) == MAX_TICK - 1
    with pytest.raises(AmmRevert, match=r"^T$"):
        get_sqrt_ratio_at_tick(MIN_TICK - 1)
    with pytest.raises(AmmRevert, match=r"^T$"):
        get_sqrt_ratio_at_tick(MAX_TICK + 1)
    with pytest.raises(AmmRevert, match=r"^R$"):
        get_tick_at_sqrt_ratio(MIN_SQRT_RATIO - 1)
    with pytest.raises(AmmRevert, match=r"^R$"):
        get_tick_at_sqrt_ratio(MAX_SQRT_RATIO)


def test_spec_sqrt_price_math_price() -> None:
    # SqrtPriceMath.spec/TickMath snapshots: sqrt price at tick 50 and -50.
    assert get_sqrt_ratio_at_tick(50) == 79426470787362580746886972461
    assert get_sqrt_ratio_at_tick(-50) == 79030349367926598376800521322


def test_real_pool_tick_matches_its_price() -> None:
    # WBTC/WETH pool at block 24,407,242: slot0.tick is 265269.
    assert get_tick_at_sqrt_ratio(45586356773108504879089041748871691) == 265269


@settings(max_examples=300, deadline=None)
@given(tick=ticks)
def test_accurate_to_a_few_parts_in_1e18_of_the_exact_value(tick: int) -> None:
    with localcontext() as ctx:
        ctx.prec = 80
        exact = (Decimal("1.0001") ** tick).sqrt() * (Decimal(2) ** 96)
        got = get_sqrt_ratio_at_tick(tick)
        # The Q128 constants are truncated; the contract's own tests allow 1 bp, the port is far inside that.
        assert abs(Decimal(got) - exact) <= exact * Decimal("1e-18") + 1


@settings(max_examples=300, deadline=None)
@given(tick=st.integers(min_value=MIN_TICK, max_value=MAX_TICK - 1))
def test_tick_at_ratio_is_the_greatest_tick_below(tick: int) -> None:
    low, high = get_sqrt_ratio_at_tick(tick), get_sqrt_ratio_at_tick(tick + 1)
    assert low < high
    assert get_tick_at_sqrt_ratio(low) == tick
    assert get_tick_at_sqrt_ratio(high - 1) == tick
    assert get_tick_at_sqrt_ratio((low + high) // 2) == tick
