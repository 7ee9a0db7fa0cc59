"""Relay source for Bytewax: read one AlphaPulse relay socket, frame the byte stream, emit frames and dead frames.

A relay keeps no history, so this source has nothing to resume from (its snapshot is None) and ends as soon as a
stop is requested. Connection loss is retried with capped exponential backoff; every reconnect is counted.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass, field

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from flows.connectors.stop import STOP
from flows.relay.framing import Framer


@dataclass(slots=True)
class RelayStats:
    """Counters of one relay source partition."""

    bytes_in: int = 0
    reconnects: int = 0
    connected: bool = False
    by_kind: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Received:
    """A frame (or dead frame) with the time its last byte was read, ns since epoch."""

    item: object
    received_ns: int


class _Partition(StatefulSourcePartition[Received, None]):
    def __init__(self, path: str, read_size: int, stats: RelayStats) -> None:
        self._path = path
        self._read_size = read_size
        self._sock: socket.socket | None = None
        self._framer = Framer()
        self._backoff = 0.05
        self._next_attempt = 0.0
        self.stats = stats

    def _connect(self) -> None:
        now = time.monotonic()
        if now < self._next_attempt:
            time.sleep(min(0.05, self._next_attempt - now))
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            self._next_attempt = now + self._backoff
            self._backoff = min(self._backoff * 2, 2.0)
            return
        sock.setblocking(False)
        if self.stats.connected is False and self._sock is None and self._backoff > 0.05:
            self.stats.reconnects += 1
        self._sock = sock
        self._backoff = 0.05
        self.stats.connected = True

    def next_batch(self) -> list[Received]:
        if STOP.is_set():
            raise StopIteration
        if self._sock is None:
            self._connect()
            if self._sock is None:
                return []
        ready, _, _ = select.select([self._sock], [], [], 0.05)
        if not ready:
            return []
        chunks = []
        while True:
            try:
                data = self._sock.recv(self._read_size)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:  # relay closed the connection: reconnect with backoff
                self._sock.close()
                self._sock = None
                self.stats.connected = False
                self.stats.reconnects += 1
                break
            chunks.append(data)
            if len(data) < self._read_size:
                break
        if not chunks:
            return []
        data = b"".join(chunks)
        self.stats.bytes_in += len(data)
        now = time.time_ns()
        return [Received(item, now) for item in self._framer.feed(data)]

    def snapshot(self) -> None:
        return None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()


class RelaySource(FixedPartitionedSource[Received, None]):
    """Read frames from the relay socket at ``path`` (one partition: one connection)."""

    def __init__(self, path: str, read_size: int = 1 << 20) -> None:
        self._path = path
        self._read_size = read_size
        self.stats = RelayStats()

    def list_parts(self) -> list[str]:
        return [f"relay:{self._path}"]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Partition:
        return _Partition(self._path, self._read_size, self.stats)
