"""pulsearb's capture file: relay traffic with receive times, for replay and for test fixtures.

Format (little-endian)::

    file header  16 bytes: magic b"PARBCAP1" · start_ns u64 (wall clock when the capture began, 0 if unknown)
    record       12 + len bytes: recv_ns u64 (wall clock, ns since epoch) · len u32 · data[len]

A record's data is what the relay delivered as one unit: a whole Protocol V2 frame, or a dead byte range the
recorder could not frame (kept so a replay reproduces the stream byte for byte). Records are in receive order.
A recorder killed mid-write leaves a partial last record; readers stop before it (see :func:`iter_capture`).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from base.errors import PulsearbError
from flows.relay.codec import Frame

log = logging.getLogger(__name__)

CAPTURE_MAGIC = b"PARBCAP1"
_FILE_HEADER = struct.Struct("<8sQ")
_RECORD = struct.Struct("<QI")
MAX_RECORD = 1 << 20  # AlphaPulse's MAX_MESSAGE_SIZE; a longer length means the file is corrupt


class CaptureError(PulsearbError):
    """A capture file is missing, not a capture, or corrupt."""


class CaptureRecord(NamedTuple):
    """One captured unit.

    Attributes:
        recv_ns: receive time, ns since epoch.
        data: the frame (or dead range) bytes.
    """

    recv_ns: int
    data: bytes


@dataclass(frozen=True, slots=True)
class CaptureInfo:
    """What a capture file's header says.

    Attributes:
        start_ns: wall clock when the capture began, ns since epoch (0 if unknown).
    """

    start_ns: int


class CaptureWriter:
    """Append records to a new capture file; use as a context manager.

    Args:
        path: file to create (overwritten if it exists).
        start_ns: capture start, ns since epoch (0 if unknown).
    """

    def __init__(self, path: str | Path, start_ns: int = 0) -> None:
        self.path = Path(path)
        self.records = 0
        self._file: BinaryIO = self.path.open("wb")
        self._file.write(_FILE_HEADER.pack(CAPTURE_MAGIC, start_ns))

    def write(self, recv_ns: int, data: bytes | Frame) -> None:
        """Append one record (a Frame is written as its raw bytes)."""
        raw = data.raw if isinstance(data, Frame) else bytes(data)
        if len(raw) > MAX_RECORD:
            msg = f"capture record of {len(raw)} bytes above {MAX_RECORD}"
            raise CaptureError(msg)
        self._file.write(_RECORD.pack(recv_ns, len(raw)))
        self._file.write(raw)
        self.records += 1

    def flush(self) -> None:
        """Push buffered records to the file."""
        self._file.flush()

    def close(self) -> None:
        """Flush and close the file."""
        self._file.close()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_capture(path: str | Path, frames_with_times: Iterable[tuple[int, bytes | Frame]], start_ns: int = 0) -> int:
    """Write a capture file from ``(recv_ns, frame)`` pairs; return the number of records.

    Args:
        path: file to create.
        frames_with_times: receive time (ns since epoch) and frame bytes (or Frame) per record, in order.
        start_ns: capture start for the file header (default: the first record's time).
    """
    items = iter(frames_with_times)
    first = next(items, None)
    with CaptureWriter(path, start_ns or (first[0] if first else 0)) as writer:
        if first is not None:
            writer.write(*first)
        for recv_ns, data in items:
            writer.write(recv_ns, data)
        return writer.records


def read_capture_info(path: str | Path) -> CaptureInfo:
    """Return a capture file's header.

    Raises:
        CaptureError: missing file or not a capture.
    """
    with _open(path) as f:
        return CaptureInfo(_read_header(f, path))


def iter_capture(path: str | Path) -> Iterator[CaptureRecord]:
    """Yield a capture file's records in order; a partial last record (killed recorder) is skipped with a warning.

    Raises:
        CaptureError: missing file, not a capture, or an impossible record length.
    """
    with _open(path) as f:
        _read_header(f, path)
        index = 0
        while True:
            head = f.read(_RECORD.size)
            if not head:
                return
            if len(head) < _RECORD.size:
                log.warning("%s: partial record header after %d records ignored", path, index)
                return
            recv_ns, length = _RECORD.unpack(head)
            if length > MAX_RECORD:
                msg = f"{path}: record {index} claims {length} bytes (corrupt capture)"
                raise CaptureError(msg)
            data = f.read(length)
            if len(data) < length:
                log.warning("%s: partial record %d (%d of %d bytes) ignored", path, index, len(data), length)
                return
            yield CaptureRecord(recv_ns, data)
            index += 1


def read_capture(path: str | Path) -> list[CaptureRecord]:
    """Return all records of a capture file (see :func:`iter_capture`)."""
    return list(iter_capture(path))


def _open(path: str | Path) -> BinaryIO:
    try:
        return Path(path).open("rb")
    except OSError as exc:
        msg = f"cannot open capture {path}: {exc.strerror or exc}"
        raise CaptureError(msg) from exc


def _read_header(f: BinaryIO, path: str | Path) -> int:
    head = f.read(_FILE_HEADER.size)
    if len(head) < _FILE_HEADER.size or head[:8] != CAPTURE_MAGIC:
        msg = f"{path} is not a pulsearb capture (expected magic {CAPTURE_MAGIC.decode()})"
        raise CaptureError(msg)
    return _FILE_HEADER.unpack(head)[1]
