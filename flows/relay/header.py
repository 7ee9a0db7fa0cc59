"""The 32-byte Protocol V2 message header and its CRC32.

Layout (``backend_v2/libs/types/src/protocol/message/header.rs``, little-endian, no padding)::

    @0 magic u32 (0xDEADBEEF, wire EF BE AD DE) · @4 relay_domain u8 · @5 version u8 · @6 source u8 · @7
    flags u8 @8 sequence u64 · @16 timestamp u64 (ns since epoch) · @24 payload_size u32 · @28 checksum u32

The checksum is IEEE CRC-32 (``zlib.crc32``) over every byte of the message except the checksum field itself:
``crc32(msg[:28] + msg[32:])``. Hot-path AlphaPulse builders write 0 there, which means "not computed".
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from flows.relay.fastbuild import fast_builder

MAGIC = 0xDEADBEEF
MAGIC_BYTES = b"\xef\xbe\xad\xde"
HEADER_SIZE = 32
PROTOCOL_VERSION = 1  # AlphaPulse calls the protocol "V2" but writes version byte 1
HEADER_STRUCT = struct.Struct("<IBBBBQQII")
CHECKSUM_OFFSET = 28


@dataclass(frozen=True, slots=True)
class Header:
    """A decoded message header; field names are AlphaPulse's ``MessageHeader`` fields.

    Attributes:
        magic: always :data:`MAGIC` once decoded.
        relay_domain: 1 market data, 2 signal, 3 execution, 4 system
            (:class:`~flows.relay.protocol.RelayDomain`).
        version: protocol version byte (1).
        source: producer, a :class:`~flows.relay.protocol.SourceType` number.
        flags: producer flags; AlphaPulse defines no bit.
        sequence: per-source sequence number.
        timestamp: ns since the Unix epoch when the message was built.
        payload_size: bytes of TLV data after the header.
        checksum: CRC32 as found on the wire (0 = not computed).
    """

    magic: int
    relay_domain: int
    version: int
    source: int
    flags: int
    sequence: int
    timestamp: int
    payload_size: int
    checksum: int

    def pack(self) -> bytes:
        """Return the 32 header bytes exactly as stored (the checksum is not recomputed)."""
        return HEADER_STRUCT.pack(
            self.magic,
            self.relay_domain,
            self.version,
            self.source,
            self.flags,
            self.sequence,
            self.timestamp,
            self.payload_size,
            self.checksum,
        )

    @classmethod
    def unpack(cls, buf: bytes | bytearray | memoryview, offset: int = 0) -> Header:
        """Read a header at ``offset`` without any validation (see :func:`flows.relay.codec.decode_frame`)."""
        return make_header(*HEADER_STRUCT.unpack_from(buf, offset))


#: Positional constructor of :class:`Header` for the decode hot path (see :mod:`flows.relay.fastbuild`).
make_header = fast_builder(Header)


def compute_checksum(message: bytes | bytearray | memoryview) -> int:
    """Return the CRC32 of a whole message (header and payload), skipping the checksum field."""
    view = memoryview(message)
    return zlib.crc32(view[HEADER_SIZE:], zlib.crc32(view[:CHECKSUM_OFFSET]))
