"""Scripted market scenarios for the flow tests, and their expected opportunities from the pure functions alone.

A scenario is a list of ``(logical topic, key, record)``. It is built in rounds far enough apart in blocks
(``ROUND_BLOCKS`` > ``max_age_blocks``) that a state is only ever joined with states of its own round, so the set
of opportunities does not depend on how Kafka interleaves partitions: the flow must find exactly what
:func:`expected` finds by folding the records with :func:`~flows.state.fold.fold_event`/``fold_quote`` and running
the strategy on the as-of join in event order.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from flows.opportunity import Opportunity
from flows.state.events import GasEvent, PoolEvent, QuoteEvent, TradeEvent, from_record
from flows.state.fold import fold_event
from flows.state.join import AsOfJoin, order_of
from flows.state.quotes import fold_quote
from flows.strategies import strategy
from flows.strategies.assemble import reprice
from flows.strategies.params import StrategyParams
from schemas.serde import u256
from tests.strategies.factories import DECIMALS, USDC, WBTC, WETH

T0 = 1_754_524_800_000_000_000
ROUND_BLOCKS = 100
Item = tuple[str, str, dict[str, Any]]

# Pools of the scenarios: (address, venue, token_a, token_b, USD depth)
POOLS = [
    ("0x" + "a1" * 20, 400, USDC, WETH, 4_000_000),
    ("0x" + "a2" * 20, 401, USDC, WETH, 2_000_000),
    ("0x" + "a3" * 20, 402, USDC, WETH, 1_000_000),
    ("0x" + "b1" * 20, 400, USDC, WBTC, 6_000_000),
    ("0x" + "b2" * 20, 401, USDC, WBTC, 3_000_000),
    ("0x" + "c1" * 20, 400, WBTC, WETH, 3_000_000),
    ("0x" + "c2" * 20, 401, WBTC, WETH, 1_500_000),
]
USD = {USDC: 1.0, WETH: 3_000.0, WBTC: 100_000.0}


def _ident(seq: int, ts: int) -> dict[str, Any]:
    return {"source": 4, "sequence": seq, "timestamp_ns": ts, "trace": {"relay_ns": ts, "bridge_out_ns": ts + 1}}


def sync_record(address: str, venue: int, token_a: str, token_b: str, ra: int, rb: int, block: int, seq: int,
                ts: int) -> dict[str, Any]:  # fmt: skip
    """A ``market.pool_sync`` record (tokens sorted as a pair)."""
    (t0, r0), (t1, r1) = sorted(((token_a, ra), (token_b, rb)))
    return _ident(seq, ts) | {
        "pool": address, "venue": venue, "token0": t0, "token1": t1, "token0_decimals": DECIMALS[t0],
        "token1_decimals": DECIMALS[t1], "reserve0": u256(r0), "reserve1": u256(r1), "block_number": block,
        "event_timestamp_ns": ts,
    }  # fmt: skip


def quote_record(bid: float, ask: float, size: float, seq: int, ts: int) -> dict[str, Any]:
    """A Coinbase ETH/USD ``market.quote`` record."""
    return {"source": 3, "sequence": seq, "timestamp_ns": ts, "trace": {"relay_ns": ts}} | {
        "instrument": "102:ETH/USD", "asset_id": 0x4554482F55534400, "venue": 102, "asset_type": 51,
        "symbol": "ETH/USD", "tlv_type": 2, "bid_price": round(bid * 1e8), "bid_size": round(size * 1e8),
        "ask_price": round(ask * 1e8), "ask_size": round(size * 1e8), "quote_timestamp_ns": ts,
    }  # fmt: skip


def trade_record(price: float, size: float, side: str, seq: int, ts: int) -> dict[str, Any]:
    """A Coinbase ETH/USD ``market.trade`` record (``side``: the taker's)."""
    return {"source": 3, "sequence": seq, "timestamp_ns": ts, "trace": {"relay_ns": ts}} | {
        "instrument": "102:ETH/USD", "asset_id": 0x4554482F55534400, "venue": 102, "asset_type": 51,
        "symbol": "ETH/USD", "price": round(price * 1e8), "volume": round(size * 1e8), "side": side,
        "execution_timestamp_ns": ts,
    }  # fmt: skip


def gas_record(gwei: int, block: int, seq: int, ts: int) -> dict[str, Any]:
    """A Polygon ``market.gas_price`` record."""
    return _ident(seq, ts) | {
        "venue": 137, "block_number": block, "event_timestamp_ns": ts, "gas_price_gwei": gwei,
        "base_fee_gwei": gwei - 2, "priority_fee_gwei": 2,
    }  # fmt: skip


def dex_rounds(rounds: int, seed: int = 5, first_round: int = 0) -> list[Item]:
    """Every pool of :data:`POOLS` once per round, each priced off the USD prices with a random dislocation."""
    rng = random.Random(seed)
    items: list[Item] = []
    for r in range(first_round, first_round + rounds):
        block = 1_000 + r * ROUND_BLOCKS
        order = list(POOLS)
        rng.shuffle(order)
        for i, (address, venue, a, b, depth) in enumerate(order):
            shock = rng.choice((0.0, 0.0, 0.012, -0.015, 0.03))
            ra = int(depth / 2 / USD[a] * 10 ** DECIMALS[a])
            rb = int(depth / 2 / USD[b] * (1 + shock) * 10 ** DECIMALS[b])
            seq = r * 100 + i + 1
            ts = T0 + r * 1_000_000_000 + i * 1_000_000
            items.append(("market.pool_sync", address, sync_record(address, venue, a, b, ra, rb, block, seq, ts)))
    return items


def cex_rounds(rounds: int, seed: int = 9) -> list[Item]:
    """USDC/WETH pools and Coinbase ETH/USD quotes and trades, each round with the CEX or the pools off."""
    rng = random.Random(seed)
    items: list[Item] = []
    for r in range(rounds):
        block = 1_000 + r * ROUND_BLOCKS
        ts0 = T0 + r * 1_000_000_000
        for i, (address, venue, a, b, depth) in enumerate(POOLS[:2]):
            shock = rng.choice((0.0, 0.01, -0.012))
            ra = int(depth / 2 * 10**6)
            rb = int(depth / 2 / 3_000 * (1 + shock) * 10**18)
            record = sync_record(address, venue, a, b, ra, rb, block, r * 100 + i + 1, ts0 + i * 1_000_000)
            items.append(("market.pool_sync", address, record))
        mid = 3_000 * (1 + rng.choice((0.0, 0.008, -0.009)))
        quote = quote_record(mid * 0.99995, mid * 1.00005, 50, r * 10 + 1, ts0 + 3_000_000)
        items.append(("market.quote", "102:ETH/USD", quote))
        side = rng.choice(("buy", "sell"))
        price = mid * (1.0001 if side == "buy" else 0.9999)
        items.append(("market.trade", "102:ETH/USD", trade_record(price, 2, side, r * 10 + 2, ts0 + 4_000_000)))
    return items


def expected(
    items: Iterable[Item], name: str, params: StrategyParams, gas_gwei: int | None = None
) -> dict[str, Opportunity]:
    """The opportunities of a scenario by id: records folded per pool/instrument, the join run in event order."""
    events = [from_record(topic, rec, 0) for topic, _key, rec in items]
    states = []
    books: dict[str, Any] = {}
    catalog = params.catalog()
    for event in sorted(events, key=lambda e: (e.timestamp_ns, e.source, e.sequence)):
        if isinstance(event, PoolEvent):
            books[event.pool], state = fold_event(books.get(event.pool), event, catalog)
        elif isinstance(event, QuoteEvent | TradeEvent):
            books[event.instrument], state = fold_quote(books.get(event.instrument), event, params.cex_markets)
        else:
            assert isinstance(event, GasEvent)
            state = None
        if state is not None:
            states.append(state)
    evaluate = strategy(name)
    joins: dict[str, AsOfJoin] = {}
    found: dict[str, Opportunity] = {}
    gas = params.gas_price_wei if gas_gwei is None else params.gas_price_from_gwei(gas_gwei)
    for state in sorted(states, key=order_of):
        key = "graph" if name == "triangular" else state.pair
        join = joins.setdefault(key, AsOfJoin(10**15, 10**15))
        for view in join.insert(state):
            for opp in evaluate(view, replace(params, gas_price_wei=0), 0):
                priced = reprice(opp, gas, params)
                if priced is not None:
                    found.setdefault(priced.id, priced)
    return found
