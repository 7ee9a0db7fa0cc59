"""Relay source for Bytewax: read one AlphaPulse relay socket, emit the bytes of each read as one chunk.

A relay keeps no history, so this source has nothing to resume from (its snapshot is None) and ends as soon as a
stop is requested. ``next_batch`` never blocks for long: it waits at most ``poll_s`` for bytes, and while the relay
is away it returns nothing until the next connection attempt is due (``Backoff`` of flows/relay/client.py, 50 ms
doubling to 2 s).

Items are :class:`Chunk` values, one per read: the bytes as read (frames are cut and decoded downstream, a whole
read at a time, by :class:`flows.bridge.Router`), which keeps Bytewax's per-item cost off the per-frame path. When
a connection ends, or the flow stops, the chunk says so (``closed``), so the consumer flushes its framer and the
bytes of a frame cut short reach ``dlq.relay`` instead of vanishing. While connected and idle, the source emits an
empty chunk every ``poll_s`` (a tick), so downstream steps get a call to flush and count even when no data arrives.

Counters: :class:`~flows.relay.client.ClientStats` per source, and the Prometheus series ``pulsearb_relay_bytes``
and ``pulsearb_relay_reconnects`` (frames decoded are the consumer's to count).
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from flows.connectors.stop import STOP
from flows.metrics import RELAY_BYTES, RELAY_RECONNECTS
from flows.relay.client import Backoff, ClientStats

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One read from the relay.

    Attributes:
        data: the bytes read, in stream order (empty for an idle tick, or for the end of a connection).
        received_ns: when the read returned, ns since epoch.
        closed: the connection ended after these bytes (the relay closed it, or the flow is stopping): a frame
            still incomplete will never be completed.
    """

    data: bytes
    received_ns: int
    closed: bool = False


class _Partition(StatefulSourcePartition[Chunk, None]):
    def __init__(self, source: RelaySource) -> None:
        self._src = source
        self._sock: socket.socket | None = None
        self._attempt = 0  # failed connection attempts in a row
        self._next_attempt = 0.0  # monotonic time of the next connection attempt
        self._awake: datetime | None = None
        self._ended = False
        self._bytes_in = RELAY_BYTES.labels(source.flow)
        self._reconnects = RELAY_RECONNECTS.labels(source.flow)

    @property
    def stats(self) -> ClientStats:
        return self._src.stats

    def _connect(self) -> bool:
        now = time.monotonic()
        if now < self._next_attempt:
            return False
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)  # a relay whose accept backlog is full must not stall the flow
        try:
            sock.connect(self._src.path)
        except OSError as exc:
            sock.close()
            self.stats.failed_connects += 1
            if self._attempt == 0:
                log.warning("cannot connect to relay %s (%s); retrying", self._src.path, exc.strerror or exc)
            self._next_attempt = now + self._src.backoff.delay(self._attempt)
            self._attempt += 1
            return False
        self._sock = sock
        self._attempt = 0
        self.stats.connects += 1
        if self.stats.disconnects:
            self.stats.reconnects += 1
            self._reconnects.inc()
        log.info("connected to relay %s", self._src.path)
        return True

    def _disconnect(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def next_awake(self) -> datetime | None:
        return self._awake

    def next_batch(self) -> list[Chunk]:
        self._awake = None
        if self._ended:
            raise StopIteration
        if self._src.stop.is_set():
            # The flow is stopping: a frame the consumer still holds is cut; say so, then end.
            self._ended = True
            self._disconnect()
            return [Chunk(b"", time.time_ns(), closed=True)]
        if self._sock is None and not self._connect():
            delay = max(0.0, min(self._next_attempt - time.monotonic(), self._src.poll_s))
            self._awake = datetime.now(UTC) + timedelta(seconds=delay)
            return []
        sock = self._sock
        assert sock is not None
        ready, _, _ = select.select([sock], [], [], self._src.poll_s)
        if not ready:
            return [Chunk(b"", time.time_ns())]  # idle tick
        chunks: list[bytes] = []
        size = 0
        closed = False
        while size < self._src.max_read:
            try:
                data = sock.recv(self._src.read_size)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                data = b""
            if not data:
                closed = True
                break
            chunks.append(data)
            size += len(data)
        now = time.time_ns()
        if size:
            self.stats.bytes += size
            self._bytes_in.inc(size)
        if closed:
            # The relay went away (restart, or it dropped us as slow): a frame cut by the close is dead.
            self.stats.disconnects += 1
            log.warning("relay %s closed the connection; reconnecting", self._src.path)
            self._disconnect()
        if not size and not closed:
            return []
        return [Chunk(b"".join(chunks) if len(chunks) > 1 else chunks[0] if chunks else b"", now, closed)]

    def snapshot(self) -> None:
        return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._disconnect()


class RelaySource(FixedPartitionedSource[Chunk, None]):
    """Read frames from the relay socket at ``path`` (one partition: one connection).

    Args:
        path: the relay's socket file.
        flow: flow name, the ``flow`` label of the metrics.
        backoff: reconnect delays.
        poll_s: longest wait for bytes in one ``next_batch``, seconds.
        read_size: bytes per ``recv``.
        max_read: bytes read per ``next_batch`` at most (bounds one chunk's size and the time away from the flow).
        stop: ends the source when set (default: the process-wide stop of flows/connectors/stop.py).

    Attributes:
        stats: connection counters (connects, reconnects, failed connects, disconnects, bytes).
    """

    def __init__(
        self,
        path: str,
        flow: str = "bridge",
        *,
        backoff: Backoff | None = None,
        poll_s: float = 0.05,
        read_size: int = 1 << 18,
        max_read: int = 1 << 20,
        stop: threading.Event | None = None,
    ) -> None:
        self.path = path
        self.flow = flow
        self.backoff = backoff or Backoff()
        self.poll_s = poll_s
        self.read_size = read_size
        self.max_read = max_read
        self.stop = stop or STOP
        self.stats = ClientStats()

    def list_parts(self) -> list[str]:
        return [f"relay:{self.path}"]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Partition:
        return _Partition(self)
