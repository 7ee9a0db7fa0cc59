"""Records of every market topic become typed events; CEX quotes and trades fold into a best bid/ask."""

from __future__ import annotations

import pytest

from flows.state.events import (
    GasEvent,
    InfoEvent,
    LiquidityEvent,
    QuoteEvent,
    StateEvent,
    SwapEvent,
    SyncEvent,
    TickEvent,
    TradeEvent,
    from_record,
)
from flows.state.quotes import CexMarket, fold_quote
from schemas.serde import codec, u256
from tests.strategies.factories import USDC, WETH

IDENT = {"source": 4, "sequence": 9, "timestamp_ns": 5_000, "trace": {"relay_ns": 1}}
POOL = "0x00000000000000000000000000000000000000aa"
NONE_LIQ = {
    "liquidity_delta": None, "amount0": None, "amount1": None, "tick_lower": None, "tick_upper": None,
    "provider": None, "token0": None, "token1": None, "token0_decimals": None, "token1_decimals": None,
    "tick": None, "liquidity_net": None, "price_sqrt": None, "reserves": [], "event_timestamp_ns": 5_000,
}  # fmt: skip
RECORDS = {
    "market.pool_sync": (SyncEvent, {
        "pool": POOL, "venue": 400, "token0": USDC, "token1": WETH, "token0_decimals": 6, "token1_decimals": 18,
        "reserve0": u256(10), "reserve1": u256(20), "block_number": 7, "event_timestamp_ns": 5_000,
    }),
    "market.pool_state": (StateEvent, {
        "pool": POOL, "venue": 300, "pool_type": 1, "token0": USDC, "token1": WETH, "token0_decimals": 6,
        "token1_decimals": 18, "reserve0": u256(0), "reserve1": u256(0), "sqrt_price_x96": u256(2**96),
        "liquidity": u256(10**12), "tick": 0, "fee_rate": 5, "block_number": 7, "event_timestamp_ns": 5_000,
    }),
    "market.pool_swap": (SwapEvent, {
        "pool": POOL, "venue": 300, "token_in": USDC, "token_out": WETH, "amount_in": u256(5), "amount_out": u256(4),
        "amount_in_decimals": 6, "amount_out_decimals": 18, "liquidity_after": u256(1),
        "sqrt_price_x96_after": u256(2**96), "tick_after": 0, "block_number": 7, "event_timestamp_ns": 5_000,
    }),
    "market.pool_liquidity": (LiquidityEvent, NONE_LIQ | {
        "kind": "mint", "pool": POOL, "venue": 300, "liquidity_delta": u256(3), "amount0": u256(1),
        "amount1": u256(2), "tick_lower": -60, "tick_upper": 60, "token0": USDC, "token1": WETH,
    }),
    "market.pool_info": (InfoEvent, {
        "pool": POOL, "venue": 300, "pool_type": 2, "token0": USDC, "token1": WETH, "token0_decimals": 6,
        "token1_decimals": 18, "fee_tier": 5, "discovered_at": 1, "last_seen": 2,
    }),
    "market.quote": (QuoteEvent, {
        "instrument": "102:ETH/USD", "asset_id": 1, "venue": 102, "asset_type": 51, "symbol": "ETH/USD",
        "tlv_type": 2, "bid_price": 300_000_000_000, "bid_size": 10**8, "ask_price": 300_100_000_000,
        "ask_size": 10**8, "quote_timestamp_ns": 5_000,
    }),
    "market.trade": (TradeEvent, {
        "instrument": "102:ETH/USD", "asset_id": 1, "venue": 102, "asset_type": 51, "symbol": "ETH/USD",
        "price": 300_000_000_000, "volume": 10**7, "side": "sell", "execution_timestamp_ns": 5_000,
    }),
    "market.gas_price": (GasEvent, {
        "venue": 137, "block_number": 7, "event_timestamp_ns": 5_000, "gas_price_gwei": 30, "base_fee_gwei": 25,
        "priority_fee_gwei": 5,
    }),
}  # fmt: skip


@pytest.mark.parametrize("topic", sorted(RECORDS))
def test_every_market_record_becomes_its_event(topic: str) -> None:
    kind, fields = RECORDS[topic]
    wire = codec(topic).decode(codec(topic).encode(IDENT | fields))  # through Avro, as the flow reads it
    event = from_record(topic, wire, detect_in_ns=42)
    assert isinstance(event, kind)
    assert (event.source, event.sequence, event.timestamp_ns) == (4, 9, 5_000)
    assert event.trace == {"relay_ns": 1, "detect_in_ns": 42}


def test_a_tick_record_is_a_tick_event_and_odd_topics_are_refused() -> None:
    rec = IDENT | NONE_LIQ | {"kind": "tick", "pool": POOL, "venue": 300, "tick": 60, "liquidity_net": -5}
    assert from_record("market.pool_liquidity", rec, 0) == TickEvent(
        **{k: IDENT[k] for k in ("source", "sequence", "timestamp_ns")}, pool=POOL, venue=300, tick=60,
        liquidity_net=-5,
    )  # fmt: skip
    with pytest.raises(ValueError, match="not an input of a detector"):
        from_record("arb.opportunity", {}, 0)
    with pytest.raises(ValueError, match="without tick"):
        from_record("market.pool_liquidity", rec | {"tick": None}, 0)


MARKETS = {"102:ETH/USD": CexMarket("102:ETH/USD", WETH, USDC, 18, 6, 5)}


def _quote(seq: int, bid: int, ask: int) -> QuoteEvent:
    return QuoteEvent(source=3, sequence=seq, timestamp_ns=seq * 10, instrument="102:ETH/USD", venue=102,
                      bid_price=bid, bid_size=10**8, ask_price=ask, ask_size=2 * 10**8)  # fmt: skip


def _trade(seq: int, side: str, price: int) -> TradeEvent:
    return TradeEvent(source=3, sequence=seq, timestamp_ns=seq * 10, instrument="102:ETH/USD", venue=102,
                      price=price, volume=5 * 10**7, side=side)  # fmt: skip


def test_quotes_are_two_sided_states_and_trades_one_sided_ones_of_their_own_market() -> None:
    held, q = fold_quote(None, _quote(1, 100, 101), MARKETS)
    assert (q.bid_price, q.ask_price, q.bid_ns, q.ask_ns, q.base, q.taker_fee_bps) == (100, 101, 10, 10, WETH, 5)
    assert q.key == "102:ETH/USD" and q.pool == "102:ETH/USD" and q.pair == "/".join(sorted((USDC, WETH)))
    held, t = fold_quote(held, _trade(2, "buy", 102), MARKETS)  # a taker buy lifted the ask
    assert (t.bid_price, t.ask_price, t.ask_size, t.ask_ns, t.kind, t.key) == (0, 102, 5 * 10**7, 20, "trade",
                                                                                "102:ETH/USD#trade")  # fmt: skip
    held, t = fold_quote(held, _trade(3, "sell", 99), MARKETS)
    assert (t.bid_price, t.bid_ns, t.ask_price) == (99, 30, 0)
    # Quotes and trades come from two topics: an older quote after newer trades still counts, a replay does not.
    held, late = fold_quote(held, _quote(2, 98, 100), MARKETS)
    assert late is not None and late.timestamp_ns == 20
    assert fold_quote(held, _quote(2, 1, 2), MARKETS) == (held, None)
    assert fold_quote(None, _quote(1, 1, 2), {}) == (None, None)  # an instrument not configured
