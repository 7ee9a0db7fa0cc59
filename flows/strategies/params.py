"""Parameters shared by the strategies (frozen, built once from a flow spec)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class StrategyParams:
    """Costs and policy every strategy needs.

    Attributes:
        flow: name of the flow (part of every opportunity id).
        chain_id: chain the pools live on.
        native_token: address of the wrapped native token (WETH/WMATIC), used to price gas.
        base_tokens: tokens profits are preferably measured in (cycle start), in order of preference.
        gas_units: gas an execution of the cycle uses (estimate, units of gas).
        gas_price_wei: effective gas price assumed until a GasPrice update arrives (wei per gas).
        flash_fee_bps: flash-loan premium when executions borrow the input; 0 trades from inventory.
        min_net_profit: smallest net profit worth emitting, raw units of the start token.
        max_age_ms: pool states older than this (relative to the newest input) are stale and ignored.
        max_age_blocks: pool states more than this many blocks behind the newest input are stale.
        validity_ms: an opportunity's valid_until is its detection time plus this.
        default_fee_bps: fee of a pool whose fee is not configured.
        pool_fees_bps: fee per pool address (overrides venue fees).
        venue_fees_bps: fee per venue id.
        usd_prices: USD per whole token, for display figures only (never for sizing).
    """

    flow: str
    chain_id: int = 31337
    native_token: str = ""
    base_tokens: tuple[str, ...] = ()
    gas_units: int = 150_000
    gas_price_wei: int = 30 * 10**9
    flash_fee_bps: int = 0
    min_net_profit: int = 1
    max_age_ms: int = 60_000
    max_age_blocks: int = 5
    validity_ms: int = 12_000
    default_fee_bps: int = 30
    pool_fees_bps: Mapping[str, int] = field(default_factory=dict)
    venue_fees_bps: Mapping[int, int] = field(default_factory=dict)
    usd_prices: Mapping[str, float] = field(default_factory=dict)

    def fee_for(self, pool: str, venue: int) -> int:
        """Fee in bps of a pool: per-pool, else per-venue, else the default."""
        return self.pool_fees_bps.get(pool, self.venue_fees_bps.get(venue, self.default_fee_bps))

    def usd(self, token: str, amount: int, decimals: int) -> float:
        """Display value in USD of a raw amount (0.0 when the token has no configured price)."""
        price = self.usd_prices.get(token)
        return 0.0 if price is None else amount / 10**decimals * price
