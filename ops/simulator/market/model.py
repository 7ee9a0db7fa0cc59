"""A local market that follows real Coinbase minute bars: DEX pools as PoolSync frames, and the CEX itself.

Two venues (QuickSwap and SushiSwap on Polygon) each hold a USDC/WETH, a USDC/WBTC and a WBTC/WETH
constant-product pool, so the token graph has triangles. Every simulated block (2 s) each pool's reserves are set
so that its price is the real bar price (for WBTC/WETH: the ratio of the BTC and ETH bars), interpolated within
the minute, seen with a per-venue lag plus small noise; now and then a large trade hits one venue and its price
shock decays over a few blocks. Those are the dislocations the detectors find.

:func:`market_frames` adds the exchange and the chain around the pools (for ``cex_dex`` and gas pricing):
Coinbase ETH-USD and BTC-USD best bid/ask every block at the bar price itself (no lag: the CEX leads), a 1 bp
spread and a top-of-book size of a tenth of the bar's minute volume; Coinbase trades replaying the sides, sizes and
arrival times of 427 real Coinbase trades (captured 2025-08-22, cycled) at the bid or ask of the moment; and a
Polygon gas price per block. The output is deterministic for a given seed.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import itertools
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from base.venues import VenueId
from flows.relay.codec import encode_frame
from flows.relay.protocol import InstrumentId, RelayDomain, SourceType
from flows.relay.tlv import GasPrice, PoolSync, Quote, Trade

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
    quote: Token  # what it is priced in (USDC, or WETH for WBTC/WETH)
    series: str  # which bar series drives it: ETH_USD, BTC_USD, or BTC_ETH (their ratio)
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
    """Two venues x (USDC/WETH, USDC/WBTC, WBTC/WETH)."""
    t = polygon_tokens()
    pools = []
    for venue, lag in ((int(VenueId.QUICKSWAP), 0), (int(VenueId.SUSHISWAP_POLYGON), 3)):
        for base, quote, series, depth in (
            (t["WETH"], t["USDC"], "ETH_USD", 4_000_000.0),
            (t["WBTC"], t["USDC"], "BTC_USD", 6_000_000.0),
            (t["WBTC"], t["WETH"], "BTC_ETH", 3_000_000.0),
        ):
            pools.append(Pool(_pool_address(venue, base, quote), venue, base, quote, series, lag, depth))
    return pools


def load_bars() -> dict[str, list[tuple[int, float]]]:
    """Real close prices per minute: series -> [(unix seconds, close USD)], aligned to a common start."""
    series = {}
    for name in ("ETH_USD", "BTC_USD"):
        df = pd.read_parquet(DATA / f"coinbase_{name}_20250807.parquet").sort_values("timestamp")
        series[name] = [(int(ts), float(c)) for ts, c in zip(df["timestamp"], df["close"], strict=True)]
    return series


def _series_price(bars: dict[str, list[tuple[int, float]]], series: str, t_s: float) -> float:
    """Price of a bar series at ``t_s`` seconds into the market: a real series, or BTC_ETH = BTC_USD / ETH_USD."""
    if series == "BTC_ETH":
        return _series_price(bars, "BTC_USD", t_s) / _series_price(bars, "ETH_USD", t_s)
    return _price_at(bars[series], bars[series][0][0] + t_s)


def _quote_usd(bars: dict[str, list[tuple[int, float]]], pool: Pool, t_s: float) -> float:
    return _series_price(bars, "ETH_USD", t_s) if pool.quote.symbol == "WETH" else 1.0


def _price_at(bars: list[tuple[int, float]], t_s: float) -> float:
    """Linear interpolation of close prices at time ``t_s`` (clamped to the series)."""
    if t_s <= bars[0][0]:
        return bars[0][1]
    for (t0, p0), (t1, p1) in itertools.pairwise(bars):
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
    shock = {p.address: 0.0 for p in pools}
    sequence = 0
    for b in range(blocks):
        block_number = start_block + b
        for pool in pools:
            lagged_s = max(0.0, (b - pool.lag_blocks) * BLOCK_TIME_NS / 1e9)
            price = _series_price(bars, pool.series, lagged_s)
            if rng.random() < shock_probability:
                shock[pool.address] += rng.choice((-1, 1)) * rng.uniform(0.008, 0.025)
            shock[pool.address] *= 0.6  # arbitrage and flow pull a shocked pool back within a few blocks
            price *= 1 + shock[pool.address] + rng.gauss(0, 0.0004)
            quote_usd = _quote_usd(bars, pool, lagged_s)
            reserve_quote = pool.depth_usd / 2 / quote_usd * 10**pool.quote.decimals
            reserve_base = pool.depth_usd / 2 / quote_usd / price * 10**pool.base.decimals
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


# Coinbase instruments of the local market: symbol -> (bar series, chain token symbol it stands for).
CEX_INSTRUMENTS = {"ETH/USD": ("ETH_USD", "WETH"), "BTC/USD": ("BTC_USD", "WBTC")}
CEX_SPREAD = 0.0001
"""Relative bid-ask spread of the local exchange (1 bp)."""
GAS_VENUE = 137
"""The chain id AlphaPulse's GasPrice TLV carries as venue for Polygon."""
E8 = 10**8


@dataclass(frozen=True, slots=True)
class RealTrade:
    """A real Coinbase trade, kept for its shape: when (offset in the capture), which side took, how much."""

    offset_ns: int
    symbol: str
    taker_side: int  # 0 buy (lifted the ask), 1 sell (hit the bid)
    size: float


