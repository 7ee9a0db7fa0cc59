"""Market-data TLVs from centralised venues and the chain: Trade, Quote, QuoteUpdate, OrderBook, GasPrice.

Layouts are AlphaPulse's ``#[repr(C)]`` structs (``libs/types/src/protocol/tlv/market_data.rs``,
``gas_price.rs``), little-endian; CEX prices and sizes are fixed point x1e8 (``i64``), timestamps ns since
the Unix epoch.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from flows.relay.fastbuild import fast_builder
from flows.relay.tlv_base import Buffer, Tlv, int_range

_TRADE = struct.Struct("<QqqQHBBB3x")
_QUOTE = struct.Struct("<QqqqqQHBB4x")
_BOOK_HEAD = struct.Struct("<QQqQHBB4x")
_VEC_COUNT = struct.Struct("<H6x")
_LEVEL = struct.Struct("<qqII")
_GAS = struct.Struct("<QQIIIHH")

MAX_ORDER_LEVELS = 50
_VEC_SIZE = _VEC_COUNT.size + MAX_ORDER_LEVELS * _LEVEL.size  # 1208
_LEVEL_KINDS = (("price", "i64"), ("size", "i64"), ("order_count", "u32"), ("reserved", "u32"))


@dataclass(frozen=True, slots=True)
class Trade(Tlv):
    """One trade (type 1, 40 bytes).

    Attributes:
        asset_id: InstrumentId asset id (for coins: symbol packed big-endian).
        price: price x1e8.
        volume: traded size x1e8.
        execution_timestamp_ns: exchange execution time, ns since epoch.
        venue_id: VenueId (102 Coinbase).
        asset_type: AssetType (51 Coin).
        reserved: InstrumentId reserved byte.
        side: taker side, 0 buy, 1 sell.
    """

    TYPE: ClassVar[int] = 1
    NAME: ClassVar[str] = "Trade"
    SIZE: ClassVar[int] = 40
    KINDS: ClassVar[dict[str, str]] = {
        "asset_id": "u64",
        "price": "i64",
        "volume": "i64",
        "execution_timestamp_ns": "u64",
        "venue_id": "u16",
        "asset_type": "u8",
        "reserved": "u8",
        "side": "u8",
    }

    asset_id: int
    price: int
    volume: int
    execution_timestamp_ns: int
    venue_id: int
    asset_type: int
    reserved: int
    side: int

    def encode(self) -> bytes:
        """Return the 40 value bytes."""
        return _TRADE.pack(
            self.asset_id,
            self.price,
            self.volume,
            self.execution_timestamp_ns,
            self.venue_id,
            self.asset_type,
            self.reserved,
            self.side,
        )

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> Trade:
        """Read 40 value bytes at ``offset``."""
        return _make_trade(*_TRADE.unpack_from(buf, offset))


@dataclass(frozen=True, slots=True)
class Quote(Tlv):
    """Best bid and ask (type 2, 56 bytes; AlphaPulse declares 52, which is wrong).

    Attributes:
        asset_id: InstrumentId asset id.
        bid_price: best bid x1e8.
        bid_size: size at the best bid x1e8.
        ask_price: best ask x1e8.
        ask_size: size at the best ask x1e8.
        quote_timestamp_ns: quote time, ns since epoch.
        venue_id: VenueId.
        asset_type: AssetType.
        reserved: InstrumentId reserved byte.
    """

    TYPE: ClassVar[int] = 2
    NAME: ClassVar[str] = "Quote"
    SIZE: ClassVar[int] = 56
    KINDS: ClassVar[dict[str, str]] = {
        "asset_id": "u64",
        "bid_price": "i64",
        "bid_size": "i64",
        "ask_price": "i64",
        "ask_size": "i64",
        "quote_timestamp_ns": "u64",
        "venue_id": "u16",
        "asset_type": "u8",
        "reserved": "u8",
    }

    asset_id: int
    bid_price: int
    bid_size: int
    ask_price: int
    ask_size: int
    quote_timestamp_ns: int
    venue_id: int
    asset_type: int
    reserved: int

    def encode(self) -> bytes:
        """Return the 56 value bytes."""
        return _QUOTE.pack(
            self.asset_id,
            self.bid_price,
            self.bid_size,
            self.ask_price,
            self.ask_size,
            self.quote_timestamp_ns,
            self.venue_id,
            self.asset_type,
            self.reserved,
        )

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> Quote:
        """Read 56 value bytes at ``offset``."""
        return _QUOTE_MAKERS[cls](*_QUOTE.unpack_from(buf, offset))


@dataclass(frozen=True, slots=True)
class QuoteUpdate(Quote):
    """An incremental quote (type 17): the Quote layout under its own type number."""

    TYPE: ClassVar[int] = 17
    NAME: ClassVar[str] = "QuoteUpdate"


@dataclass(frozen=True, slots=True)
class OrderLevel:
    """One order-book level (24 bytes).

    Attributes:
        price: level price (x1e8 for CEX, native units for DEX, see ``OrderBook.precision_factor``).
        size: size at the level, same scale.
        order_count: orders at the level (0 when the venue does not say).
        reserved: reserved, 0.
    """

    price: int
    size: int
    order_count: int = 0
    reserved: int = 0


@dataclass(frozen=True, slots=True)
class OrderBook(Tlv):
    """An order-book snapshot (type 3, 2456 bytes, always an extended TLV).

    Each side is AlphaPulse's ``FixedVec<OrderLevel, 50>``: a u16 count, 6 padding bytes, then 50 slots of
    which the first ``count`` hold levels; pulsearb keeps only those, as a tuple.

    Attributes:
        snapshot_timestamp_ns: snapshot time, ns since epoch.
        sequence: venue sequence for gap detection.
        precision_factor: scale of prices and sizes (100_000_000 for CEX).
        asset_id: InstrumentId asset id.
        venue_id: VenueId.
        asset_type: AssetType.
        reserved: InstrumentId reserved byte.
        bids: bid levels, highest price first (at most 50).
        asks: ask levels, lowest price first (at most 50).
    """

    TYPE: ClassVar[int] = 3
    NAME: ClassVar[str] = "OrderBook"
    SIZE: ClassVar[int] = 2456
    KINDS: ClassVar[dict[str, str]] = {
        "snapshot_timestamp_ns": "u64",
        "sequence": "u64",
        "precision_factor": "i64",
        "asset_id": "u64",
        "venue_id": "u16",
        "asset_type": "u8",
        "reserved": "u8",
        "bids": "levels[50]",
        "asks": "levels[50]",
    }

    snapshot_timestamp_ns: int
    sequence: int
    precision_factor: int
    asset_id: int
    venue_id: int
    asset_type: int
    reserved: int
    bids: tuple[OrderLevel, ...]
    asks: tuple[OrderLevel, ...]

    def encode(self) -> bytes:
        """Return the 2456 value bytes (unused level slots zeroed)."""
        head = _BOOK_HEAD.pack(
            self.snapshot_timestamp_ns,
            self.sequence,
            self.precision_factor,
            self.asset_id,
            self.venue_id,
            self.asset_type,
            self.reserved,
        )
        return head + _encode_levels(self.bids) + _encode_levels(self.asks)

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> OrderBook:
        """Read 2456 value bytes at ``offset``.

        Raises:
            ValueError: a side's count is above 50.
        """
        head = _BOOK_HEAD.unpack_from(buf, offset)
        bids = _decode_levels(buf, offset + _BOOK_HEAD.size, "bids")
        asks = _decode_levels(buf, offset + _BOOK_HEAD.size + _VEC_SIZE, "asks")
        return _make_book(*head, bids, asks)

    def problems(self) -> list[str]:
        """Return why this value cannot be encoded."""
        found = Tlv.problems(self)  # zero-argument super() breaks in slots=True dataclasses
        for side in ("bids", "asks"):
            for i, level in enumerate(getattr(self, side)):
                if not isinstance(level, OrderLevel):
                    found.append(f"OrderBook.{side}[{i}]: expected an OrderLevel, got {type(level).__name__}")
                    continue
                for name, kind in _LEVEL_KINDS:
                    lo, hi = int_range(kind)
                    value = getattr(level, name)
                    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                        found.append(f"OrderBook.{side}[{i}].{name}: {value!r} out of range for {kind}")
        return found


def _encode_levels(levels: tuple[OrderLevel, ...]) -> bytes:
    if len(levels) > MAX_ORDER_LEVELS:
        msg = f"{len(levels)} order levels, at most {MAX_ORDER_LEVELS}"
        raise ValueError(msg)
    body = b"".join(_LEVEL.pack(lv.price, lv.size, lv.order_count, lv.reserved) for lv in levels)
    return _VEC_COUNT.pack(len(levels)) + body + bytes(_LEVEL.size * (MAX_ORDER_LEVELS - len(levels)))


def _decode_levels(buf: Buffer, offset: int, side: str) -> tuple[OrderLevel, ...]:
    (count,) = _VEC_COUNT.unpack_from(buf, offset)
    if count > MAX_ORDER_LEVELS:
        msg = f"{side} count {count} above capacity {MAX_ORDER_LEVELS}"
        raise ValueError(msg)
    start = offset + _VEC_COUNT.size
    view = memoryview(buf)[start : start + count * _LEVEL.size]
    return tuple(_make_level(*fields) for fields in _LEVEL.iter_unpack(view))


@dataclass(frozen=True, slots=True)
class GasPrice(Tlv):
    """Gas price of a chain at a block (type 18, 32 bytes).

    Attributes:
        block_number: block the price was read at.
        timestamp_ns: ns since epoch.
        gas_price_gwei: base + priority fee, gwei.
        base_fee_gwei: EIP-1559 base fee, gwei.
        priority_fee_gwei: priority fee, gwei.
        venue: chain venue (AlphaPulse documents "137 for Polygon").
        reserved: reserved, 0.
    """

    TYPE: ClassVar[int] = 18
    NAME: ClassVar[str] = "GasPrice"
    SIZE: ClassVar[int] = 32
    KINDS: ClassVar[dict[str, str]] = {
        "block_number": "u64",
        "timestamp_ns": "u64",
        "gas_price_gwei": "u32",
        "base_fee_gwei": "u32",
        "priority_fee_gwei": "u32",
        "venue": "u16",
        "reserved": "u16",
    }

    block_number: int
    timestamp_ns: int
    gas_price_gwei: int
    base_fee_gwei: int
    priority_fee_gwei: int
    venue: int
    reserved: int

    def encode(self) -> bytes:
        """Return the 32 value bytes."""
        return _GAS.pack(
            self.block_number,
            self.timestamp_ns,
            self.gas_price_gwei,
            self.base_fee_gwei,
            self.priority_fee_gwei,
            self.venue,
            self.reserved,
        )

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> GasPrice:
        """Read 32 value bytes at ``offset``."""
        return _make_gas(*_GAS.unpack_from(buf, offset))


_make_trade = fast_builder(Trade)
_QUOTE_MAKERS = {Quote: fast_builder(Quote), QuoteUpdate: fast_builder(QuoteUpdate)}
_make_level = fast_builder(OrderLevel)
_make_book = fast_builder(OrderBook)
_make_gas = fast_builder(GasPrice)
