"""Typed market events, decoded from the Avro records of the ``market.*`` topics (pure).

One class per kind of change: :class:`SyncEvent` (V2 reserves after a Sync), :class:`StateEvent` (a full pool
snapshot, V2 reserves or V3 price/liquidity/tick), :class:`SwapEvent`, :class:`LiquidityEvent` (mint, burn, or
absolute reserves), :class:`TickEvent`, :class:`InfoEvent` (pool metadata), the CEX :class:`QuoteEvent` and
:class:`TradeEvent`, and :class:`GasEvent`. Every event keeps the relay identity of the frame it came from
(source, sequence, header timestamp) and its trace, with ``detect_in_ns`` added when it was decoded.

:func:`from_record` maps a topic and its decoded record to an event; a record that cannot be one raises
``ValueError``/``KeyError``, which the flow turns into a dead letter.

Events are built once per record on the detector's hot path and handed to one fold, never shared: they are plain
slotted dataclasses (a frozen one costs five times as much to build) and nothing mutates them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from flows.relay.protocol import CachePoolType, PoolStateType

if TYPE_CHECKING:
    from schemas.serde import AvroRecord

#: PoolState ``pool_type`` numbers of concentrated-liquidity pools.
V3_STATE_TYPES = frozenset({int(PoolStateType.UNISWAP_V3), int(PoolStateType.QUICKSWAP_V3)})
#: PoolInfo ``pool_type`` numbers of concentrated-liquidity pools.
V3_INFO_TYPES = frozenset({int(CachePoolType.UNISWAP_V3), int(CachePoolType.QUICKSWAP_V3)})


@dataclass(slots=True, kw_only=True)
class Event:
    """Identity shared by every market event.

    Attributes:
        source: relay header SourceType.
        sequence: relay header sequence.
        timestamp_ns: relay header timestamp, ns since epoch (the event time of the joins).
        block_number: chain block, 0 when the event has none (CEX data, liquidity events).
        trace: stage times, ns since epoch.
    """

    source: int
    sequence: int
    timestamp_ns: int
    block_number: int = 0
    trace: dict[str, int] = field(default_factory=dict, compare=False)


@dataclass(slots=True, kw_only=True)
class PoolEvent(Event):
    """An event of one pool (keyed by pool address)."""

    pool: str
    venue: int


@dataclass(slots=True, kw_only=True)
class SyncEvent(PoolEvent):
    """A constant-product pool's reserves after a Sync (``market.pool_sync``)."""

    token0: str
    token1: str
    token0_decimals: int
    token1_decimals: int
    reserve0: int
    reserve1: int


@dataclass(slots=True, kw_only=True)
class StateEvent(PoolEvent):
    """A full pool snapshot (``market.pool_state``): V2 reserves, or V3 ``slot0`` price, liquidity and tick.

    Attributes:
        ticks: V3: every initialized tick -> liquidity net, replacing the tick map held; None: unchanged.
        tick_spacing: V3 tick spacing (0: unknown).
        end_of_block: the pool after every log of ``block_number`` (a chain collector's state).
    """

    pool_type: int
    token0: str
    token1: str
    token0_decimals: int
    token1_decimals: int
    reserve0: int
    reserve1: int
    sqrt_price_x96: int
    liquidity: int
    tick: int
    fee_bps: int
    ticks: tuple[tuple[int, int], ...] | None = None
    tick_spacing: int = 0
    end_of_block: bool = False

    @property
    def is_v3(self) -> bool:
        """True for a concentrated-liquidity pool."""
        return self.pool_type in V3_STATE_TYPES


@dataclass(slots=True, kw_only=True)
class SwapEvent(PoolEvent):
    """One swap (``market.pool_swap``); V3 swaps carry the price, tick and liquidity after it (else zeros)."""

    token_in: str
    token_out: str
    amount_in: int
    amount_out: int
    sqrt_price_x96_after: int
    liquidity_after: int
    tick_after: int


@dataclass(slots=True, kw_only=True)
class LiquidityEvent(PoolEvent):
    """A mint, a burn, or absolute reserves after a liquidity change (``market.pool_liquidity``).

    Attributes:
        kind: ``mint``, ``burn`` or ``liquidity`` (absolute reserves in ``reserves``).
        liquidity_delta: V3 liquidity added or removed (0 for V2).
        amount0: token0 added or removed, raw units.
        amount1: token1 added or removed, raw units.
        tick_lower: V3 position's lower tick (equal to ``tick_upper`` for V2).
        tick_upper: V3 position's upper tick.
        reserves: absolute reserves (kind ``liquidity``).
    """

    kind: str
    liquidity_delta: int = 0
    amount0: int = 0
    amount1: int = 0
    tick_lower: int = 0
    tick_upper: int = 0
    token0: str = ""
    token1: str = ""
    token0_decimals: int = 0
    token1_decimals: int = 0
    reserves: tuple[int, ...] = ()


