"""A local DEX market that follows real Coinbase minute bars, as Protocol V2 PoolSync frames.

Two venues (QuickSwap and SushiSwap on Polygon) each hold a USDC/WETH and a USDC/WBTC constant-product pool.
Every simulated block (2 s) each pool's reserves are set so that its price is the real bar price, interpolated
within the minute, seen with a per-venue lag plus small noise; now and then a large trade hits one venue and
its price shock decays over a few blocks. Those are the dislocations the detectors find. The output is
deterministic for a given seed.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from flows.relay.codec import encode_frame
from flows.relay.protocol import RelayDomain, SourceType, VenueId
from flows.relay.tlv import PoolSync

DATA = Path(__file__).resolve().parent / "data"
BLOCK_TIME_NS = 2_000_000_000


@dataclass(frozen=True, slots=True)
class Token:
    """A token of the local market (real Polygon address and decimals)."""

    symbol: str
    address: str
    decimals: int


@dataclass(frozen=True, slots=True)
class Pool:
    """A pool of the local market."""

    address: str
    venue: int
    base: Token  # priced asset (WETH, WBTC)
    quote: Token  # USDC
    series: str  # which bar series drives it
    lag_blocks: int
    depth_usd: float

    @property
    def tokens(self) -> tuple[Token, Token]:
        """(token0, token1) sorted by address, as a V2 pair orders them."""
        a, b = sorted((self.base, self.quote), key=lambda t: t.address)
        return a, b


def polygon_tokens() -> dict[str, Token]:
    """Token metadata from the real Polygon chain config."""
    cfg = json.loads((DATA / "polygon_chains.json").read_text())["polygon"]["tokens"]
    return {s: Token(s, v["address"].lower(), int(v["decimals"])) for s, v in cfg.items()}


def _pool_address(venue: int, a: Token, b: Token) -> str:
    return "0x" + hashlib.sha256(f"{venue}:{a.address}:{b.address}".encode()).hexdigest()[:40]


def default_pools() -> list[Pool]:
    """Two venues x (USDC/WETH, USDC/WBTC)."""
    t = polygon_tokens()
    pools = []
    for venue, lag in ((int(VenueId.QUICKSWAP), 0), (int(VenueId.SUSHISWAP_POLYGON), 3)):
        for base, series, depth in ((t["WETH"], "ETH_USD", 4_000_000.0), (t["WBTC"], "BTC_USD", 6_000_000.0)):
            pools.append(Pool(_pool_address(venue, base, t["USDC"]), venue, base, t["USDC"], series, lag, depth))
    return pools


def load_bars() -> dict[str, list[tuple[int, float]]]:
    """Real close prices per minute: series -> [(unix seconds, close USD)], aligned to a common start."""
    series = {}
    for name in ("ETH_USD", "BTC_USD"):
        df = pd.read_parquet(DATA / f"coinbase_{name}_20250807.parquet").sort_values("timestamp")
        series[name] = [(int(ts), float(c)) for ts, c in zip(df["timestamp"], df["close"], strict=True)]
    return series


def _price_at(bars: list[tuple[int, float]], t_s: float) -> float:
    """Linear interpolation of close prices at time ``t_s`` (clamped to the series)."""
    if t_s <= bars[0][0]:
        return bars[0][1]
    for (t0, p0), (t1, p1) in zip(bars, bars[1:], strict=False):
        if t0 <= t_s <= t1:
            return p0 + (p1 - p0) * (t_s - t0) / (t1 - t0)
    return bars[-1][1]


@dataclass(frozen=True, slots=True)
class MarketEvent:
    """One frame of the market and its offset from the market's start, ns (market time)."""

    offset_ns: int
    block_number: int
    pool: Pool
    reserve0: int
    reserve1: int
    frame: bytes


def generate(
    blocks: int,
    *,
    seed: int = 7,
    start_block: int = 50_000_000,
    start_ns: int = 1_754_524_800_000_000_000,
    shock_probability: float = 0.04,
    pools: list[Pool] | None = None,
) -> Iterator[MarketEvent]:
    """Yield the market's PoolSync frames block by block.

    Args:
        blocks: number of 2-second blocks to simulate.
        seed: random seed of noise and shocks (the output is deterministic per seed).
        start_block: first block number.
        start_ns: market time of the first block (header and TLV timestamps), ns since epoch.
        shock_probability: chance per pool and block of a large trade (a 0.8-2.5 % price shock).
        pools: the pools (default: :func:`default_pools`).
    """
    rng = random.Random(seed)
    pools = pools or default_pools()
    bars = load_bars()
    t0 = {name: s[0][0] for name, s in bars.items()}
    shock = {p.address: 0.0 for p in pools}
    sequence = 0
    for b in range(blocks):
        block_number = start_block + b
        for pool in pools:
            lagged_s = max(0.0, (b - pool.lag_blocks) * BLOCK_TIME_NS / 1e9)
            price = _price_at(bars[pool.series], t0[pool.series] + lagged_s)
            if rng.random() < shock_probability:
                shock[pool.address] += rng.choice((-1, 1)) * rng.uniform(0.008, 0.025)
            shock[pool.address] *= 0.6  # arbitrage and flow pull a shocked pool back within a few blocks
            price *= 1 + shock[pool.address] + rng.gauss(0, 0.0004)
            reserve_quote = pool.depth_usd / 2 * 10**pool.quote.decimals
            reserve_base = pool.depth_usd / 2 / price * 10**pool.base.decimals
            token0, token1 = pool.tokens
            r0, r1 = (reserve_quote, reserve_base) if token0 is pool.quote else (reserve_base, reserve_quote)
            sequence += 1
            offset_ns = b * BLOCK_TIME_NS
            ts = start_ns + offset_ns
            tlv = PoolSync(
                reserve0=int(r0),
                reserve1=int(r1),
                timestamp_ns=ts,
                block_number=block_number,
                venue=pool.venue,
                token0_decimals=token0.decimals,
                token1_decimals=token1.decimals,
                pool_address=pool.address,
                token0_addr=token0.address,
                token1_addr=token1.address,
            )
            frame = encode_frame(
                RelayDomain.MARKET_DATA, SourceType.POLYGON_COLLECTOR, [tlv], sequence=sequence, timestamp_ns=ts
            )
            yield MarketEvent(offset_ns, block_number, pool, int(r0), int(r1), frame)


def usd_prices() -> dict[str, float]:
    """Display prices (USD per whole token) at the market's start."""
    t = polygon_tokens()
    bars = load_bars()
    return {t["USDC"].address: 1.0, t["WETH"].address: bars["ETH_USD"][0][1], t["WBTC"].address: bars["BTC_USD"][0][1]}


def approx_blocks(duration_s: float, speed: float) -> int:
    """Blocks in ``duration_s`` wall seconds when market time runs ``speed`` times faster."""
    return max(1, math.floor(duration_s * speed * 1e9 / BLOCK_TIME_NS))
