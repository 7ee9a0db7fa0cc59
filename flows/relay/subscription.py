"""pulsearb's relay subscription extension: which frames a subscribed client receives.

A legacy AlphaPulse client never sends a Subscribe TLV and receives every frame of the socket's domain, exactly as
from AlphaPulse's relay. A client that sends a System-domain frame (domain 4) carrying a Subscribe TLV (type 250)
receives only the frames with at least one TLV passing every non-empty filter list:

- ``tlv_types``: the TLV's type number is listed;
- ``venues``: the TLV's ``venue``, ``venue_id``, ``source_venue`` or ``target_venue`` is listed;
- ``pools``: the TLV's ``pool_address``, ``source_pool``, ``target_pool`` or one of its ``pools`` is listed.

A later Subscribe replaces the filter; one with three empty lists means "everything" again. The Subscribe frame
itself is consumed by the relay, never forwarded. Legacy relays drop it (its domain does not match theirs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flows.relay.address import normalize
from flows.relay.codec import Frame, encode_frame
from flows.relay.protocol import RelayDomain, SourceType
from flows.relay.tlv import Subscribe, Tlv

_VENUE_FIELDS = ("venue", "venue_id", "source_venue", "target_venue")
_POOL_FIELDS = ("pool_address", "source_pool", "target_pool")


@dataclass(frozen=True, slots=True)
class Subscription:
    """A client's filter, built from its Subscribe TLV (empty set: no filtering on that dimension).

    Attributes:
        tlv_types: wanted TLV type numbers.
        venues: wanted VenueId numbers.
        pools: wanted pool addresses, lower-case ``0x`` hex.
    """

    tlv_types: frozenset[int] = frozenset()
    venues: frozenset[int] = frozenset()
    pools: frozenset[str] = frozenset()

    @classmethod
    def from_tlv(cls, tlv: Subscribe) -> Subscription:
        """Build the filter a Subscribe TLV asks for."""
        return cls(frozenset(tlv.tlv_types), frozenset(tlv.venues), frozenset(normalize(p) for p in tlv.pools))

    @property
    def everything(self) -> bool:
        """True when no dimension filters."""
        return not (self.tlv_types or self.venues or self.pools)

    def matches(self, frame: Frame) -> bool:
        """Return whether ``frame`` passes: some TLV satisfies every non-empty list."""
        if self.everything:
            return True
        return any(self._tlv_matches(t) for t in frame.tlvs)

    def _tlv_matches(self, tlv: Tlv) -> bool:
        if self.tlv_types and tlv.wire_type not in self.tlv_types:
            return False
        if self.venues and not any(getattr(tlv, f, None) in self.venues for f in _VENUE_FIELDS):
            return False
        if self.pools:
            found = {getattr(tlv, f, None) for f in _POOL_FIELDS} | set(getattr(tlv, "pools", ()))
            if not found & self.pools:
                return False
        return True


def subscription_of(frame: Frame) -> Subscription | None:
    """Return the subscription a frame requests, or None if it is not a System-domain Subscribe frame."""
    if frame.header.relay_domain != RelayDomain.SYSTEM:
        return None
    tlv = frame.find(Subscribe)
    return Subscription.from_tlv(tlv) if tlv is not None else None


def subscribe_frame(
    tlv_types: tuple[int, ...] = (),
    venues: tuple[int, ...] = (),
    pools: tuple[str, ...] = (),
    *,
    source: int = SourceType.DASHBOARD,
    sequence: int = 0,
    timestamp_ns: int | None = None,
) -> bytes:
    """Return the System-domain frame a client sends to subscribe (empty lists: everything).

    Example:
        >>> from flows.relay.codec import decode_frame
        >>> subscription_of(decode_frame(subscribe_frame(tlv_types=(16,)))).tlv_types
        frozenset({16})
    """
    tlv = Subscribe(tuple(tlv_types), tuple(venues), tuple(normalize(p) for p in pools))
    ts = time.time_ns() if timestamp_ns is None else timestamp_ns
    return encode_frame(RelayDomain.SYSTEM, source, [tlv], sequence=sequence, timestamp_ns=ts)