@dataclass(slots=True, kw_only=True)
class TickEvent(PoolEvent):
    """A V3 tick's liquidity net (``market.pool_liquidity`` kind ``tick``, from PoolTick)."""

    tick: int
    liquidity_net: int


@dataclass(slots=True, kw_only=True)
class InfoEvent(PoolEvent):
    """Pool metadata (``market.pool_info``): tokens, decimals, fee tier and type."""

    pool_type: int
    token0: str
    token1: str
    token0_decimals: int
    token1_decimals: int
    fee_bps: int

    @property
    def is_v3(self) -> bool:
        """True for a concentrated-liquidity pool."""
        return self.pool_type in V3_INFO_TYPES


@dataclass(slots=True, kw_only=True)
class QuoteEvent(Event):
    """Best bid and ask of a CEX instrument (``market.quote``); prices and sizes x1e8."""

    instrument: str
    venue: int
    bid_price: int
    bid_size: int
    ask_price: int
    ask_size: int


@dataclass(slots=True, kw_only=True)
class TradeEvent(Event):
    """A CEX trade (``market.trade``); price and volume x1e8; ``side`` is the taker's (buy or sell)."""

    instrument: str
    venue: int
    price: int
    volume: int
    side: str


@dataclass(slots=True, kw_only=True)
class GasEvent(Event):
    """A chain's gas price (``market.gas_price``), gwei."""

    venue: int
    gas_price_gwei: int
    base_fee_gwei: int
    priority_fee_gwei: int


def _u(raw: bytes | None) -> int:
    return 0 if raw is None else int.from_bytes(raw, "big")


class _Ident(TypedDict):
    """The identity fields every event takes from its record (:class:`Event`)."""

    source: int
    sequence: int
    timestamp_ns: int
    trace: dict[str, int]


def _ident(rec: AvroRecord, detect_in_ns: int | None) -> _Ident:
    trace = rec.get("trace")
    trace = dict(trace) if trace else {}
    if detect_in_ns is not None:
        trace["detect_in_ns"] = detect_in_ns
    return {"source": rec["source"], "sequence": rec["sequence"], "timestamp_ns": rec["timestamp_ns"], "trace": trace}


def _sync(rec: AvroRecord, ident: _Ident) -> SyncEvent:
    return SyncEvent(
        source=ident["source"],
        sequence=ident["sequence"],
        timestamp_ns=ident["timestamp_ns"],
        trace=ident["trace"],
        block_number=rec["block_number"],
        pool=rec["pool"],
        venue=rec["venue"],
        token0=rec["token0"],
        token1=rec["token1"],
        token0_decimals=rec["token0_decimals"],
        token1_decimals=rec["token1_decimals"],
        reserve0=int.from_bytes(rec["reserve0"], "big"),
        reserve1=int.from_bytes(rec["reserve1"], "big"),
    )


def _ticks(raw: list[AvroRecord | tuple[int, int | bytes]] | None) -> tuple[tuple[int, int], ...] | None:
    """A record's tick map, or None when it leaves the held map unchanged (empty, the default).

    An empty map and "unchanged" differ only for a V3 pool with no initialized tick, which has no liquidity and
    cannot be priced either way. Entries are Avro records (dicts), or ``(tick, liquidity_net)`` tuples as an archive
    replay reads them back; the net is Int256 bytes.
    """
    if not raw:
        return None
    out = []
    for t in raw:
        tick, net = (t["tick"], t["liquidity_net"]) if isinstance(t, dict) else t
        out.append((tick, net if isinstance(net, int) else int.from_bytes(net, "big", signed=True)))
    return tuple(out)


def _state(rec: AvroRecord, ident: _Ident) -> StateEvent:
    return StateEvent(
        **ident,
        block_number=rec["block_number"],
        pool=rec["pool"],
        venue=rec["venue"],
        pool_type=rec["pool_type"],
        token0=rec["token0"],
        token1=rec["token1"],
        token0_decimals=rec["token0_decimals"],
        token1_decimals=rec["token1_decimals"],
        reserve0=_u(rec["reserve0"]),
        reserve1=_u(rec["reserve1"]),
        sqrt_price_x96=_u(rec["sqrt_price_x96"]),
        liquidity=_u(rec["liquidity"]),
        tick=rec["tick"],
        fee_bps=rec["fee_rate"],
        ticks=_ticks(rec.get("ticks")),
        tick_spacing=rec.get("tick_spacing") or 0,
        end_of_block=bool(rec.get("end_of_block", False)),
    )


