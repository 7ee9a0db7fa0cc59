"""Relay frame -> Kafka records: which topic, which key, which Avro record (pure, no I/O).

Keys follow DESIGN.md: pool events by pool address (lower-case hex), CEX events by instrument (``venue:symbol``),
gas prices by venue. Every record carries the relay header's source, sequence and timestamp plus the trace of
when the frame entered the bridge. TLVs with no topic (for example signals on the market relay) are returned as
unroutable so the bridge dead-letters them with the frame's raw bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flows.relay.codec import Frame
from schemas.serde import u256


@dataclass(frozen=True, slots=True)
class Routed:
    """One record bound for a topic."""

    topic: str
    key: str
    record: dict[str, Any]


def _ident(frame: Frame, trace: dict[str, int]) -> dict[str, Any]:
    h = frame.header
    return {"source": h.source, "sequence": h.sequence, "timestamp_ns": h.timestamp, "trace": trace}


def _symbol(asset_id: int, asset_type: int) -> str:
    """Coins pack their symbol big-endian into asset_id; other instruments keep the id in hex."""
    raw = asset_id.to_bytes(8, "big").rstrip(b"\x00")
    if asset_type in (1, 3, 5, 51, 53) and raw and all(32 < c < 127 for c in raw):
        return raw.decode("ascii")
    return f"{asset_id:016x}"


def _pool_sync(t: Any, base: dict[str, Any]) -> Routed:
    rec = base | {
        "pool": t.pool_address,
        "venue": t.venue,
        "token0": t.token0_addr,
        "token1": t.token1_addr,
        "token0_decimals": t.token0_decimals,
        "token1_decimals": t.token1_decimals,
        "reserve0": u256(t.reserve0),
        "reserve1": u256(t.reserve1),
        "block_number": t.block_number,
        "event_timestamp_ns": t.timestamp_ns,
    }
    return Routed("market.pool_sync", t.pool_address, rec)


def _pool_swap(t: Any, base: dict[str, Any]) -> Routed:
    rec = base | {
        "pool": t.pool_address,
        "venue": t.venue,
        "token_in": t.token_in_addr,
        "token_out": t.token_out_addr,
        "amount_in": u256(t.amount_in),
        "amount_out": u256(t.amount_out),
        "amount_in_decimals": t.amount_in_decimals,
        "amount_out_decimals": t.amount_out_decimals,
        "liquidity_after": u256(t.liquidity_after),
        "sqrt_price_x96_after": u256(t.sqrt_price_x96_after),
        "tick_after": t.tick_after,
        "block_number": t.block_number,
        "event_timestamp_ns": t.timestamp_ns,
    }
    return Routed("market.pool_swap", t.pool_address, rec)


def _pool_state(t: Any, base: dict[str, Any]) -> Routed:
    rec = base | {
        "pool": t.pool_address,
        "venue": t.venue,
        "pool_type": t.pool_type,
        "token0": t.token0_addr,
        "token1": t.token1_addr,
        "token0_decimals": t.token0_decimals,
        "token1_decimals": t.token1_decimals,
        "reserve0": u256(t.reserve0),
        "reserve1": u256(t.reserve1),
        "sqrt_price_x96": u256(t.sqrt_price_x96),
        "liquidity": u256(t.liquidity),
        "tick": t.tick,
        "fee_rate": t.fee_rate,
        "block_number": t.block_number,
        "event_timestamp_ns": t.timestamp_ns,
    }
    return Routed("market.pool_state", t.pool_address, rec)


def _liquidity_base(kind: str, t: Any, base: dict[str, Any]) -> dict[str, Any]:
    return base | {
        "kind": kind,
        "pool": t.pool_address,
        "venue": t.venue,
        "liquidity_delta": None,
        "amount0": None,
        "amount1": None,
        "tick_lower": None,
        "tick_upper": None,
        "provider": None,
        "token0": None,
        "token1": None,
        "token0_decimals": None,
        "token1_decimals": None,
        "tick": None,
        "liquidity_net": None,
        "price_sqrt": None,
        "reserves": [],
        "event_timestamp_ns": t.timestamp_ns,
    }


def _mint_burn(kind: str) -> Callable[[Any, dict[str, Any]], Routed]:
    def route(t: Any, base: dict[str, Any]) -> Routed:
        rec = _liquidity_base(kind, t, base) | {
            "liquidity_delta": u256(t.liquidity_delta),
            "amount0": u256(t.amount0),
            "amount1": u256(t.amount1),
            "tick_lower": t.tick_lower,
            "tick_upper": t.tick_upper,
            "provider": t.provider_addr,
            "token0": t.token0_addr,
            "token1": t.token1_addr,
            "token0_decimals": t.token0_decimals,
            "token1_decimals": t.token1_decimals,
        }
        return Routed("market.pool_liquidity", t.pool_address, rec)

    return route


def _pool_tick(t: Any, base: dict[str, Any]) -> Routed:
    rec = _liquidity_base("tick", t, base) | {
        "tick": t.tick,
        "liquidity_net": t.liquidity_net,
        "price_sqrt": t.price_sqrt,
    }
    return Routed("market.pool_liquidity", t.pool_address, rec)


def _pool_liquidity(t: Any, base: dict[str, Any]) -> Routed:
    rec = _liquidity_base("liquidity", t, base) | {"reserves": [u256(r) for r in t.reserves]}
    return Routed("market.pool_liquidity", t.pool_address, rec)


def _cex(t: Any, base: dict[str, Any]) -> dict[str, Any]:
    symbol = _symbol(t.asset_id, t.asset_type)
    return base | {
        "instrument": f"{t.venue_id}:{symbol}",
        "asset_id": t.asset_id,
        "venue": t.venue_id,
        "asset_type": t.asset_type,
        "symbol": symbol,
    }


def _trade(t: Any, base: dict[str, Any]) -> Routed:
    rec = _cex(t, base) | {
        "price": t.price,
        "volume": t.volume,
        "side": "sell" if t.side else "buy",
        "execution_timestamp_ns": t.execution_timestamp_ns,
    }
    return Routed("market.trade", rec["instrument"], rec)


def _quote(t: Any, base: dict[str, Any]) -> Routed:
    rec = _cex(t, base) | {
        "tlv_type": t.TYPE,
        "bid_price": t.bid_price,
        "bid_size": t.bid_size,
        "ask_price": t.ask_price,
        "ask_size": t.ask_size,
        "quote_timestamp_ns": t.quote_timestamp_ns,
    }
    return Routed("market.quote", rec["instrument"], rec)


def _gas(t: Any, base: dict[str, Any]) -> Routed:
    rec = base | {
        "venue": t.venue,
        "block_number": t.block_number,
        "event_timestamp_ns": t.timestamp_ns,
        "gas_price_gwei": t.gas_price_gwei,
        "base_fee_gwei": t.base_fee_gwei,
        "priority_fee_gwei": t.priority_fee_gwei,
    }
    return Routed("market.gas_price", str(t.venue), rec)


def _pool_info(t: Any, base: dict[str, Any]) -> Routed:
    rec = base | {
        "pool": t.pool_address,
        "venue": t.venue,
        "pool_type": t.pool_type,
        "token0": t.token0,
        "token1": t.token1,
        "token0_decimals": t.token0_decimals,
        "token1_decimals": t.token1_decimals,
        "fee_tier": t.fee_tier,
        "discovered_at": t.discovered_at,
        "last_seen": t.last_seen,
    }
    return Routed("market.pool_info", t.pool_address, rec)


ROUTES: dict[str, Callable[[Any, dict[str, Any]], Routed]] = {
    "PoolSync": _pool_sync,
    "PoolSwap": _pool_swap,
    "PoolState": _pool_state,
    "PoolMint": _mint_burn("mint"),
    "PoolBurn": _mint_burn("burn"),
    "PoolTick": _pool_tick,
    "PoolLiquidity": _pool_liquidity,
    "Trade": _trade,
    "Quote": _quote,
    "QuoteUpdate": _quote,
    "GasPrice": _gas,
    "PoolInfo": _pool_info,
}
IGNORED = frozenset({"Heartbeat"})


def route_frame(frame: Frame, trace: dict[str, int]) -> tuple[list[Routed], list[str]]:
    """Map a decoded frame to records; return (records, names of unroutable TLVs)."""
    base = _ident(frame, trace)
    routed, unroutable = [], []
    for tlv in frame.tlvs:
        name = getattr(tlv, "NAME", type(tlv).__name__)
        route = ROUTES.get(name)
        if route is not None:
            routed.append(route(tlv, base))
        elif name not in IGNORED:
            unroutable.append(f"{name}({getattr(tlv, 'wire_type', getattr(tlv, 'TYPE', '?'))})")
    return routed, unroutable
