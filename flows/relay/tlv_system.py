"""System TLVs: Heartbeat (100), StateInvalidation (106) and pulsearb's relay subscription request, Subscribe
(vendor 250).

AlphaPulse registers Heartbeat as fixed 16 bytes without a struct; pulsearb's layout is
``@0 timestamp_ns u64 · @8 sequence u64``. StateInvalidation is AlphaPulse's ``StateInvalidationTLV`` (224 bytes,
``services_v2/adapters/src/input/state_manager.rs``). Subscribe is pulsearb's own (docs/protocol.md,
"Subscriptions").
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from flows.relay.address import to_bytes
from flows.relay.fastbuild import fast_builder
from flows.relay.protocol import InstrumentId
from flows.relay.tlv_base import Buffer, Tlv

_HEARTBEAT = struct.Struct("<QQ")
_INVALIDATION = struct.Struct("<QQH6x192sHB5x")
MAX_INVALIDATED = 16
_SUB_HEAD = struct.Struct("<BBBB")

SUBSCRIBE_VERSION = 1
MAX_SUBSCRIBE_ITEMS = 255


@dataclass(frozen=True, slots=True)
class Heartbeat(Tlv):
    """A liveness beat (type 100, 16 bytes).

    Attributes:
        timestamp_ns: when the beat was sent, ns since epoch.
        sequence: the sender's beat counter.
    """

    TYPE: ClassVar[int] = 100
    NAME: ClassVar[str] = "Heartbeat"
    SIZE: ClassVar[int] = 16
    KINDS: ClassVar[dict[str, str]] = {"timestamp_ns": "u64", "sequence": "u64"}

    timestamp_ns: int
    sequence: int

    def encode(self) -> bytes:
        """Return the 16 value bytes."""
        return _HEARTBEAT.pack(self.timestamp_ns, self.sequence)

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> Heartbeat:
        """Read 16 value bytes at ``offset``."""
        return _make_heartbeat(*_HEARTBEAT.unpack_from(buf, offset))


@dataclass(frozen=True, slots=True)
class StateInvalidation(Tlv):
    """An adapter's state of some instruments (none listed: of the whole venue) is no longer valid (type 106,
    224 bytes).

    Wire layout: @0 sequence u64 · @8 timestamp_ns u64 · @16 ``FixedVec<InstrumentId, 16>`` (count u16, 6 padding
    bytes, 16 slots of 12 bytes: asset_id u64, venue u16, asset_type u8, reserved u8) · @216 venue u16 · @218
    reason u8 · @219 5 padding bytes.

    Attributes:
        sequence: the adapter's sequence.
        timestamp_ns: ns since epoch.
        instruments: the instruments, each as its lossless ``InstrumentId.cache_key()`` (at most 16).
        venue: VenueId.
        reason: StateInvalidationReason.
    """

    TYPE: ClassVar[int] = 106
    NAME: ClassVar[str] = "StateInvalidation"
    SIZE: ClassVar[int] = 224
    KINDS: ClassVar[dict[str, str]] = {
        "sequence": "u64",
        "timestamp_ns": "u64",
        "instruments": f"u96[{MAX_INVALIDATED}]",
        "venue": "u16",
        "reason": "u8",
    }

    sequence: int
    timestamp_ns: int
    instruments: tuple[int, ...]
    venue: int
    reason: int

    def encode(self) -> bytes:
        """Return the 224 value bytes (unused instrument slots zeroed)."""
        if len(self.instruments) > MAX_INVALIDATED:
            msg = f"{len(self.instruments)} instruments, at most {MAX_INVALIDATED}"
            raise ValueError(msg)
        slots = b"".join(InstrumentId.from_cache_key(k).pack() for k in self.instruments)
        return _INVALIDATION.pack(
            self.sequence, self.timestamp_ns, len(self.instruments), slots, self.venue, self.reason
        )

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> StateInvalidation:
        """Read 224 value bytes at ``offset``.

        Raises:
            ValueError: the instrument count is above 16.
        """
        sequence, ts, count, slots, venue, reason = _INVALIDATION.unpack_from(buf, offset)
        if count > MAX_INVALIDATED:
            msg = f"instruments count {count} above capacity {MAX_INVALIDATED}"
            raise ValueError(msg)
        keys = tuple(InstrumentId.unpack(slots, 12 * i).cache_key() for i in range(count))
        return cls(sequence, ts, keys, venue, reason)


@dataclass(frozen=True, slots=True)
class Subscribe(Tlv):
    """A relay client's filter request (vendor type 250, 4 + n + 2v + 20p bytes), sent in a System-domain
    frame.

    Layout: @0 version u8 (1) · @1 n u8 · @2 v u8 · @3 p u8 · n TLV type bytes · v venues (u16 LE) ·
    p pool addresses (20 bytes each). An empty list does not filter on that dimension; a frame matches when
    one of its TLVs passes every non-empty list (see :mod:`flows.relay.subscription`).

    Attributes:
        tlv_types: TLV type numbers wanted.
        venues: VenueId numbers wanted (matched against a TLV's venue, venue_id, source_venue or
            target_venue).
        pools: pool addresses wanted (matched against pool_address, source_pool, target_pool or pools).
    """

    TYPE: ClassVar[int] = 250
    NAME: ClassVar[str] = "Subscribe"
    SIZE: ClassVar[int | None] = None
    MIN_SIZE: ClassVar[int] = 4
    MAX_SIZE: ClassVar[int] = 4 + MAX_SUBSCRIBE_ITEMS * (1 + 2 + 20)
    KINDS: ClassVar[dict[str, str]] = {
        "tlv_types": f"u8[{MAX_SUBSCRIBE_ITEMS}]",
        "venues": f"u16[{MAX_SUBSCRIBE_ITEMS}]",
        "pools": f"address[{MAX_SUBSCRIBE_ITEMS}]",
    }

    tlv_types: tuple[int, ...] = ()
    venues: tuple[int, ...] = ()
    pools: tuple[str, ...] = ()

    def encode(self) -> bytes:
        """Return the value bytes."""
        n, v, p = len(self.tlv_types), len(self.venues), len(self.pools)
        if max(n, v, p) > MAX_SUBSCRIBE_ITEMS:
            msg = f"at most {MAX_SUBSCRIBE_ITEMS} items per list"
            raise ValueError(msg)
        return b"".join(
            (
                _SUB_HEAD.pack(SUBSCRIBE_VERSION, n, v, p),
                bytes(self.tlv_types),
                struct.pack(f"<{v}H", *self.venues),
                *(to_bytes(a) for a in self.pools),
            )
        )

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> Subscribe:
        """Read a value of ``length`` bytes at ``offset`` (default: to the end of ``buf``).

        Raises:
            ValueError: unknown version, or a length that disagrees with the counts.
        """
        if length is None:
            length = len(buf) - offset
        if length < _SUB_HEAD.size:
            msg = f"length {length} below the 4-byte head"
            raise ValueError(msg)
        version, n, v, p = _SUB_HEAD.unpack_from(buf, offset)
        if version != SUBSCRIBE_VERSION:
            msg = f"subscribe version {version}, expected {SUBSCRIBE_VERSION}"
            raise ValueError(msg)
        if length != 4 + n + 2 * v + 20 * p:
            msg = f"length {length} does not fit {n} types, {v} venues, {p} pools"
            raise ValueError(msg)
        raw = bytes(memoryview(buf)[offset + 4 : offset + length])
        types = tuple(raw[:n])
        venues = struct.unpack_from(f"<{v}H", raw, n)
        start = n + 2 * v
        pools = tuple("0x" + raw[start + 20 * i : start + 20 * (i + 1)].hex() for i in range(p))
        return cls(types, venues, pools)


_make_heartbeat = fast_builder(Heartbeat)
