"""Signals sink for Bytewax: write ArbitrageSignal frames to AlphaPulse's signals relay, never stalling the flow.

A relay connection is a plain Unix stream socket; the relay echoes every frame to every client, the sender
included, and drops clients that stop reading. :class:`SignalWriter` therefore owns one background thread that
connects (``Backoff``: 50 ms doubling to 2 s), reads and discards the echo, and sends what is queued; the flow
only appends to a bounded queue and tries one non-blocking send, so a missing, restarting or stuck relay costs the
flow nothing but counters:

- ``sent``: frames written whole; ``dropped_expired``: signals whose ``valid_until`` passed while queued;
  ``dropped_overflow``: signals dropped because ``max_pending`` were already queued (oldest first); ``cut``: a
  frame the connection broke in the middle of (the relay sees a truncated frame and drops it);
- ``connects``, ``reconnects``, ``failed_connects``, ``disconnects``, ``echo_bytes``.

Signals are not stored anywhere else (the relay keeps nothing either), so what cannot be sent before it expires is
dropped and counted. Header sequence numbers are per writer, starting at 1 as AlphaPulse's counter does; a gap
tells a consumer that signals were dropped.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from flows.metrics import RECORDS_OUT, RELAY_RECONNECTS, SIGNALS_DROPPED
from flows.relay.client import Backoff
from flows.relay.tlv import ArbitrageSignal
from flows.signals import SignalParams, signal_frame

log = logging.getLogger(__name__)

_RECV_SIZE = 65536


@dataclass
class SignalStats:
    """Counters of a :class:`SignalWriter` (see the module docstring)."""

    sent: int = 0
    dropped_expired: int = 0
    dropped_overflow: int = 0
    cut: int = 0
    connects: int = 0
    reconnects: int = 0
    failed_connects: int = 0
    disconnects: int = 0
    echo_bytes: int = 0

    @property
    def dropped(self) -> int:
        """Signals that never reached the relay whole."""
        return self.dropped_expired + self.dropped_overflow + self.cut


#: Called with (event, count) for "sent", "dropped" and "reconnect"; used to feed metrics.
EventHook = Callable[[str, int], None]


class SignalWriter:
    """Send ArbitrageSignal frames to a relay socket from a bounded queue, reconnecting in the background.

    Args:
        path: the signals relay socket (AlphaPulse: ``/tmp/torq/signals.sock``).
        params: header source and checksum of the frames (flows/signals.py).
        max_pending: signals queued at most while the relay is away or slow; the oldest are dropped beyond.
        backoff: reconnect delays.
        poll_s: how often the background thread retries and how long a stop waits, seconds.
        sequence_start: header sequence of the first frame.
        sequence_step: increment between frames (writers of one flow interleave with start i+1, step n).
        clock: ns since epoch (header timestamps, expiry).
        on_event: hook called with ("sent" | "dropped" | "reconnect", count).

    Example:
        ``with SignalWriter("/tmp/torq/signals.sock") as w: w.submit(arbitrage_signal(opp, now_ns=...))``
    """

    def __init__(
        self,
        path: str | Path,
        *,
        params: SignalParams | None = None,
        max_pending: int = 1024,
        backoff: Backoff | None = None,
        poll_s: float = 0.05,
        sequence_start: int = 1,
        sequence_step: int = 1,
        clock: Callable[[], int] = time.time_ns,
        on_event: EventHook | None = None,
    ) -> None:
        self.path = str(path)
        self.params = params or SignalParams()
        self.max_pending = max_pending
        self.backoff = backoff or Backoff()
        self.poll_s = poll_s
        self.clock = clock
        self.stats = SignalStats()
        self._on_event = on_event or (lambda _event, _n: None)
        self._sequence = sequence_start
        self._step = sequence_step
        self._lock = threading.Lock()
        self._queue: deque[tuple[bytes, int]] = deque()  # (frame, valid_until ns)
        self._head_sent = 0  # bytes of the queue's first frame already written
        self._sock: socket.socket | None = None
        self._broken = False
        self._attempt = 0
        self._next_attempt = 0.0
        self._stop = threading.Event()
        self._closing_deadline: float | None = None
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        """Signals queued, not yet written whole."""
        return len(self._queue)

    @property
    def connected(self) -> bool:
        """Whether a relay connection is open now."""
        return self._sock is not None and not self._broken

    def start(self) -> SignalWriter:
        """Start the background thread (it connects at once); returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"signals-writer:{self.path}", daemon=True)
            self._thread.start()
        return self

    def __enter__(self) -> SignalWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, signal: ArbitrageSignal) -> None:
        """Queue one signal as a frame (sequence and timestamp assigned now) and try to send it without blocking.

        Raises:
            FrameError: a field of ``signal`` is out of range for its wire type.
        """
        now = self.clock()
        with self._lock:
            frame = signal_frame(signal, sequence=self._sequence, timestamp_ns=now, params=self.params)
            self._sequence += self._step
            if len(self._queue) >= self.max_pending:
                self._drop_head("overflow")
            self._queue.append((frame, signal.valid_until * 1_000_000_000))
            if self.connected:
                self._send_locked()

    def close(self, timeout_s: float = 1.0) -> None:
        """Send what is queued for up to ``timeout_s`` seconds, then disconnect and stop the thread."""
        thread = self._thread
        if thread is None:
            return
        self._closing_deadline = time.monotonic() + timeout_s
        self._stop.set()
        thread.join(timeout=timeout_s + 2 * self.poll_s + 1.0)
        self._thread = None

    # Everything below runs on the background thread, except _send_locked (also called by submit).

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._broken:
                    self._disconnect_locked()
                if self._sock is None:
                    self._connect_locked()
                if self.connected:
                    self._send_locked()
                sock = self._sock if self.connected else None
                done = not self._queue or not self.connected
            if self._stop.is_set():
                deadline = self._closing_deadline or 0.0
                if done or time.monotonic() >= deadline:
                    break
            if sock is None:
                self._stop.wait(self.poll_s)
                continue
            self._drain_echo(sock)
        with self._lock:
            self._disconnect_locked()

    def _drain_echo(self, sock: socket.socket) -> None:
        """Wait up to poll_s for the relay's echo and discard it; mark the connection broken at EOF."""
        try:
            readable, _, _ = select.select([sock], [], [], self.poll_s)
            for _ in range(16 if readable else 0):  # bounded, so queued sends get their turn on a busy relay
                data = sock.recv(_RECV_SIZE, socket.MSG_DONTWAIT)
                if not data:
                    raise ConnectionResetError
                self.stats.echo_bytes += len(data)
        except (BlockingIOError, InterruptedError):
            return
        except (OSError, ValueError):
            with self._lock:
                self._broken = True

    def _connect_locked(self) -> None:
        now = time.monotonic()
        if now < self._next_attempt:
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            self.stats.failed_connects += 1
            if self._attempt == 0:
                log.warning("signals relay %s unavailable (%s); retrying", self.path, exc.strerror or exc)
            self._next_attempt = now + self.backoff.delay(self._attempt)
            self._attempt += 1
            return
        self._sock, self._broken, self._attempt = sock, False, 0
        self.stats.connects += 1
        if self.stats.disconnects:
            self.stats.reconnects += 1
            self._on_event("reconnect", 1)
        log.info("connected to signals relay %s", self.path)

    def _disconnect_locked(self) -> None:
        sock, self._sock, self._broken = self._sock, None, False
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.close()
        self.stats.disconnects += 1
        if self._head_sent:  # the relay got the start of this frame only: it is lost
            self._head_sent = 0
            self._drop_head("cut")

    def _drop_head(self, why: str) -> None:
        self._queue.popleft()
        self._head_sent = 0
        if why == "expired":
            self.stats.dropped_expired += 1
        elif why == "overflow":
            self.stats.dropped_overflow += 1
        else:
            self.stats.cut += 1
        self._on_event("dropped", 1)

    def _send_locked(self) -> None:
        """Write queued frames until the socket would block; expired signals not yet started are dropped."""
        sock = self._sock
        assert sock is not None
        now = self.clock()
        sent = 0
        while self._queue:
            frame, valid_until_ns = self._queue[0]
            if not self._head_sent and valid_until_ns < now:
                self._drop_head("expired")
                continue
            try:
                n = sock.send(memoryview(frame)[self._head_sent :])
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._broken = True
                break
            self._head_sent += n
            if self._head_sent == len(frame):
                self._queue.popleft()
                self._head_sent = 0
                sent += 1
        if sent:
            self.stats.sent += sent
            self._on_event("sent", sent)