def load_trades(min_gap_ns: int = 1_000_000_000) -> list[RealTrade]:
    """The real Coinbase ETH-USD and BTC-USD trades of the capture, in time order, thinned per symbol.

    Coinbase's ``side`` in a match is the *maker's* side, so the taker is the other one.

    Args:
        min_gap_ns: keep a symbol's trade only if it comes at least this long after the last one kept (the
            capture has ~14 trades/s; a replay at 30x would flood the local stack with them).
    """
    out = []
    last: dict[str, int] = {}
    with (DATA / "coinbase_trades_20250822.csv").open() as f:
        for row in csv.DictReader(f):
            offset_ns = int(row["offset_us"]) * 1000
            symbol = row["product_id"].replace("-", "/")
            if symbol in last and offset_ns - last[symbol] < min_gap_ns:
                continue
            last[symbol] = offset_ns
            out.append(RealTrade(offset_ns, symbol, 1 if row["side"] == "buy" else 0, float(row["size"])))
    return out


def _volume_per_minute(name: str) -> float:
    df = pd.read_parquet(DATA / f"coinbase_{name}_20250807.parquet")
    return float(df["volume"].median())


def generate_cex(blocks: int, *, start_ns: int = 1_754_524_800_000_000_000) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset_ns, frame)`` of the Coinbase quotes (every block) and trades (the real ones, cycled).

    Args:
        blocks: number of 2-second blocks to cover.
        start_ns: market time of the first block, ns since epoch.
    """
    bars = load_bars()
    trades = load_trades()
    cycle_ns = trades[-1].offset_ns + 1_000_000_000
    top = {sym: _volume_per_minute(series) / 10 for sym, (series, _token) in CEX_INSTRUMENTS.items()}
    ids = {sym: InstrumentId.coin(VenueId.COINBASE, sym) for sym in CEX_INSTRUMENTS}
    end_ns = blocks * BLOCK_TIME_NS

    def book(sym: str, offset_ns: int) -> tuple[int, int]:
        mid = _series_price(bars, CEX_INSTRUMENTS[sym][0], offset_ns / 1e9)
        return round(mid * (1 - CEX_SPREAD / 2) * E8), round(mid * (1 + CEX_SPREAD / 2) * E8)

    quotes = ((b * BLOCK_TIME_NS, 0, sym) for b in range(blocks) for sym in CEX_INSTRUMENTS)
    trade_times = ((k * cycle_ns + t.offset_ns, 1, t) for k in range(end_ns // cycle_ns + 1) for t in trades)
    events = heapq.merge(quotes, trade_times, key=lambda e: (e[0], e[1]))
    for sequence, (offset_ns, kind, item) in enumerate(events, start=1):
        if offset_ns >= end_ns:
            break
        sym = item if kind == 0 else item.symbol
        iid = ids[sym]
        bid, ask = book(sym, offset_ns)
        ts = start_ns + offset_ns
        if kind == 0:
            size = round(top[sym] * E8)
            tlv = Quote(iid.asset_id, bid, size, ask, size, ts, iid.venue, iid.asset_type, 0)
        else:
            price = ask if item.taker_side == 0 else bid
            tlv = Trade(iid.asset_id, price, round(item.size * E8), ts, iid.venue, iid.asset_type, 0, item.taker_side)
        frame = encode_frame(
            RelayDomain.MARKET_DATA, SourceType.COINBASE_COLLECTOR, [tlv], sequence=sequence, timestamp_ns=ts
        )
        yield offset_ns, frame


def generate_gas(
    blocks: int, *, seed: int = 7, start_block: int = 50_000_000, start_ns: int = 1_754_524_800_000_000_000
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset_ns, frame)`` of a Polygon gas price per block (about 30 gwei, 25 base + tip, with noise)."""
    rng = random.Random(seed + 1)
    for b in range(blocks):
        base = max(1, round(rng.gauss(25, 3)))
        tip = max(1, round(rng.gauss(5, 1)))
        ts = start_ns + b * BLOCK_TIME_NS
        tlv = GasPrice(start_block + b, ts, base + tip, base, tip, GAS_VENUE, 0)
        frame = encode_frame(
            RelayDomain.MARKET_DATA, SourceType.POLYGON_COLLECTOR, [tlv], sequence=b + 1, timestamp_ns=ts
        )
        yield b * BLOCK_TIME_NS, frame


def market_frames(
    blocks: int,
    *,
    seed: int = 7,
    start_block: int = 50_000_000,
    start_ns: int = 1_754_524_800_000_000_000,
    shock_probability: float = 0.04,
    pools: list[Pool] | None = None,
    cex: bool = True,
    gas: bool = True,
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset_ns, frame)`` of the whole local market in time order: pools, and optionally CEX and gas.

    Args are those of :func:`generate`, plus ``cex`` (Coinbase quotes and trades) and ``gas`` (Polygon gas price).
    """
    streams = [
        (
            (e.offset_ns, e.frame)
            for e in generate(
                blocks,
                seed=seed,
                start_block=start_block,
                start_ns=start_ns,
                shock_probability=shock_probability,
                pools=pools,
            )
        )
    ]
    if gas:
        streams.append(generate_gas(blocks, seed=seed, start_block=start_block, start_ns=start_ns))
    if cex:
        streams.append(generate_cex(blocks, start_ns=start_ns))
    yield from heapq.merge(*streams, key=lambda e: e[0])


def usd_prices() -> dict[str, float]:
    """Display prices (USD per whole token) at the market's start."""
    t = polygon_tokens()
    bars = load_bars()
    return {t["USDC"].address: 1.0, t["WETH"].address: bars["ETH_USD"][0][1], t["WBTC"].address: bars["BTC_USD"][0][1]}


def approx_blocks(duration_s: float, speed: float) -> int:
    """Blocks in ``duration_s`` wall seconds when market time runs ``speed`` times faster."""
    return max(1, math.floor(duration_s * speed * 1e9 / BLOCK_TIME_NS))
