"""Relay frames -> Kafka records: which topic, which key, which Avro record, and dead letters (pure, no I/O).

Keys follow DESIGN.md: pool events by pool address (lower-case hex), CEX events by instrument (``venue:symbol``),
gas prices by venue. Every record carries the relay header's source, sequence and timestamp plus the trace of
when the frame entered and left the bridge. docs/protocol.md section 7 is the table this module implements.

:class:`Router` is the bridge's whole per-read work: frame the bytes of a relay read (its own
:class:`~flows.relay.framing.Framer`), route every TLV, Avro-encode, and turn whatever fails into a ``dlq.relay``
record holding the raw bytes, the reason and the stream offset. Stages of a dead letter:

- ``frame``: bytes the framer could not make a frame of (garbage, truncated, bad TLV, checksum mismatch);
- ``route``: a good frame with TLVs that have no topic (signals on the market relay, OrderBook, unknown types), or
  a frame of another relay domain (AlphaPulse's relays forward only their own domain; a frame that gets through
  anyway is not market data);
- ``encode``: a TLV whose values do not fit its Avro schema (for example a u64 sequence above 2^63 - 1).

The hot TLVs (PoolSync, PoolSwap, Quote, QuoteUpdate, Trade) take a fast path (:data:`FAST_ROUTES`): from the TLV
straight to the Avro payload, no record dict, falling back to the general route for anything it does not take.
In :meth:`Router.feed` they go further: the framer hands their frames' bytes to the router's shortcuts, which write
the record without building a Frame or Header object (PoolSync without even a TLV object: its pool, venue, tokens
and decimals are one 112-byte run whose Avro encoding is cached). Either way the output is the general route's,
byte for byte (``tests/bridge/test_fastpath.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from base.errors import PulsearbError
from flows.bridge_batch import PENDING, SyncBatch
from flows.deadletter import dead_letter
from flows.relay.codec import ChecksumPolicy, Frame, decode_checked
from flows.relay.framing import DeadFrame, Framer, Shortcut
from flows.relay.header import HEADER_SIZE, Header
from flows.relay.protocol import InstrumentId, RelayDomain
from flows.relay.tlv import (
    GasPrice,
    Heartbeat,
    PoolBurn,
    PoolInfo,
    PoolLiquidity,
    PoolMint,
    PoolStateTlv,
    PoolSwap,
    PoolSync,
    PoolTick,
    Quote,
    QuoteUpdate,
    StateInvalidation,
    Tlv,
    Trade,
)
from schemas.avro_encoder import LONG_MAX, Unsupported, encode_int, encode_long, encode_string
from schemas.serde import codec

#: Topics the bridge writes (besides its dead-letter topic).
MARKET_TOPICS = (
    "market.trade",
    "market.quote",
    "market.pool_swap",
    "market.pool_sync",
    "market.pool_state",
    "market.pool_liquidity",
    "market.gas_price",
    "market.pool_info",
    "market.invalidation",
)

#: One record: (topic, key, Avro record).
Route = tuple[str, str, dict[str, Any]]
#: One record ready to produce: (topic, key bytes or None, value bytes).
Encoded = tuple[str, bytes | None, bytes]


@dataclass(frozen=True, slots=True)
class Routed:
    """One record bound for a topic."""

    topic: str
    key: str
    record: dict[str, Any]


def _u256(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _symbol(asset_id: int, asset_type: int) -> str:
    """Coins pack their symbol big-endian into asset_id; other instruments keep the id in hex."""
    raw = asset_id.to_bytes(8, "big").rstrip(b"\x00")
    if asset_type in (1, 3, 5, 51, 53) and raw and all(32 < c < 127 for c in raw):
        return raw.decode("ascii")
    return f"{asset_id:016x}"


# Each route builds its record as one dict literal: this runs once per record at relay rates.


def _pool_sync(t: PoolSync, h: Header, trace: dict[str, int]) -> Route:
    pool = t.pool_address
    rec = {
        "source": h.source,
        "sequence": h.sequence,
        "timestamp_ns": h.timestamp,
        "trace": trace,
        "pool": pool,
        "venue": t.venue,
        "token0": t.token0_addr,
        "token1": t.token1_addr,
        "token0_decimals": t.token0_decimals,
        "token1_decimals": t.token1_decimals,
        "reserve0": t.reserve0.to_bytes(32, "big"),
        "reserve1": t.reserve1.to_bytes(32, "big"),
        "block_number": t.block_number,
        "event_timestamp_ns": t.timestamp_ns,
    }
    return "market.pool_sync", pool, rec


def _pool_swap(t: PoolSwap, h: Header, trace: dict[str, int]) -> Route:
    pool = t.pool_address
    rec = {
        "source": h.source,
        "sequence": h.sequence,
        "timestamp_ns": h.timestamp,
        "trace": trace,
        "pool": pool,
        "venue": t.venue,
        "token_in": t.token_in_addr,
        "token_out": t.token_out_addr,
        "amount_in": _u256(t.amount_in),
        "amount_out": _u256(t.amount_out),
        "amount_in_decimals": t.amount_in_decimals,
        "amount_out_decimals": t.amount_out_decimals,
        "liquidity_after": _u256(t.liquidity_after),
        "sqrt_price_x96_after": _u256(t.sqrt_price_x96_after),
        "tick_after": t.tick_after,
        "block_number": t.block_number,
        "event_timestamp_ns": t.timestamp_ns,
    }
    return "market.pool_swap", pool, rec


def _pool_state(t: PoolStateTlv, h: Header, trace: dict[str, int]) -> Route:
    pool = t.pool_address
    rec = {
        "source": h.source,
        "sequence": h.sequence,
        "timestamp_ns": h.timestamp,
        "trace": trace,
        "pool": pool,
        "venue": t.venue,
        "pool_type": t.pool_type,
        "token0": t.token0_addr,
        "token1": t.token1_addr,
        "token0_decimals": t.token0_decimals,
        "token1_decimals": t.token1_decimals,
        "reserve0": _u256(t.reserve0),
        "reserve1": _u256(t.reserve1),
        "sqrt_price_x96": _u256(t.sqrt_price_x96),
        "liquidity": _u256(t.liquidity),
        "tick": t.tick,
        "fee_rate": t.fee_rate,
        "block_number": t.block_number,
        "event_timestamp_ns": t.timestamp_ns,
    }
    return "market.pool_state", pool, rec


def _liquidity(kind: str, t: Any, h: Header, trace: dict[str, int], **fields: Any) -> Route:
    """A ``market.pool_liquidity`` record: one schema for mint, burn, tick and liquidity, unused fields null."""
    rec = {
        "source": h.source,
        "sequence": h.sequence,
        "timestamp_ns": h.timestamp,
        "trace": trace,
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
    rec.update(fields)
    return "market.pool_liquidity", t.pool_address, rec


def _mint_burn(kind: str) -> Callable[[Any, Header, dict[str, int]], Route]:
    def route(t: Any, h: Header, trace: dict[str, int]) -> Route:
        return _liquidity(
            kind,
            t,
            h,
            trace,
            liquidity_delta=_u256(t.liquidity_delta),
            amount0=_u256(t.amount0),
            amount1=_u256(t.amount1),
            tick_lower=t.tick_lower,
            tick_upper=t.tick_upper,
            provider=t.provider_addr,
            token0=t.token0_addr,
            token1=t.token1_addr,
            token0_decimals=t.token0_decimals,
            token1_decimals=t.token1_decimals,
        )

    return route


def _pool_tick(t: PoolTick, h: Header, trace: dict[str, int]) -> Route:
    return _liquidity("tick", t, h, trace, tick=t.tick, liquidity_net=t.liquidity_net, price_sqrt=t.price_sqrt)


def _pool_liquidity(t: PoolLiquidity, h: Header, trace: dict[str, int]) -> Route:
    return _liquidity("liquidity", t, h, trace, reserves=[_u256(r) for r in t.reserves])


def _cex(t: Any, h: Header, trace: dict[str, int]) -> dict[str, Any]:
    symbol = _symbol(t.asset_id, t.asset_type)
    return {
        "source": h.source,
        "sequence": h.sequence,
        "timestamp_ns": h.timestamp,
        "trace": trace,
        "instrument": f"{t.venue_id}:{symbol}",
        "asset_id": t.asset_id,
        "venue": t.venue_id,
        "asset_type": t.asset_type,
        "symbol": symbol,
    }


def _trade(t: Trade, h: Header, trace: dict[str, int]) -> Route:
    rec = _cex(t, h, trace)
    rec["price"] = t.price
    rec["volume"] = t.volume
    rec["side"] = "sell" if t.side else "buy"
    rec["execution_timestamp_ns"] = t.execution_timestamp_ns
    return "market.trade", rec["instrument"], rec


def _quote(t: Quote, h: Header, trace: dict[str, int]) -> Route:
    rec = _cex(t, h, trace)
    rec["tlv_type"] = t.TYPE
    rec["bid_price"] = t.bid_price
    rec["bid_size"] = t.bid_size
    rec["ask_price"] = t.ask_price
    rec["ask_size"] = t.ask_size
    rec["quote_timestamp_ns"] = t.quote_timestamp_ns
    return "market.quote", rec["instrument"], rec


def _gas(t: GasPrice, h: Header, trace: dict[str, int]) -> Route:
    rec = {
        "source": h.source,
        "sequence": h.sequence,
        "timestamp_ns": h.timestamp,
        "trace": trace,
        "venue": t.venue,
        "block_number": t.block_number,
        "event_timestamp_ns": t.timestamp_ns,
        "gas_price_gwei": t.gas_price_gwei,
        "base_fee_gwei": t.base_fee_gwei,
        "priority_fee_gwei": t.priority_fee_gwei,
    }
    return "market.gas_price", str(t.venue), rec


def _pool_info(t: PoolInfo, h: Header, trace: dict[str, int]) -> Route:
    rec = {
        "source": h.source,
        "sequence": h.sequence,
        "timestamp_ns": h.timestamp,
        "trace": trace,
        "pool": t.pool_address,
        "venue": t.venue,
        "pool_type": t.pool_type,
        "token0": t.token0_address,
        "token1": t.token1_address,
        "token0_decimals": t.token0_decimals,
        "token1_decimals": t.token1_decimals,
        "fee_tier": t.fee_tier,
        "discovered_at": t.discovered_at,
        "last_seen": t.last_seen,
    }
    return "market.pool_info", t.pool_address, rec


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _instrument_record(i: InstrumentId) -> dict[str, int]:
    return {"asset_id": _signed64(i.asset_id), "venue": i.venue, "asset_type": i.asset_type, "reserved": i.reserved}


def _invalidation(t: StateInvalidation, h: Header, trace: dict[str, int]) -> Route:
    """StateInvalidation -> ``market.invalidation`` (keyed by venue), read by the chain collector to re-seed pools."""
    rec = {
        "source": h.source,
        "sequence": h.sequence,
        "timestamp_ns": h.timestamp,
        "trace": trace,
        "venue": t.venue,
        "reason": t.reason,
        "instruments": [_instrument_record(InstrumentId.from_cache_key(k)) for k in t.instruments],
        "tlv_sequence": _signed64(t.sequence),
        "event_timestamp_ns": _signed64(t.timestamp_ns),
    }
    return "market.invalidation", str(t.venue), rec


#: TLV class -> route. Classes absent here (and not in IGNORED) are unroutable.
ROUTES: dict[type[Tlv], Callable[[Any, Header, dict[str, int]], Route]] = {
    PoolSync: _pool_sync,
    PoolSwap: _pool_swap,
    PoolStateTlv: _pool_state,
    PoolMint: _mint_burn("mint"),
    PoolBurn: _mint_burn("burn"),
    PoolTick: _pool_tick,
    PoolLiquidity: _pool_liquidity,
    Trade: _trade,
    Quote: _quote,
    QuoteUpdate: _quote,
    GasPrice: _gas,
    PoolInfo: _pool_info,
    StateInvalidation: _invalidation,
}
#: TLVs that are neither routed nor dead-lettered (liveness only).
IGNORED: frozenset[type[Tlv]] = frozenset({Heartbeat})


def tlv_label(tlv: Tlv) -> str:
    """``Name(type)`` of a TLV for reasons and logs, e.g. ``ArbitrageSignal(32)`` or ``unknown(77)``."""
    return f"{getattr(tlv, 'NAME', type(tlv).__name__)}({getattr(tlv, 'wire_type', '?')})"


def route_frame(frame: Frame, trace: dict[str, int]) -> tuple[list[Routed], list[str]]:
    """Map a decoded frame to records; return (records, labels of unroutable TLVs such as ``OrderBook(3)``)."""
    routed, unroutable = [], []
    for tlv in frame.tlvs:
        route = ROUTES.get(type(tlv))
        if route is not None:
            routed.append(Routed(*route(tlv, frame.header, trace)))
        elif type(tlv) not in IGNORED:
            unroutable.append(tlv_label(tlv))
    return routed, unroutable


# Fast path. The hot TLVs go from the decoded TLV straight to the Avro payload, without the record dict: each
# fast route passes the TLV's fields positionally to a values encoder compiled from the topic's schema
# (schemas/avro_encoder.py), with the header fields and the trace map encoded once per frame. A fast route
# returns exactly what the route above plus the topic's encoder return; whatever it does not take (a value out of
# the schema's range, anything odd) raises, and the Router then routes that TLV the general way, which writes the
# same bytes or the same dead letter as before (tests/bridge/test_fastpath.py compares the two over generated
# streams).

#: Fields every market record starts with, passed to the values encoders already encoded (once per frame).
_PRE_ENCODED = frozenset({"source", "sequence", "timestamp_ns", "trace"})
_HEAD = ("source", "sequence", "timestamp_ns", "trace")
_SYNC_FIELDS = (*_HEAD, "pool", "venue", "token0", "token1", "token0_decimals", "token1_decimals")
_SYNC_FIELDS += ("reserve0", "reserve1", "block_number", "event_timestamp_ns")
_SWAP_FIELDS = (*_HEAD, "pool", "venue", "token_in", "token_out", "amount_in", "amount_out", "amount_in_decimals")
_SWAP_FIELDS += ("amount_out_decimals", "liquidity_after", "sqrt_price_x96_after", "tick_after", "block_number")
_SWAP_FIELDS += ("event_timestamp_ns",)
_CEX_FIELDS = (*_HEAD, "instrument", "asset_id", "venue", "asset_type", "symbol")
_QUOTE_FIELDS = (*_CEX_FIELDS, "tlv_type", "bid_price", "bid_size", "ask_price", "ask_size", "quote_timestamp_ns")
_TRADE_FIELDS = (*_CEX_FIELDS, "price", "volume", "side", "execution_timestamp_ns")


def _values_encoder(topic: str, names: tuple[str, ...]) -> Callable[..., bytes]:
    c = codec(topic)
    return c.values_encoder(names, _PRE_ENCODED)


_encode_sync = _values_encoder("market.pool_sync", _SYNC_FIELDS)
_encode_swap = _values_encoder("market.pool_swap", _SWAP_FIELDS)
_encode_quote = _values_encoder("market.quote", _QUOTE_FIELDS)
_encode_trade = _values_encoder("market.trade", _TRADE_FIELDS)

#: (venue_id, asset_id, asset_type) -> (instrument, instrument as key bytes, symbol); emptied when full.
_INSTRUMENTS: dict[tuple[int, int, int], tuple[str, bytes, str]] = {}
INSTRUMENT_CACHE_SIZE = 4096


def _instrument(venue_id: int, asset_id: int, asset_type: int) -> tuple[str, bytes, str]:
    symbol = _symbol(asset_id, asset_type)
    instrument = f"{venue_id}:{symbol}"
    found = (instrument, instrument.encode(), symbol)
    if len(_INSTRUMENTS) >= INSTRUMENT_CACHE_SIZE:
        _INSTRUMENTS.clear()
    _INSTRUMENTS[(venue_id, asset_id, asset_type)] = found
    return found


def _fast_pool_sync(t: PoolSync, src: bytes, seq: bytes, ts: bytes, trace: bytes) -> Encoded:
    pool = t.pool_address
    value = _encode_sync(
        src,
        seq,
        ts,
        trace,
        pool,
        t.venue,
        t.token0_addr,
        t.token1_addr,
        t.token0_decimals,
        t.token1_decimals,
        t.reserve0.to_bytes(32, "big"),
        t.reserve1.to_bytes(32, "big"),
        t.block_number,
        t.timestamp_ns,
    )
    return "market.pool_sync", pool.encode(), value


def _fast_pool_swap(t: PoolSwap, src: bytes, seq: bytes, ts: bytes, trace: bytes) -> Encoded:
    pool = t.pool_address
    value = _encode_swap(
        src,
        seq,
        ts,
        trace,
        pool,
        t.venue,
        t.token_in_addr,
        t.token_out_addr,
        t.amount_in.to_bytes(32, "big"),
        t.amount_out.to_bytes(32, "big"),
        t.amount_in_decimals,
        t.amount_out_decimals,
        t.liquidity_after.to_bytes(32, "big"),
        t.sqrt_price_x96_after.to_bytes(32, "big"),
        t.tick_after,
        t.block_number,
        t.timestamp_ns,
    )
    return "market.pool_swap", pool.encode(), value


def _fast_quote(t: Quote, src: bytes, seq: bytes, ts: bytes, trace: bytes) -> Encoded:
    venue, asset_id, asset_type = ids = t.venue_id, t.asset_id, t.asset_type
    instrument, key, symbol = _INSTRUMENTS.get(ids) or _instrument(*ids)
    value = _encode_quote(
        src,
        seq,
        ts,
        trace,
        instrument,
        asset_id,
        venue,
        asset_type,
        symbol,
        t.TYPE,
        t.bid_price,
        t.bid_size,
        t.ask_price,
        t.ask_size,
        t.quote_timestamp_ns,
    )
    return "market.quote", key, value


def _fast_trade(t: Trade, src: bytes, seq: bytes, ts: bytes, trace: bytes) -> Encoded:
    venue, asset_id, asset_type = ids = t.venue_id, t.asset_id, t.asset_type
    instrument, key, symbol = _INSTRUMENTS.get(ids) or _instrument(*ids)
    value = _encode_trade(
        src,
        seq,
        ts,
        trace,
        instrument,
        asset_id,
        venue,
        asset_type,
        symbol,
        t.price,
        t.volume,
        "sell" if t.side else "buy",
        t.execution_timestamp_ns,
    )
    return "market.trade", key, value


#: TLV class -> fast route (TLV, encoded source, sequence, timestamp_ns, trace) -> record; see above.
FAST_ROUTES: dict[type[Tlv], Callable[[Any, bytes, bytes, bytes, bytes], Encoded]] = {
    PoolSync: _fast_pool_sync,
    PoolSwap: _fast_pool_swap,
    Quote: _fast_quote,
    QuoteUpdate: _fast_quote,
    Trade: _fast_trade,
}
#: The topic of each hot TLV.
_HOT_TOPICS: dict[type[Tlv], str] = {
    PoolSync: "market.pool_sync",
    PoolSwap: "market.pool_swap",
    Quote: "market.quote",
    QuoteUpdate: "market.quote",
    Trade: "market.trade",
}
# The trace map {"relay_ns": ..., "bridge_in_ns": ..., "bridge_out_ns": ...} in Avro: count 3, key, value, ...,
# end of blocks. The keys' encodings are constants; relay_ns is the header timestamp already encoded.
_TRACE_HEAD = encode_long(3) + encode_string("relay_ns")
_TRACE_IN = encode_string("bridge_in_ns")
_TRACE_OUT = encode_string("bridge_out_ns")

# Shortcuts (Router.feed). The framer hands the router the bytes of every frame holding one hot TLV (start, end,
# header fields, stream offset) before building any object. PoolSync frames are collected (flows/bridge_batch.py)
# and encoded together when route() reaches them; the other hot TLVs are decoded and encoded by their fast route at
# once, all but the record's last bytes: the trace's bridge_out_ns and the map's end (trace is the last field of
# every hot schema). route() reads the clock for each of them in stream order, as it does for every frame, and
# completes the records. A shortcut that does not take a frame returns None, and the frame is decoded and routed
# as above; a frame route() finds it cannot finish that way (another domain, a long past Avro's range, a clock
# reading no Avro long holds) is decoded and routed the general way, with the reading it already took. So the
# output, the clock readings and the counters are those of route() over decoded frames.

#: Avro int of every u8 header source.
_SOURCES = [encode_int(i) for i in range(256)]
_VALUE = HEADER_SIZE + 2  # a standard TLV's value starts after its 2-byte header
_SYNC_PREFIX = codec("market.pool_sync").header


class Router:
    """Turn relay reads into records to produce: framed, routed, Avro-encoded, or dead letters.

    :meth:`feed` takes the bytes of one read (and :meth:`flush` ends a connection); :meth:`route` takes frames and
    dead ranges a framer has already made.

    Args:
        flow: flow name (in every dead letter).
        dlq_topic: where dead letters go.
        domain: the relay domain bridged; frames of other domains are dead letters.
        clock: ns since epoch, for the ``bridge_out_ns`` stamp.
        fast: take the fast path for the hot TLVs (FAST_ROUTES, and the framer's shortcuts in :meth:`feed`);
            False routes everything the general way, the reference the fast path is tested against (same output,
            byte for byte).
        policy: the framer's checksum policy (default: verify every non-zero checksum, as the bridge does).

    Attributes:
        frames: frames routed.
        dead: dead letters made, per stage (``frame``, ``route``, ``encode``).
        framer: the framer of :meth:`feed` (byte, frame and dead-range counters).
    """

    def __init__(
        self,
        flow: str,
        dlq_topic: str = "dlq.relay",
        domain: int = RelayDomain.MARKET_DATA,
        clock: Callable[[], int] = time.time_ns,
        *,
        fast: bool = True,
        policy: ChecksumPolicy | None = None,
    ) -> None:
        self.flow = flow
        self.dlq_topic = dlq_topic
        self.domain = int(domain)
        self.clock = clock
        self.fast = fast
        self.frames = 0
        self.dead: dict[str, int] = {"frame": 0, "route": 0, "encode": 0}
        self._encoders = {t: codec(t).encode for t in MARKET_TOPICS}
        self._dlq_encode = codec(dlq_topic).encode
        self.policy = policy or ChecksumPolicy.every()
        self._received_ns = 0
        self._trace_in: bytes | None = None  # the trace map's middle for the read being fed (see route)
        self._syncs = SyncBatch()  # PoolSync frames of the read being fed, encoded in route()
        self.framer = Framer(self.policy, shortcuts=self._shortcuts() if fast else None)

    def feed(self, data: bytes | bytearray | memoryview, received_ns: int) -> list[Encoded]:
        """Frame the bytes of one relay read and return every record and dead letter they complete, in order.

        Args:
            data: the bytes read (any chunking: a frame may span reads).
            received_ns: when the read returned, ns since epoch (``bridge_in_ns``, and ``received_ns`` of dead
                letters).
        """
        self._begin(received_ns)
        return self.route(self.framer.feed(data), received_ns)

    def flush(self, received_ns: int) -> list[Encoded]:
        """End of a connection (or of the flow): route what the framer holds; a cut frame is a dead letter."""
        self._begin(received_ns)
        return self.route(self.framer.flush(), received_ns)

    def _begin(self, received_ns: int) -> None:
        self._received_ns = received_ns
        self._syncs.reset()
        try:
            self._trace_in = _TRACE_IN + encode_long(received_ns) + _TRACE_OUT
        except Unsupported:
            self._trace_in = None  # shortcuts decline; route() and fastavro decide

    def route(self, items: Sequence[Frame | DeadFrame | Encoded], received_ns: int) -> list[Encoded]:
        """Return every record and dead letter for ``items`` (one relay read), in stream order.

        Args:
            items: frames and dead byte ranges, as :class:`~flows.relay.framing.Framer` returns them (and, from
                :meth:`feed`, what the router's shortcuts put in their place).
            received_ns: when the read that completed them returned, ns since epoch (``bridge_in_ns``).
        """
        out: list[Encoded] = []
        append, clock, domain = out.append, self.clock, self.domain
        try:
            # The trace map's middle, the same for every frame of the read: bridge_in_ns and the next key.
            trace_in: bytes | None = _TRACE_IN + encode_long(received_ns) + _TRACE_OUT
        except Unsupported:
            trace_in = None  # not a long: the general route (and fastavro) decide
        syncs = self._syncs
        if syncs.starts:
            rows = syncs.rows()
            routable = syncs.routable(rows, domain)
            if trace_in is not None and len(items) == len(rows) and bool(routable.all()):
                # The whole read is PoolSync frames this router encodes (a DEX relay's usual read): one batch.
                count = len(items)
                out = [None] * count  # type: ignore[list-item]
                stamps = [clock() for _ in range(count)]
                try:
                    self._finish_syncs(rows, [True] * count, stamps, list(range(count)), trace_in, out)
                finally:
                    self.frames += count
                    syncs.reset()
                return out
            batchable = routable.tolist() if trace_in is not None else [False] * len(rows)
            pending, stamps, slots = 0, [], []
        shortcut_frames = 0
        try:
            for item in items:
                if item is PENDING:
                    if batchable[pending]:
                        shortcut_frames += 1
                        stamps.append(clock())
                        slots.append(len(out))
                        append(None)  # type: ignore[arg-type]
                    else:
                        self._route_one(syncs.frame(pending, self.policy), received_ns, trace_in, out)
                    pending += 1
                elif type(item) is tuple:  # a shortcut's record, all but its bridge_out_ns
                    shortcut_frames += 1
                    topic, key, partial, location = item
                    out_ns = clock()
                    try:
                        append((topic, key, partial + encode_long(out_ns) + b"\x00"))
                    except Unsupported:
                        append(self._general_after_clock(location, out_ns))
                elif type(item) is Frame:
                    self._route_one(item, received_ns, trace_in, out)
                else:
                    dead: DeadFrame = item  # type: ignore[assignment]
                    append(self._dead("frame", "FrameError", dead.reason, dead.raw, dead.offset, received_ns))
            if syncs.starts and slots:
                self._finish_syncs(rows, batchable, stamps, slots, trace_in or b"", out)
        finally:
            self.frames += shortcut_frames
            syncs.reset()
        return out

    def _route_one(self, item: Frame, received_ns: int, trace_in: bytes | None, out: list[Encoded]) -> None:
        """Route one decoded frame: a dead letter for another domain, else the fast route or the general one."""
        self.frames += 1
        header = item.header
        if header.relay_domain != self.domain:
            reason = f"relay domain {header.relay_domain} frame on the domain {self.domain} relay"
            out.append(self._dead("route", "Unroutable", reason, item.raw, item.offset, received_ns))
            return
        out_ns = self.clock()
        tlvs = item.tlvs
        if len(tlvs) == 1 and trace_in is not None and self.fast:
            # One TLV per frame: nearly all market data. Anything the fast route does not take goes the general
            # way below, which then writes the record or the dead letter.
            tlv = tlvs[0]
            fast = FAST_ROUTES.get(type(tlv))
            if fast is not None:
                try:
                    ts = encode_long(header.timestamp)
                    trace = _TRACE_HEAD + ts + trace_in + encode_long(out_ns) + b"\x00"
                    out.append(fast(tlv, encode_int(header.source), encode_long(header.sequence), ts, trace))
                    return
                except Exception:  # the general route below decides, as it always did
                    pass
        self._route_general(item, received_ns, out_ns, out)

    def _finish_syncs(
        self, rows: Any, batchable: list[bool], stamps: list[int], slots: list[int], trace_in: bytes, out: list
    ) -> None:
        """Encode the batched PoolSync frames into their slots of ``out`` (a stamp past Avro's range: one by one)."""
        syncs = self._syncs
        indexes = [i for i, ok in enumerate(batchable) if ok]
        whole = [0 <= stamp <= LONG_MAX for stamp in stamps]
        if not all(whole):
            for index, stamp, slot in zip(indexes, stamps, slots, strict=True):
                if not 0 <= stamp <= LONG_MAX:
                    out[slot] = self._general_after_clock(syncs.location(index), stamp)
            indexes = [i for i, ok in zip(indexes, whole, strict=True) if ok]
            stamps = [s for s, ok in zip(stamps, whole, strict=True) if ok]
            slots = [s for s, ok in zip(slots, whole, strict=True) if ok]
            if not slots:
                return
        if len(indexes) != len(rows):
            rows = rows[indexes]
        records = syncs.encode(rows, _SYNC_PREFIX, _TRACE_HEAD, trace_in, stamps)
        if len(slots) == len(out):
            out[:] = records  # every record of the read is a batched one
        else:
            for slot, record in zip(slots, records, strict=True):
                out[slot] = record

    def _shortcuts(self) -> dict[int, tuple[int, Shortcut]]:
        """The framer's shortcuts: TLV type -> (value size, frame bytes -> what route() finishes, or None).

        A PoolSync frame is collected into the batch (:data:`~flows.bridge_batch.PENDING` in its place); any other
        hot TLV becomes ``(topic, key, value less bridge_out_ns and the trace's end, the frame's location)``, the
        location being what :meth:`_general_after_clock` needs when the clock reading cannot be encoded.
        """
        domain, sources, syncs = self.domain, _SOURCES, self._syncs

        def via_tlv(cls: type[Tlv]) -> Shortcut:
            decode, fast = cls.decode, FAST_ROUTES[cls]

            def shortcut(buf: bytes, start: int, end: int, fields: tuple, offset: int) -> tuple | None:
                trace_in = self._trace_in
                if fields[1] != domain or trace_in is None:
                    return None
                try:
                    ts = encode_long(fields[6])
                    tlv = decode(buf, start + _VALUE)
                    topic, key, partial = fast(
                        tlv, sources[fields[3]], encode_long(fields[5]), ts, _TRACE_HEAD + ts + trace_in
                    )
                except Exception:  # whatever the fast route does not take: decoded and routed by route()
                    return None
                return topic, key, partial, (buf, start, end, fields, offset)

            return shortcut

        table: dict[int, tuple[int, Shortcut]] = {}
        for cls, topic in _HOT_TOPICS.items():
            if cls.SIZE is None or codec(topic).schema["fields"][-1]["name"] != "trace":
                continue  # the stamp is appended last: only for schemas that end with the trace
            table[cls.TYPE] = (cls.SIZE, syncs.add if cls is PoolSync else via_tlv(cls))
        return table

    def _general_after_clock(self, location: tuple, out_ns: int) -> Encoded:
        """Route a frame (``(buf, start, end, header fields, stream offset)``) the general way with this reading."""
        buf, start, end, fields, offset = location
        frame = decode_checked(buf, start, end, fields, self.policy, offset - start)
        out: list[Encoded] = []
        self._route_general(frame, self._received_ns, out_ns, out)
        (record,) = out  # one routable TLV: its record or its encode dead letter
        return record

    def _route_general(self, item: Frame, received_ns: int, out_ns: int, out: list[Encoded]) -> None:
        """Route every TLV of a frame through ROUTES and the topics' encoders; append records and dead letters."""
        header = item.header
        trace = {"relay_ns": header.timestamp, "bridge_in_ns": received_ns, "bridge_out_ns": out_ns}
        encoders, routes = self._encoders, ROUTES
        unroutable = None
        for tlv in item.tlvs:
            route = routes.get(type(tlv))
            if route is None:
                if type(tlv) not in IGNORED:
                    unroutable = [*(unroutable or ()), tlv_label(tlv)]
                continue
            try:
                topic, key, rec = route(tlv, header, trace)
                out.append((topic, key.encode(), encoders[topic](rec)))
            except (PulsearbError, ValueError, TypeError, OverflowError) as exc:
                reason = f"{tlv_label(tlv)}: {(str(exc).splitlines() or [''])[0]}"
                out.append(self._dead("encode", type(exc).__name__, reason, item.raw, item.offset, received_ns))
        if unroutable:
            reason = f"no topic for TLV {', '.join(unroutable)}"
            out.append(self._dead("route", "Unroutable", reason, item.raw, item.offset, received_ns))

    def _dead(self, stage: str, error_class: str, reason: str, raw: bytes, offset: int, received_ns: int) -> Encoded:
        self.dead[stage] += 1
        rec = dead_letter(flow=self.flow, stage=stage, error=reason, raw=raw, received_ns=received_ns, offset=offset)
        rec["error_class"] = error_class
        return self.dlq_topic, None, self._dlq_encode(rec)
