"""Builders of strategy inputs: tokens, pool states, CEX quotes and parameters with test defaults."""

from __future__ import annotations

from typing import Any

from flows.amm.v3.pool import V3PoolState
from flows.pools import PoolState
from flows.state.quotes import CexQuote
from flows.strategies.params import StrategyParams

# Real Polygon addresses (ops/simulator/market/data/polygon_chains.json), lower-case; sorted: WBTC < USDC < WETH.
USDC = "0x2791bca1f2de4661ed88a30c99a7a9449aa84174"
WETH = "0x7ceb23fd6bc0add59e62ac25578270cff1b9f619"
WBTC = "0x1bfd67037b42cf73acf2047067bd4f2c47d9bfd6"
DAI = "0x8f3cf7ad23cd3cadbd9735aff958023239c6a063"
DECIMALS = {USDC: 6, WETH: 18, WBTC: 8, DAI: 18}
T0 = 1_754_524_800_000_000_000


def pool(
    address: str,
    venue: int,
    token_a: str,
    reserve_a: int,
    token_b: str,
    reserve_b: int,
    *,
    block: int = 100,
    sequence: int = 1,
    timestamp_ns: int | None = None,
    fee_bps: int = 30,
    v3: V3PoolState | None = None,
    trace: dict[str, int] | None = None,
) -> PoolState:
    """A pool state holding ``reserve_a`` of ``token_a`` and ``reserve_b`` of ``token_b`` (tokens sorted as a pair)."""
    (t0, r0), (t1, r1) = sorted(((token_a, reserve_a), (token_b, reserve_b)))
    return PoolState(
        pool=address,
        venue=venue,
        token0=t0,
        token1=t1,
        token0_decimals=DECIMALS.get(t0, 18),
        token1_decimals=DECIMALS.get(t1, 18),
        reserve0=0 if v3 else r0,
        reserve1=0 if v3 else r1,
        fee_bps=fee_bps,
        block_number=block,
        source=4,
        sequence=sequence,
        timestamp_ns=T0 + sequence if timestamp_ns is None else timestamp_ns,
        trace=trace if trace is not None else {"detect_in_ns": sequence},
        v3=v3,
    )


def quote(
    instrument: str,
    base: str,
    quote_token: str,
    *,
    bid: float,
    ask: float,
    size: float = 100.0,
    sequence: int = 1,
    timestamp_ns: int | None = None,
    taker_fee_bps: int = 5,
) -> CexQuote:
    """A CEX quote (prices in quote units per whole base, sizes in whole base)."""
    ts = T0 + sequence if timestamp_ns is None else timestamp_ns
    return CexQuote(
        instrument=instrument,
        venue=102,
        base=base,
        quote=quote_token,
        base_decimals=DECIMALS[base],
        quote_decimals=DECIMALS[quote_token],
        taker_fee_bps=taker_fee_bps,
        bid_price=round(bid * 10**8),
        bid_size=round(size * 10**8),
        bid_ns=ts,
        ask_price=round(ask * 10**8),
        ask_size=round(size * 10**8),
        ask_ns=ts,
        source=3,
        sequence=sequence,
        timestamp_ns=ts,
        trace={"detect_in_ns": sequence},
    )


def params(**overrides: Any) -> StrategyParams:
    """Parameters for tests: Polygon, WETH prices gas, no gas cost unless given, profit in USDC first."""
    base = {
        "flow": "test",
        "chain_id": 137,
        "native_token": WETH,
        "base_tokens": (USDC, WETH),
        "gas_units": 150_000,
        "gas_price_wei": 0,
        "min_net_profit": 1,
        "max_age_ms": 60_000,
        "max_age_blocks": 5,
        "usd_prices": {USDC: 1.0, WETH: 3682.04, WBTC: 114988.98},
    }
    base.update(overrides)
    return StrategyParams(**base)
