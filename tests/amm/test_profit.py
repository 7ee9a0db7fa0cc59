"""Net profit of an atomic arbitrage: EIP-1559 gas, exact rational price, flash fee, tip, and the gate."""

from __future__ import annotations

from fractions import Fraction
from math import ceil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.amm.profit import NativePrice, effective_gas_price, flash_loan_fee, is_executable, net_profit

GWEI = 10**9
USDC = 10**6
ETH_AT_3000_USDC = NativePrice(3_000 * USDC, 10**18)  # raw USDC units per wei


def test_effective_gas_price_is_capped_by_the_fee_cap() -> None:
    assert effective_gas_price(20 * GWEI, 100 * GWEI, 2 * GWEI) == 22 * GWEI
    assert effective_gas_price(20 * GWEI, 21 * GWEI, 2 * GWEI) == 21 * GWEI
    assert effective_gas_price(20 * GWEI, 20 * GWEI, 0) == 20 * GWEI
    with pytest.raises(ValueError, match="below the base fee"):
        effective_gas_price(20 * GWEI, 19 * GWEI, 2 * GWEI)
    with pytest.raises(ValueError, match="non-negative"):
        effective_gas_price(-1, 1, 1)


def test_worked_example_in_usdc() -> None:
    """200k gas at 22 gwei with ETH at 3,000 USDC is 13.2 USDC; 9 bps flash fee on 21,718.63 USDC."""
    p = net_profit(
        amount_in=21_718_627_451,
        amount_out=22_188_205_707,
        gas_used=200_000,
        base_fee_per_gas=20 * GWEI,
        max_fee_per_gas=100 * GWEI,
        max_priority_fee_per_gas=2 * GWEI,
        native_price=ETH_AT_3000_USDC,
        flash_fee_bps=9,
        builder_tip_wei=10**15,  # 0.001 ETH = 3 USDC
    )
    assert p.gross == 469_578_256
    assert p.gas_price_wei == 22 * GWEI
    assert p.gas_cost_x == 13_200_000
    assert p.flash_fee == ceil(Fraction(21_718_627_451 * 9, 10_000))
    assert p.tip_x == 3_000_000
    assert p.net == p.gross - p.gas_cost_x - p.flash_fee - p.tip_x
    assert is_executable(p.net, 21_718_627_451, min_profit_abs=100 * USDC, min_profit_ratio_bps=10)
    assert not is_executable(p.net, 21_718_627_451, min_profit_abs=1_000 * USDC, min_profit_ratio_bps=10)
    assert not is_executable(p.net, 21_718_627_451, min_profit_abs=0, min_profit_ratio_bps=500)


def test_gas_turns_a_gross_profit_into_a_loss() -> None:
    """The lesson of reference/amm-math.md: a +1.11 % gross edge on a small trade can be a net loss."""
    p = net_profit(
        amount_in=900 * USDC,
        amount_out=910 * USDC,
        gas_used=250_000,
        base_fee_per_gas=30 * GWEI,
        max_fee_per_gas=60 * GWEI,
        max_priority_fee_per_gas=3 * GWEI,
        native_price=ETH_AT_3000_USDC,
    )
    assert p.gross > 0 > p.net
    assert not is_executable(p.net, 900 * USDC, 0, 0)


@settings(max_examples=300, deadline=None)
@given(
    amount_in=st.integers(0, 10**30),
    amount_out=st.integers(0, 10**30),
    gas_used=st.integers(0, 3 * 10**7),
    base=st.integers(0, 10**12),
    extra=st.integers(0, 10**12),
    priority=st.integers(0, 10**11),
    numerator=st.integers(0, 10**24),
    denominator=st.integers(1, 10**24),
    flash_bps=st.integers(0, 100),
    tip=st.integers(0, 10**18),
)
def test_costs_are_exact_ceilings(
    amount_in, amount_out, gas_used, base, extra, priority, numerator, denominator, flash_bps, tip
) -> None:
    price = NativePrice(numerator, denominator)
    p = net_profit(
        amount_in=amount_in,
        amount_out=amount_out,
        gas_used=gas_used,
        base_fee_per_gas=base,
        max_fee_per_gas=base + extra,
        max_priority_fee_per_gas=priority,
        native_price=price,
        flash_fee_bps=flash_bps,
        builder_tip_wei=tip,
    )
    rate = Fraction(numerator, denominator)
    assert p.gas_price_wei == min(base + extra, base + priority)
    assert p.gas_cost_x == ceil(gas_used * p.gas_price_wei * rate)
    assert p.flash_fee == ceil(Fraction(amount_in * flash_bps, 10_000))
    assert p.tip_x == ceil(tip * rate)
    assert p.net == amount_out - amount_in - p.gas_cost_x - p.flash_fee - p.tip_x
    assert all(isinstance(v, int) for v in (p.gross, p.gas_cost_x, p.flash_fee, p.tip_x, p.net))


@settings(max_examples=300, deadline=None)
@given(
    net=st.integers(-(10**20), 10**20),
    amount_in=st.integers(0, 10**20),
    min_abs=st.integers(0, 10**18),
    ratio_bps=st.integers(0, 10_000),
)
def test_gate_matches_its_definition(net: int, amount_in: int, min_abs: int, ratio_bps: int) -> None:
    expected = net > 0 and amount_in > 0 and net >= min_abs and Fraction(net, amount_in) >= Fraction(ratio_bps, 10_000)
    assert is_executable(net, amount_in, min_abs, ratio_bps) == expected


def test_flash_loan_fee_and_price_validation() -> None:
    assert flash_loan_fee(10_000, 9) == 9
    assert flash_loan_fee(10_001, 9) == 10
    assert flash_loan_fee(0, 9) == 0
    with pytest.raises(ValueError, match="non-negative"):
        flash_loan_fee(-1, 9)
    with pytest.raises(ValueError, match="denominator"):
        NativePrice(1, 0)
    with pytest.raises(ValueError, match="non-negative"):
        net_profit(
            amount_in=-1,
            amount_out=0,
            gas_used=0,
            base_fee_per_gas=0,
            max_fee_per_gas=0,
            max_priority_fee_per_gas=0,
            native_price=ETH_AT_3000_USDC,
        )
