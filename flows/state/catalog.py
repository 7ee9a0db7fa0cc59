"""What the detectors know about pools before any event: configured tokens, fees, V3 tick spacings (pure).

:class:`Catalog` is built once from a flow spec (``strategy.params``: ``token_decimals``, ``pools``,
``pool_fees_bps``, ``venue_fees_bps``, ``default_fee_bps``); :class:`PoolMeta` is what is known about one pool apart
from its state, merged by the fold from configuration, PoolInfo records and the events themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: Uniswap V3's fee tier -> tick spacing (``UniswapV3Factory.feeAmountTickSpacing``), fee in pips.
STANDARD_TICK_SPACINGS: Mapping[int, int] = {100: 1, 500: 10, 3000: 60, 10000: 200}


@dataclass(frozen=True, slots=True)
class PoolMeta:
    """What is known about a pool apart from its state.

    Attributes:
        pool: address.
        venue: VenueId.
        token0: token0 address ('' while unknown).
        token1: token1 address.
        token0_decimals: decimals of token0.
        token1_decimals: decimals of token1.
        fee_bps: reported fee in bps, or None when nothing reported one.
        v3: True for a concentrated-liquidity pool.
        tick_spacing: V3 tick spacing (0: from the fee tier).
    """

    pool: str
    venue: int
    token0: str = ""
    token1: str = ""
    token0_decimals: int = 0
    token1_decimals: int = 0
    fee_bps: int | None = None
    v3: bool = False
    tick_spacing: int = 0


@dataclass(frozen=True, slots=True)
class Catalog:
    """Static configuration the fold starts from (built once from the flow spec).

    Attributes:
        token_decimals: decimals per token address (used when an event does not carry them).
        pools: seed metadata per pool address (tokens, fee, V3 and tick spacing), as PoolInfo would give.
        pool_fees_bps: fee per pool (wins over any reported fee).
        venue_fees_bps: fee per venue (used when nothing reported a fee).
        default_fee_bps: fee of a pool nothing else gives a fee for.
    """

    token_decimals: Mapping[str, int] = field(default_factory=dict)
    pools: Mapping[str, PoolMeta] = field(default_factory=dict)
    pool_fees_bps: Mapping[str, int] = field(default_factory=dict)
    venue_fees_bps: Mapping[int, int] = field(default_factory=dict)
    default_fee_bps: int = 30

    def fee_bps(self, meta: PoolMeta) -> int:
        """The fee to price a pool with: per-pool config, else reported, else per-venue config, else default."""
        if meta.pool in self.pool_fees_bps:
            return self.pool_fees_bps[meta.pool]
        if meta.fee_bps is not None:
            return meta.fee_bps
        return self.venue_fees_bps.get(meta.venue, self.default_fee_bps)

    def decimals(self, token: str, reported: int) -> int:
        """Decimals of a token: the reported value if any, else configuration, else 18."""
        return reported or self.token_decimals.get(token, 18)