def _swap(rec: AvroRecord, ident: _Ident) -> SwapEvent:
    return SwapEvent(
        **ident,
        block_number=rec["block_number"],
        pool=rec["pool"],
        venue=rec["venue"],
        token_in=rec["token_in"],
        token_out=rec["token_out"],
        amount_in=_u(rec["amount_in"]),
        amount_out=_u(rec["amount_out"]),
        sqrt_price_x96_after=_u(rec["sqrt_price_x96_after"]),
        liquidity_after=_u(rec["liquidity_after"]),
        tick_after=rec["tick_after"],
    )


def _liquidity(rec: AvroRecord, ident: _Ident) -> LiquidityEvent | TickEvent:
    kind = rec["kind"]
    if kind == "tick":
        if rec["tick"] is None or rec["liquidity_net"] is None:
            msg = "tick record without tick or liquidity_net"
            raise ValueError(msg)
        return TickEvent(
            **ident, pool=rec["pool"], venue=rec["venue"], tick=rec["tick"], liquidity_net=rec["liquidity_net"]
        )
    return LiquidityEvent(
        **ident,
        pool=rec["pool"],
        venue=rec["venue"],
        kind=kind,
        liquidity_delta=_u(rec["liquidity_delta"]),
        amount0=_u(rec["amount0"]),
        amount1=_u(rec["amount1"]),
        tick_lower=rec["tick_lower"] or 0,
        tick_upper=rec["tick_upper"] or 0,
        token0=rec["token0"] or "",
        token1=rec["token1"] or "",
        token0_decimals=rec["token0_decimals"] or 0,
        token1_decimals=rec["token1_decimals"] or 0,
        reserves=tuple(_u(r) for r in rec["reserves"]),
    )


def _info(rec: AvroRecord, ident: _Ident) -> InfoEvent:
    return InfoEvent(
        **ident,
        pool=rec["pool"],
        venue=rec["venue"],
        pool_type=rec["pool_type"],
        token0=rec["token0"],
        token1=rec["token1"],
        token0_decimals=rec["token0_decimals"],
        token1_decimals=rec["token1_decimals"],
        fee_bps=rec["fee_tier"],
    )


def _quote(rec: AvroRecord, ident: _Ident) -> QuoteEvent:
    return QuoteEvent(
        **ident,
        instrument=rec["instrument"],
        venue=rec["venue"],
        bid_price=rec["bid_price"],
        bid_size=rec["bid_size"],
        ask_price=rec["ask_price"],
        ask_size=rec["ask_size"],
    )


def _trade(rec: AvroRecord, ident: _Ident) -> TradeEvent:
    return TradeEvent(
        **ident,
        instrument=rec["instrument"],
        venue=rec["venue"],
        price=rec["price"],
        volume=rec["volume"],
        side=rec["side"],
    )


def _gas(rec: AvroRecord, ident: _Ident) -> GasEvent:
    return GasEvent(
        **ident,
        block_number=rec["block_number"],
        venue=rec["venue"],
        gas_price_gwei=rec["gas_price_gwei"],
        base_fee_gwei=rec["base_fee_gwei"],
        priority_fee_gwei=rec["priority_fee_gwei"],
    )


DECODERS: dict[str, Callable[[AvroRecord, _Ident], Event]] = {
    "market.pool_sync": _sync,
    "market.pool_state": _state,
    "market.pool_swap": _swap,
    "market.pool_liquidity": _liquidity,
    "market.pool_info": _info,
    "market.quote": _quote,
    "market.trade": _trade,
    "market.gas_price": _gas,
}


def from_record(topic: str, rec: AvroRecord, detect_in_ns: int | None) -> Event:
    """Turn a decoded ``market.*`` record into its event.

    Args:
        topic: the topic it was read from (names the record's schema).
        rec: the Avro-decoded record.
        detect_in_ns: when the detector decoded it, ns since epoch (added to the trace; None, as a backtest
            passes, adds nothing).

    Raises:
        ValueError: the topic is not a market topic a detector reads, or the record is unusable.
        KeyError: a field is missing.
    """
    decoder = DECODERS.get(topic)
    if decoder is None:
        msg = f"topic {topic!r} is not an input of a detector; expected one of {', '.join(sorted(DECODERS))}"
        raise ValueError(msg)
    return decoder(rec, _ident(rec, detect_in_ns))
