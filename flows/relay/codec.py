"""Encode and decode whole Protocol V2 frames: 32-byte header + TLV payload. Pure, no I/O.

TLV framing (``libs/codec/src/builder.rs``, ``parser.rs``): a value of at most 255 bytes is written
``[type u8][length u8][value]``; a longer one ``[255][0][type u8][length u16 LE][value]``; TLVs follow each
other with no padding. Decoding walks them all: a known type whose length differs from its real size is an
error, an unknown type is kept as :class:`~flows.relay.tlv.UnknownTlv` (never an error), and a frame whose
version byte is not 1 keeps every TLV raw, since a new version may change a known layout.

Example:
    >>> from flows.relay.tlv import Heartbeat
    >>> raw = encode_frame(4, 80, [Heartbeat(timestamp_ns=5, sequence=1)], sequence=1, timestamp_ns=5)
    >>> decode_frame(raw).tlvs
    (Heartbeat(timestamp_ns=5, sequence=1),)
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from base.errors import FrameError
from flows.relay.fastbuild import fast_builder
from flows.relay.header import (
    CHECKSUM_OFFSET,
    HEADER_SIZE,
    HEADER_STRUCT,
    MAGIC,
    PROTOCOL_VERSION,
    Header,
    make_header,
)
from flows.relay.protocol import MAX_PAYLOAD, RelayDomain
from flows.relay.tlv import TLV_CLASSES, Tlv, UnknownTlv

T = TypeVar("T", bound=Tlv)

_EXT_HEAD = struct.Struct("<BBBH")
_EXTENDED = 255
_MAX_TLV_VALUE = 65535


@dataclass(frozen=True, slots=True)
class ChecksumPolicy:
    """Which relay domains have their CRC32 verified on decode.

    AlphaPulse's hot-path builders write checksum 0 and its relays never verify; its dashboard verifies
    Execution and System, its relay configs ask for Signal and Execution. pulsearb's default verifies
    Execution only.

    Attributes:
        verify: domains whose checksum is checked; a mismatch is a :class:`~base.errors.FrameError`.
        allow_zero: accept checksum 0 ("not computed") unchecked even in verified domains.
        report_all: also compute ``Frame.checksum_ok`` in unverified domains (a mismatch is then only
            reported).
    """

    verify: frozenset[int] = frozenset({RelayDomain.EXECUTION})
    allow_zero: bool = True
    report_all: bool = False
    checked: frozenset[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Domains whose checksum is looked at at all, so decode pays one set lookup when nothing is checked.
        checked = frozenset(int(d) for d in RelayDomain) if self.report_all else frozenset(map(int, self.verify))
        object.__setattr__(self, "checked", checked)

    @classmethod
    def none(cls) -> ChecksumPolicy:
        """Verify nothing (AlphaPulse's relays)."""
        return cls(frozenset())

    @classmethod
    def every(cls, *, allow_zero: bool = True) -> ChecksumPolicy:
        """Verify every domain."""
        return cls(frozenset(RelayDomain), allow_zero=allow_zero)

    @classmethod
    def parse(cls, text: str) -> ChecksumPolicy:
        """Build a policy from ``"all"``, ``"none"`` or a comma list of domain names or numbers.

        Example:
            >>> sorted(ChecksumPolicy.parse("signal,execution").verify)
            [2, 3]

        Raises:
            ValueError: an unknown domain name.
        """
        text = text.strip().lower()
        if text == "all":
            return cls.every()
        if text in ("none", ""):
            return cls.none()
        domains = set()
        for item in text.split(","):
            name = item.strip().replace("-", "_")
            try:
                domains.add(RelayDomain(int(name)) if name.isdigit() else RelayDomain[name.upper()])
            except (KeyError, ValueError):
                choices = ", ".join(d.name.lower() for d in RelayDomain)
                msg = f"unknown relay domain {item!r}: use all, none, or a comma list of {choices}"
                raise ValueError(msg) from None
        return cls(frozenset(domains))


DEFAULT_POLICY = ChecksumPolicy()


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded message.

    Attributes:
        header: the decoded header.
        tlvs: the TLVs in wire order.
        raw: the whole message, header included, exactly as received.
        checksum_ok: True or False when the CRC was checked, None when it was not (policy, or checksum 0).
        offset: byte offset of the frame in its stream (0 for a lone buffer); not part of equality.
    """

    header: Header
    tlvs: tuple[Tlv, ...]
    raw: bytes
    checksum_ok: bool | None
    offset: int = field(default=0, compare=False)

    def find(self, cls: type[T]) -> T | None:
        """Return the first TLV of class ``cls``, or None (AlphaPulse's ``find_tlv_by_type``)."""
        for tlv in self.tlvs:
            if type(tlv) is cls:
                return tlv  # type: ignore[return-value]
        return None


_make_frame = fast_builder(Frame)
_LIMITS = {int(domain): limit for domain, limit in MAX_PAYLOAD.items()}
_unpack_header = HEADER_STRUCT.unpack_from
# Known fixed-size types that fit a standard TLV: type -> (value size, decoder).
_FAST = {t: (cls.SIZE, cls.decode) for t, cls in TLV_CLASSES.items() if cls.SIZE is not None and cls.SIZE <= 255}


def decode_frame(
    buf: bytes | bytearray | memoryview,
    *,
    offset: int = 0,
    policy: ChecksumPolicy | None = None,
    base: int = 0,
) -> Frame:
    """Decode the frame starting at ``offset`` of ``buf``; bytes after it are ignored.

    Args:
        buf: bytes holding at least one whole frame from ``offset``.
        offset: where the frame starts in ``buf``.
        policy: checksum policy; default verifies the Execution domain only.
        base: stream offset of ``buf[0]`` when ``buf`` is a window on a longer stream; ``Frame.offset`` and
            error offsets are ``base + offset``.

    Returns:
        The frame.

    Raises:
        FrameError: bad magic, unknown relay domain, payload_size above the domain limit, truncated frame,
            checksum mismatch (where the policy verifies), or a malformed TLV; its offset is the frame's.
    """
    try:
        fields = _unpack_header(buf, offset)
    except struct.error:
        msg = f"truncated header: {max(len(buf) - offset, 0)} of {HEADER_SIZE} bytes"
        raise FrameError(msg, base + offset) from None
    magic, domain, version, _, _, _, _, size, checksum = fields
    end = offset + HEADER_SIZE + size
    if magic != MAGIC or size > _LIMITS.get(domain, -1) or len(buf) < end:
        raise _header_error(buf, offset, base, fields)
    # From here on decode_checked's body, kept inline: a call more costs 4% of a PoolSync frame's decode. Its
    # fast path: one standard TLV of a known fixed size filling the payload (nearly every market-data frame).
    raw = buf if offset == 0 and type(buf) is bytes and len(buf) == end else bytes(buf[offset:end])
    if policy is None:
        policy = DEFAULT_POLICY
    checksum_ok = _check(raw, domain, checksum, policy, base + offset) if domain in policy.checked else None
    if size > 1 and version == PROTOCOL_VERSION:
        fast = _FAST.get(raw[32])
        if fast is not None and fast[0] == size - 2 == raw[33]:
            try:
                tlvs: tuple[Tlv, ...] = (fast[1](raw, 34),)
            except (ValueError, struct.error) as exc:
                msg = f"tlv type {raw[32]} at byte 32: {exc}"
                raise FrameError(msg, base + offset) from None
        else:
            tlvs = _walk(raw, version, base + offset)
    elif size:
        tlvs = _walk(raw, version, base + offset)
    else:
        tlvs = ()
    return _make_frame(make_header(*fields), tlvs, raw, checksum_ok, base + offset)


def decode_checked(
    buf: bytes | bytearray | memoryview, offset: int, end: int, fields: tuple, policy: ChecksumPolicy, base: int
) -> Frame:
    """Decode the frame at ``buf[offset:end]`` whose header fields ``fields`` the caller has unpacked and checked.

    The second half of :func:`decode_frame` (checksum, TLVs, objects), for a caller that has already read the
    header and checked its magic, domain limit and that ``end = offset + 32 + payload_size`` is within ``buf``:
    the framer, which reads every header anyway. The result, and the FrameError raised, are decode_frame's
    (tests/relay/test_codec.py compares the two over generated frames, good and bad).
    """
    _, domain, version, _, _, _, _, size, checksum = fields
    raw = buf if offset == 0 and type(buf) is bytes and len(buf) == end else bytes(buf[offset:end])
    checksum_ok = _check(raw, domain, checksum, policy, base + offset) if domain in policy.checked else None

    # Fast path: one standard TLV of a known fixed size filling the payload (nearly every market-data frame).
    if size > 1 and version == PROTOCOL_VERSION:
        fast = _FAST.get(raw[32])
        if fast is not None and fast[0] == size - 2 == raw[33]:
            try:
                tlvs: tuple[Tlv, ...] = (fast[1](raw, 34),)
            except (ValueError, struct.error) as exc:
                msg = f"tlv type {raw[32]} at byte 32: {exc}"
                raise FrameError(msg, base + offset) from None
        else:
            tlvs = _walk(raw, version, base + offset)
    elif size:
        tlvs = _walk(raw, version, base + offset)
    else:
        tlvs = ()
    return _make_frame(make_header(*fields), tlvs, raw, checksum_ok, base + offset)


def _header_error(buf: bytes | bytearray | memoryview, offset: int, base: int, fields: tuple) -> FrameError:
    magic, domain, _, _, _, _, _, size, _ = fields
    limit = _LIMITS.get(domain)
    if magic != MAGIC:
        reason = f"bad magic 0x{magic:08x}"
    elif limit is None:
        reason = f"unknown relay domain {domain}"
    elif size > limit:
        reason = f"payload_size {size} above the domain {domain} limit {limit}"
    else:
        reason = f"truncated frame: {len(buf) - offset} of {HEADER_SIZE + size} bytes"
    return FrameError(reason, base + offset)


def _check(raw: bytes, domain: int, checksum: int, policy: ChecksumPolicy, stream_offset: int) -> bool | None:
    """Return checksum_ok for a frame in a checked domain; raise where the policy verifies and it fails."""
    if not checksum:
        if domain in policy.verify and not policy.allow_zero:
            msg = "checksum missing (0) in a verified domain"
            raise FrameError(msg, stream_offset)
        return None
    computed = zlib.crc32(raw[HEADER_SIZE:], zlib.crc32(raw[:CHECKSUM_OFFSET]))
    if computed != checksum and domain in policy.verify:
        msg = f"checksum mismatch: 0x{checksum:08x} on the wire, 0x{computed:08x} computed"
        raise FrameError(msg, stream_offset)
    return computed == checksum


def _walk(raw: bytes, version: int, stream_offset: int) -> tuple[Tlv, ...]:
    end = len(raw)
    pos = HEADER_SIZE
    out: list[Tlv] = []
    while pos < end:
        if pos + 2 > end:
            msg = f"truncated tlv header at byte {pos}"
            raise FrameError(msg, stream_offset)
        tlv_type = raw[pos]
        if tlv_type == _EXTENDED:
            if pos + 5 > end:
                msg = f"truncated extended tlv header at byte {pos}"
                raise FrameError(msg, stream_offset)
            if raw[pos + 1] != 0:
                msg = f"extended tlv reserved byte 0x{raw[pos + 1]:02x} at byte {pos}"
                raise FrameError(msg, stream_offset)
            _, _, tlv_type, length = _EXT_HEAD.unpack_from(raw, pos)
            start = pos + 5
        else:
            length = raw[pos + 1]
            start = pos + 2
        stop = start + length
        if stop > end:
            msg = f"tlv type {tlv_type} length {length} overruns the payload at byte {pos}"
            raise FrameError(msg, stream_offset)
        cls = TLV_CLASSES.get(tlv_type) if version == PROTOCOL_VERSION else None
        if cls is None:
            out.append(UnknownTlv(tlv_type, raw[start:stop]))
        else:
            out.append(_decode_known(cls, raw, start, length, pos, stream_offset))
        pos = stop
    return tuple(out)


def _decode_known(cls: type[Tlv], raw: bytes, start: int, length: int, pos: int, stream_offset: int) -> Tlv:
    if cls.SIZE is not None:
        if length != cls.SIZE:
            msg = f"tlv {cls.NAME} ({cls.TYPE}) length {length}, expected {cls.SIZE} at byte {pos}"
            raise FrameError(msg, stream_offset)
    elif not cls.MIN_SIZE <= length <= cls.MAX_SIZE:
        bounds = f"{cls.MIN_SIZE}..{cls.MAX_SIZE}"
        msg = f"tlv {cls.NAME} ({cls.TYPE}) length {length} outside {bounds} at byte {pos}"
        raise FrameError(msg, stream_offset)
    try:
        return cls.decode(raw, start, length)
    except (ValueError, struct.error) as exc:
        msg = f"tlv {cls.NAME} ({cls.TYPE}) at byte {pos}: {exc}"
        raise FrameError(msg, stream_offset) from None


def encode_tlvs(tlvs: Iterable[Tlv]) -> bytes:
    """Return the TLV payload for ``tlvs``: standard headers up to 255 value bytes, extended above.

    Raises:
        FrameError: a value cannot be encoded (field out of range, bad address, over 65535 bytes).
    """
    parts: list[bytes] = []
    for tlv in tlvs:
        try:
            value = tlv.encode()
        except (ValueError, TypeError, AttributeError, struct.error) as exc:
            problems = tlv.problems() if isinstance(tlv, Tlv) else []
            reason = "; ".join(problems) if problems else str(exc)
            msg = f"cannot encode {getattr(tlv, 'NAME', type(tlv).__name__)}: {reason}"
            raise FrameError(msg) from exc
        tlv_type = tlv.wire_type
        if type(tlv_type) is not int or not 0 <= tlv_type < _EXTENDED:
            msg = f"cannot encode tlv type {tlv_type!r}: types are 0..254"
            raise FrameError(msg)
        n = len(value)
        if n <= 255:
            parts.append(bytes((tlv_type, n)))
        elif n <= _MAX_TLV_VALUE:
            parts.append(_EXT_HEAD.pack(_EXTENDED, 0, tlv_type, n))
        else:
            msg = f"cannot encode tlv type {tlv_type}: value of {n} bytes above {_MAX_TLV_VALUE}"
            raise FrameError(msg)
        parts.append(value)
    return b"".join(parts)


def encode_frame(
    domain: RelayDomain | int,
    source: int,
    tlvs: Sequence[Tlv],
    *,
    sequence: int,
    timestamp_ns: int,
    flags: int = 0,
    checksum: bool = True,
    version: int = PROTOCOL_VERSION,
) -> bytes:
    """Build one message: header, then ``tlvs`` in order.

    Args:
        domain: relay domain (1..4).
        source: producer, a SourceType number.
        tlvs: values to carry, in order.
        sequence: per-source sequence number (u64).
        timestamp_ns: build time, ns since epoch (u64).
        flags: header flags byte.
        checksum: write the CRC32 (True) or 0, as AlphaPulse's hot-path builders do (False).
        version: header version byte; leave at 1 unless re-encoding a frame of another version.

    Returns:
        The message bytes.

    Raises:
        FrameError: unknown domain, payload above the domain limit, a header field out of range, or a TLV
            that cannot be encoded.
    """
    limit = MAX_PAYLOAD.get(domain)
    if limit is None:
        msg = f"cannot encode frame: unknown relay domain {domain!r} (use 1..4)"
        raise FrameError(msg)
    payload = encode_tlvs(tlvs)
    if len(payload) > limit:
        msg = f"cannot encode frame: payload of {len(payload)} bytes above the domain {domain} limit {limit}"
        raise FrameError(msg)
    try:
        size = len(payload)
        head = HEADER_STRUCT.pack(MAGIC, domain, version, source, flags, sequence, timestamp_ns, size, 0)
    except struct.error as exc:
        msg = f"cannot encode header: {exc} (source, flags, version are u8; sequence, timestamp u64)"
        raise FrameError(msg) from None
    if not checksum:
        return head + payload
    crc = zlib.crc32(payload, zlib.crc32(head[:28]))
    return head[:28] + crc.to_bytes(4, "little") + payload
