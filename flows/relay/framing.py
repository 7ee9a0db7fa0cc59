"""Cut a relay byte stream into frames, whatever its chunking, and resynchronise after damage.

A relay delivers concatenated messages with no guaranteed boundaries (AlphaPulse's relays forward whatever one
``read()`` returned). The :class:`Framer` does what AlphaPulse's dashboard consumer does, plus accounting:
buffer; at the magic ``EF BE AD DE`` read the header; wait for ``32 + payload_size`` bytes; decode. Bytes that
cannot start a frame (no magic, unknown domain, payload_size above the domain limit) and candidates that fail to
decode become :class:`DeadFrame` values covering exactly those bytes, and scanning resumes at the next magic
after the bad start, so one damaged frame never swallows the good ones after it.

Accounting invariant, checked by the property tests::

    framer.bytes == sum(len(f.raw) for frames) + sum(len(d.raw) for dead) + 32 * framer.hellos (unless emitted)
                    + framer.pending

and every offset is absolute within the stream (the number of bytes fed before it).

Shortcuts. A caller that only wants something derived from the hot frames (the bridge: their Avro records) can give
the framer ``shortcuts``: TLV type -> (value size, function). A frame that holds exactly one standard TLV of such a
type and size, in version 1, whose checksum passes the policy without a mismatch, is handed to the function as
``(buf, start, end, header fields, stream offset)`` before any object is built; whatever non-None value it returns
is emitted in the frame's place (and counted as a frame). On None the frame is decoded as usual. A shortcut sees
only frames that :func:`~flows.relay.codec.decode_checked` decodes without error, so framing, resync and the
accounting above are the same with or without shortcuts (``tests/relay/test_framing.py`` holds that).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from base.errors import FrameError
from flows.relay.codec import DEFAULT_POLICY, ChecksumPolicy, Frame, decode_checked
from flows.relay.header import CHECKSUM_OFFSET, HEADER_SIZE, HEADER_STRUCT, MAGIC, MAGIC_BYTES, PROTOCOL_VERSION
from flows.relay.protocol import MAX_PAYLOAD
from flows.relay.tlv import UnknownTlv

#: Garbage longer than this is emitted as a DeadFrame at once instead of being held for merging.
MAX_DEAD_BYTES = 65536

_LIMITS = {int(d): limit for d, limit in MAX_PAYLOAD.items()}
_HEADER = HEADER_STRUCT.unpack_from  # the whole header, read once per frame and handed to decode_checked
_MAGIC_TAIL = len(MAGIC_BYTES) - 1  # bytes kept back when no magic is found: a magic may straddle chunks

#: A shortcut function: (buf, frame start, frame end, header fields, stream offset) -> item to emit, or None.
Shortcut = Callable[[bytes, int, int, tuple, int], Any]


@dataclass(frozen=True, slots=True)
class DeadFrame:
    """Stream bytes that are not a valid frame.

    Attributes:
        raw: the bytes, exactly as received.
        reason: one-line lower-case reason for the first problem in the range.
        offset: stream offset of ``raw[0]``.
    """

    raw: bytes
    reason: str
    offset: int


class Framer:
    """Incremental framer: feed chunks, get frames and dead byte ranges in stream order.

    Args:
        policy: checksum policy for decoding (default: verify the Execution domain only).
        emit_hellos: also return AlphaPulse's 32-byte zero-payload "hello" headers as frames (they are always
            counted; a relay forwards them, a consumer skips them).
        shortcuts: TLV type -> (value size, function) for the hot frames (see the module docstring); what a
            function returns is emitted instead of the decoded frame.

    Attributes:
        frames: frames returned.
        bytes: bytes fed.
        dead: DeadFrames returned.
        dead_bytes: bytes in those DeadFrames.
        hellos: hello headers seen.
        unknown_tlvs: UnknownTlv values in returned frames.
    """

    def __init__(
        self,
        policy: ChecksumPolicy | None = None,
        *,
        emit_hellos: bool = False,
        shortcuts: Mapping[int, tuple[int, Shortcut]] | None = None,
    ) -> None:
        self.policy = policy
        self.emit_hellos = emit_hellos
        self.shortcuts = dict(shortcuts or {})
        self.frames = 0
        self.bytes = 0
        self.dead = 0
        self.dead_bytes = 0
        self.hellos = 0
        self.unknown_tlvs = 0
        self._buf = bytearray()
        self._need = 0  # bytes self._buf must hold before draining it can make progress (0: drain on every feed)
        self._base = 0  # stream offset of self._buf[0]
        self._dead: bytearray | None = None  # garbage held back to merge with what follows
        self._dead_offset = 0
        self._dead_reason = ""

    @property
    def pending(self) -> int:
        """Bytes fed but not yet returned in a frame or DeadFrame (an incomplete tail, held garbage)."""
        return len(self._buf) + (len(self._dead) if self._dead is not None else 0)

    @property
    def offset(self) -> int:
        """Stream offset of the next byte to be fed."""
        return self.bytes

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Add a chunk; return the frames and dead ranges it completes (or shortcut items), in stream order."""
        self.bytes += len(data)
        if self._buf:
            self._buf += data
            if len(self._buf) < self._need:
                return []  # still inside the frame being waited for: appending is enough (no quadratic copying)
            buf = bytes(self._buf)
        else:
            buf = data if type(data) is bytes else bytes(data)
        out: list[Any] = []
        pos = self._drain(buf, out, final=False)
        self._base += pos
        self._buf = bytearray(buf[pos:]) if pos < len(buf) else bytearray()
        return out

    def flush(self) -> list[Any]:
        """End of stream (or of a connection): return what is left, an incomplete tail as a DeadFrame.

        Frames after a bogus header whose declared size runs past the end are still recovered. The framer can be
        fed again afterwards; offsets continue.
        """
        out: list[Any] = []
        buf = bytes(self._buf)
        pos = self._drain(buf, out, final=True)
        self._base += pos
        self._buf = bytearray()
        self._release_dead(out)
        return out

    def _drain(self, buf: bytes, out: list[Any], *, final: bool) -> int:
        """Frame as much of ``buf`` as possible into ``out``; return how many bytes were consumed."""
        pos = 0
        n = len(buf)
        policy, base = self.policy or DEFAULT_POLICY, self._base
        limits, emit_hellos, append = _LIMITS, self.emit_hellos, out.append
        shortcuts, checked, verify, allow_zero = self.shortcuts, policy.checked, policy.verify, policy.allow_zero
        crc32 = zlib.crc32
        frames = unknown = 0
        self._need = 0
        while pos < n:
            if n - pos < HEADER_SIZE:
                if not buf.startswith(MAGIC_BYTES, pos):
                    pos, found = self._skip_to_magic(buf, pos, out, final)
                    if not found:
                        break
                    continue
                if final:
                    self._hold_dead(buf, pos, n, f"truncated header: {n - pos} of {HEADER_SIZE} bytes", out)
                    pos = n
                else:
                    self._need = HEADER_SIZE
                break
            fields = _HEADER(buf, pos)
            magic, domain, version, _, _, sequence, _, size, checksum = fields
            if magic != MAGIC:
                pos, found = self._skip_to_magic(buf, pos, out, final)
                if not found:
                    break
                continue
            limit = limits.get(domain)
            if limit is None or size > limit:
                reason = (
                    f"unknown relay domain {domain}"
                    if limit is None
                    else f"payload_size {size} above the domain {domain} limit {limit}"
                )
                pos = self._skip_bad_start(buf, pos, reason, out, final)
                continue
            end = pos + HEADER_SIZE + size
            if end > n:
                if not final:
                    self._need = end - pos
                    break
                reason = f"truncated frame: {n - pos} of {end - pos} bytes"
                pos = self._skip_bad_start(buf, pos, reason, out, final)
                continue
            if shortcuts and size > 1 and version == PROTOCOL_VERSION and buf[pos + 33] == size - 2:
                # One standard TLV filling the payload: a shortcut's if its type has one of that size and the
                # checksum passes (a mismatch, or a 0 the policy refuses, goes the usual way and fails there).
                hot = shortcuts.get(buf[pos + 32])
                if (
                    hot is not None
                    and hot[0] == size - 2
                    and (
                        domain not in checked
                        or (
                            crc32(buf[pos + HEADER_SIZE : end], crc32(buf[pos : pos + CHECKSUM_OFFSET])) == checksum
                            if checksum
                            else allow_zero or domain not in verify
                        )
                    )
                ):
                    item = hot[1](buf, pos, end, fields, base + pos)
                    if item is not None:
                        if self._dead is not None:
                            self._release_dead(out)
                        pos = end
                        frames += 1
                        append(item)
                        continue
            try:
                # decode_frame less the header checks just made (the header is not read twice).
                frame = decode_checked(buf, pos, end, fields, policy, base)
            except FrameError as exc:
                pos = self._skip_bad_start(buf, pos, exc.reason, out, final)
                continue
            if self._dead is not None:
                self._release_dead(out)
            pos = end
            if size == 0 and sequence == 0:
                self.hellos += 1
                if not emit_hellos:
                    continue
            frames += 1
            tlvs = frame.tlvs
            if len(tlvs) != 1 or type(tlvs[0]) is UnknownTlv:
                for tlv in tlvs:
                    if type(tlv) is UnknownTlv:
                        unknown += 1
            append(frame)
        self.frames += frames
        self.unknown_tlvs += unknown
        return pos

    def _skip_to_magic(
        self, buf: bytes | bytearray, pos: int, out: list[Frame | DeadFrame], final: bool
    ) -> tuple[int, bool]:
        """Mark the bytes before the next magic dead; return (where to resume, whether a magic was found)."""
        n = len(buf)
        nxt = buf.find(MAGIC_BYTES, pos + 1)
        # Without a magic in sight, keep back a possible partial magic unless the stream is over.
        stop = nxt if nxt >= 0 else (n if final else max(pos, n - _MAGIC_TAIL))
        if stop > pos:
            self._hold_dead(buf, pos, stop, "no magic", out)
        return stop, nxt >= 0

    def _skip_bad_start(
        self, buf: bytes | bytearray, pos: int, reason: str, out: list[Frame | DeadFrame], final: bool
    ) -> int:
        """Mark a bad frame start dead up to the next magic after it; return where scanning resumes."""
        nxt = buf.find(MAGIC_BYTES, pos + 1)
        stop = nxt if nxt >= 0 else (len(buf) if final else max(pos + 1, len(buf) - _MAGIC_TAIL))
        self._hold_dead(buf, pos, stop, reason, out)
        return stop

    def _hold_dead(
        self, buf: bytes | bytearray, start: int, stop: int, reason: str, out: list[Frame | DeadFrame]
    ) -> None:
        """Add ``buf[start:stop]`` to the held dead range (adjacent garbage merges into one DeadFrame)."""
        if self._dead is None:
            self._dead = bytearray()
            self._dead_offset = self._base + start
            self._dead_reason = reason
        self._dead += buf[start:stop]
        if len(self._dead) >= MAX_DEAD_BYTES:
            self._release_dead(out)

    def _release_dead(self, out: list[Frame | DeadFrame]) -> None:
        if self._dead is None:
            return
        dead = DeadFrame(bytes(self._dead), self._dead_reason, self._dead_offset)
        self._dead = None
        self.dead += 1
        self.dead_bytes += len(dead.raw)
        out.append(dead)