class _SinkPartition(StatelessSinkPartition[ArbitrageSignal]):
    def __init__(self, writer: SignalWriter) -> None:
        self.writer = writer.start()

    def write_batch(self, items: list[ArbitrageSignal]) -> None:
        for signal in items:
            self.writer.submit(signal)

    def close(self) -> None:
        self.writer.close()


class SignalSink(DynamicSink[ArbitrageSignal]):
    """Write :class:`~flows.relay.tlv.ArbitrageSignal` items to AlphaPulse's signals relay (one connection per worker).

    Args:
        path: the signals relay socket (``RunEnv.signals_socket``).
        flow: flow name, the ``flow`` label of the metrics.
        params: header source, checksum (flows/signals.py).
        max_pending: signals queued per worker at most while the relay is away.

    Metrics: ``pulsearb_records_out{topic="signals"}`` (sent), ``pulsearb_signals_dropped`` (signals dropped:
    expired, overflow, cut), ``pulsearb_relay_reconnects``.
    """

    def __init__(self, path: str, flow: str, *, params: SignalParams | None = None, max_pending: int = 1024) -> None:
        self._path = path
        self._flow = flow
        self._params = params
        self._max_pending = max_pending

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _SinkPartition:
        sent = RECORDS_OUT.labels(self._flow, "signals")
        dropped = SIGNALS_DROPPED.labels(self._flow)
        reconnects = RELAY_RECONNECTS.labels(self._flow)
        counters = {"sent": sent, "dropped": dropped, "reconnect": reconnects}

        def count(event: str, n: int) -> None:
            counters[event].inc(n)

        writer = SignalWriter(
            self._path,
            params=self._params,
            max_pending=self._max_pending,
            sequence_start=worker_index + 1,
            sequence_step=worker_count,
            on_event=count,
        )
        return _SinkPartition(writer)
