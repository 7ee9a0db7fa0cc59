"""Builders of opportunities, limits and markets for the risk and execution tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flows.opportunity import InputState, Opportunity
from flows.risk.engine import Market
from flows.risk.limits import RiskLimits, TokenLimit

USDC = "0x" + "aa" * 20
WETH = "0x" + "bb" * 20
POOL_A = "0x" + "01" * 20
POOL_B = "0x" + "02" * 20
PAIR = f"{USDC}/{WETH}"
NOW = 1_800_000_000_000_000_000


def make_opportunity(**over: Any) -> Opportunity:
    """A profitable USDC -> WETH -> USDC cycle detected at NOW (net profit 900 raw USDC units)."""
    base = Opportunity(
        id="ab" * 16,
        flow="cross_dex",
        strategy="cross_dex",
        pair=PAIR,
        chain_id=31337,
        token_in=USDC,
        token_in_decimals=6,
        path=(USDC, WETH, USDC),
        pools=(POOL_A, POOL_B),
        venues=(300, 302),
        fees_bps=(30, 25),
        amount_in=1_000_000,
        amount_out=1_001_000,
        gas_estimate=100,
        gas_price_wei=1_000,
        gas_cost=100,
        flash_fee=0,
        gross_profit_usd=0.001,
        net_profit_usd=0.0009,
        inputs=(InputState(POOL_A, 10, 4, 1, NOW - 10_000_000), InputState(POOL_B, 10, 4, 2, NOW - 5_000_000)),
        block_number=10,
        detected_ns=NOW - 1_000_000,
        valid_until_ns=NOW + 12_000_000_000,
    )
    return replace(base, **over)


def make_limits(**over: Any) -> RiskLimits:
    """Generous limits that accept :func:`make_opportunity`."""
    base = RiskLimits(
        min_net_profit=TokenLimit({}, 1),
        min_profit_ratio_bps=1,
        max_notional=TokenLimit({USDC: 10**12}),
        max_exposure=TokenLimit({}, 10**13),
        max_in_flight=4,
        max_in_flight_per_pair=1,
        pair_cooldown_ms=0,
        daily_loss_limit=TokenLimit({}, 10**9),
        max_gas_price_wei=10**11,
        max_quote_age_ms=1_000,
        max_quote_age_blocks=2,
        max_consecutive_failures=3,
        breaker_cooldown_ms=60_000,
    )
    return replace(base, **over)


def make_market(**over: Any) -> Market:
    """Now, switch off, head at the opportunity's block, a modest base fee, chain 31337."""
    return replace(Market(now_ns=NOW, head_block=10, base_fee_wei=10**9, chain_id=31337), **over)
