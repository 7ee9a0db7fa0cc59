"""Relay clients: a consumer that yields frames and survives relay restarts, and a producer that sends them.

A relay connection is a plain Unix stream socket with no handshake; what arrives is a byte stream of
concatenated frames, framed here by :class:`~flows.relay.framing.Framer`, so partial reads lose nothing.
When the relay goes away the consumer reconnects with exponential backoff (counted in :class:`ClientStats`);
bytes of a frame cut by the disconnect come out as a DeadFrame. Offsets keep counting across connections.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from base.errors import StackError
from flows.relay.codec import ChecksumPolicy, Frame
from flows.relay.framing import DeadFrame, Framer
from flows.relay.subscription import subscribe_frame
from flows.relay.tlv import Subscribe

log = logging.getLogger(__name__)

_RECV_SIZE = 65536


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential reconnect delays: ``initial_s * factor**n``, capped at ``max_s`` (seconds)."""

    initial_s: float = 0.05
    factor: float = 2.0
    max_s: float = 2.0

    def delay(self, attempt: int) -> float:
        """Return the delay before retry number ``attempt`` (0-based), in seconds."""
        return min(self.max_s, self.initial_s * self.factor**attempt)


@dataclass
class ClientStats:
    """Counters of a :class:`RelayClient`.

    Attributes:
        connects: successful connections.
        reconnects: successful connections after a lost one.
        failed_connects: connection attempts that failed (each followed by a backoff wait).
        disconnects: connections lost.
        bytes: bytes received.
    """

    connects: int = 0
    reconnects: int = 0
    failed_connects: int = 0
    disconnects: int = 0
    bytes: int = 0


class RelayClient:
    """Consume a relay socket as an iterator of frames (and dead ranges), reconnecting until stopped.

    Args:
        path: the relay's socket file.
        stop: set it to end iteration (checked at least every ``poll_s``); default: a private event,
            see :meth:`close`.
        policy: checksum policy for decoding (default: verify Execution only).
        subscribe: a Subscribe TLV to send after every connect (pulsearb relays only filter; AlphaPulse's
            relays ignore it).
        backoff: reconnect delays.
        connect_timeout_s: give up (StackError) after this long without a connection; None retries forever.
        emit_hellos: also yield AlphaPulse's hello headers (recorders want them; consumers do not).
        poll_s: socket timeout, the longest a stop request waits (None: blocking, for producers).

    Example:
        ``for item in RelayClient("/tmp/torq/market_data.sock", stop=event): ...`` where each item is a
        :class:`~flows.relay.codec.Frame` or a :class:`~flows.relay.framing.DeadFrame`.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        stop: threading.Event | None = None,
        policy: ChecksumPolicy | None = None,
        subscribe: Subscribe | None = None,
        backoff: Backoff | None = None,
        connect_timeout_s: float | None = None,
        emit_hellos: bool = False,
        poll_s: float | None = 0.1,
    ) -> None:
        self.path = Path(path)
        self.stop_event = stop or threading.Event()
        self.subscribe = subscribe
        self.backoff = backoff or Backoff()
        self.connect_timeout_s = connect_timeout_s
        self.poll_s = poll_s
        self.framer = Framer(policy, emit_hellos=emit_hellos)
        self.stats = ClientStats()
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()

    def close(self) -> None:
        """Stop iterating and close the connection."""
        self.stop_event.set()
        self._disconnect()

    def __enter__(self) -> RelayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """Whether a connection is open now."""
        return self._sock is not None

    def connect(self) -> bool:
        """Connect, retrying with backoff; return False if stopped first.

        Raises:
            StackError: no connection within ``connect_timeout_s``.
        """
        if self._sock is not None:
            return True
        started = time.monotonic()
        attempt = 0
        while not self.stop_event.is_set():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.path))
            except OSError as exc:
                sock.close()
                self.stats.failed_connects += 1
                waited = time.monotonic() - started
                if self.connect_timeout_s is not None and waited >= self.connect_timeout_s:
                    msg = f"cannot connect to relay {self.path}: {exc.strerror or exc} (is the relay running?)"
                    raise StackError(msg) from exc
                self.stop_event.wait(self.backoff.delay(attempt))
                attempt += 1
                continue
            sock.settimeout(self.poll_s)
            if self.subscribe is not None:
                t = self.subscribe
                sock.sendall(subscribe_frame(t.tlv_types, t.venues, t.pools))
            self._sock = sock
            if self.stats.disconnects:
                self.stats.reconnects += 1
            self.stats.connects += 1
            log.info("connected to relay %s", self.path)
            return True
        return False

    def _disconnect(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def send(self, data: bytes) -> None:
        """Send bytes (whole frames) to the relay; the relay echoes them back to every client, this one too.

        Raises:
            StackError: not connected, or the connection broke.
        """
        sock = self._sock
        if sock is None:
            msg = f"not connected to relay {self.path}"
            raise StackError(msg)
        try:
            with self._send_lock:
                sock.sendall(data)
        except OSError as exc:
            msg = f"lost relay {self.path}: {exc.strerror or exc}"
            raise StackError(msg) from exc

    def __iter__(self) -> Iterator[Frame | DeadFrame]:
        """Yield frames and dead ranges in stream order until :attr:`stop_event` is set."""
        while not self.stop_event.is_set():
            if not self.connect():
                break
            sock = self._sock
            assert sock is not None
            try:
                data = sock.recv(_RECV_SIZE)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not data:
                self.stats.disconnects += 1
                log.warning("relay %s closed the connection; reconnecting", self.path)
                self._disconnect()
                yield from self.framer.flush()
                continue
            self.stats.bytes += len(data)
            yield from self.framer.feed(data)
        yield from self.framer.flush()

    def frames(self) -> Iterator[Frame]:
        """Yield only frames (dead ranges are counted by :attr:`framer` and dropped)."""
        for item in self:
            if isinstance(item, Frame):
                yield item


class RelayProducer:
    """Send frames to a relay while discarding what it echoes back (so the relay never sees a slow client).

    Args:
        path: the relay's socket file.
        connect_timeout_s: give up (StackError) after this long without a connection.
        backoff: connect retry delays.
    """

    def __init__(self, path: str | Path, *, connect_timeout_s: float = 10.0, backoff: Backoff | None = None) -> None:
        self.path = Path(path)
        # Blocking socket: sends wait for a busy relay instead of timing out; close() wakes the drain thread.
        self._client = RelayClient(path, connect_timeout_s=connect_timeout_s, backoff=backoff, poll_s=None)
        self._drain: threading.Thread | None = None
        self.sent = 0

    def open(self) -> RelayProducer:
        """Connect and start discarding echoes; returns self.

        Raises:
            StackError: no connection within the timeout.
        """
        self._client.connect()
        self._drain = threading.Thread(target=self._discard, name="relay-producer-drain", daemon=True)
        self._drain.start()
        return self

    def _discard(self) -> None:
        sock = self._client._sock
        while sock is not None and not self._client.stop_event.is_set():
            try:
                if not sock.recv(_RECV_SIZE):
                    return
            except OSError:
                return

    def send(self, data: bytes) -> None:
        """Send whole frames.

        Raises:
            StackError: the connection broke.
        """
        self._client.send(data)
        self.sent += 1

    def close(self) -> None:
        """Close the connection."""
        self._client.close()
        if self._drain is not None:
            self._drain.join(timeout=2.0)

    def __enter__(self) -> RelayProducer:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
