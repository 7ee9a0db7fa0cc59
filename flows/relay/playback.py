"""Record relay traffic to a capture file, and replay a capture into a relay (as recorded, scaled, or flat out)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from flows.relay.capture import CaptureRecord, CaptureWriter
from flows.relay.client import RelayClient, RelayProducer
from flows.relay.codec import ChecksumPolicy, Frame


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What a recording captured.

    Attributes:
        frames: frames written (hello headers included).
        dead: dead byte ranges written.
        bytes: bytes received.
        reconnects: reconnections to the relay during the recording.
    """

    frames: int
    dead: int
    bytes: int
    reconnects: int


def record(
    socket_path: str | Path,
    out: str | Path,
    *,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
    connect_timeout_s: float | None = 10.0,
    flush_s: float = 0.2,
    clock: Callable[[], int] = time.time_ns,
) -> RecordResult:
    """Record everything a relay socket delivers into a capture file.

    Args:
        socket_path: the relay's socket file.
        out: capture file to create.
        duration_s: stop after this many seconds (None: until ``stop`` is set).
        stop: event that ends the recording.
        connect_timeout_s: give up if the relay cannot be reached this long at the start.
        flush_s: how often the capture file is flushed while recording, in seconds.
        clock: receive-time source, ns since epoch.

    Returns:
        Counts of what was written.

    Raises:
        StackError: the relay could not be reached within ``connect_timeout_s``.
    """
    stop = stop or threading.Event()
    timer = threading.Timer(duration_s, stop.set) if duration_s is not None else None
    client = RelayClient(
        socket_path, stop=stop, policy=ChecksumPolicy.none(), emit_hellos=True, connect_timeout_s=connect_timeout_s
    )
    frames = dead = 0
    client.connect()
    # Later reconnects retry until stopped: a recorder should ride out a relay restart.
    client.connect_timeout_s = None
    with CaptureWriter(out, clock()) as writer:
        if timer is not None:
            timer.daemon = True
            timer.start()
        flusher = threading.Thread(target=_flush_every, args=(writer, stop, flush_s), daemon=True)
        flusher.start()
        try:
            for item in client:
                writer.write(clock(), item.raw)
                if isinstance(item, Frame):
                    frames += 1
                else:
                    dead += 1
        finally:
            if timer is not None:
                timer.cancel()
            client.close()
            flusher.join(timeout=2.0)
    return RecordResult(frames, dead, client.stats.bytes, client.stats.reconnects)


def _flush_every(writer: CaptureWriter, stop: threading.Event, period_s: float) -> None:
    """Flush the capture while recording, so a reader (or a crash) sees at most ``period_s`` of lag."""
    while not stop.wait(period_s):
        writer.flush()


def replay_schedule(records: Iterable[CaptureRecord], speed: float | None) -> Iterable[tuple[float, bytes]]:
    """Yield ``(seconds after start, data)`` for each record: recorded gaps divided by ``speed``, or 0 if None.

    Example:
        >>> list(replay_schedule([CaptureRecord(10**9, b"a"), CaptureRecord(3 * 10**9, b"b")], 2.0))
        [(0.0, b'a'), (1.0, b'b')]
    """
    if speed is not None and speed <= 0:
        msg = f"replay speed must be positive, got {speed}"
        raise ValueError(msg)
    first: int | None = None
    for rec in records:
        if first is None:
            first = rec.recv_ns
        yield (0.0 if speed is None else (rec.recv_ns - first) / 1e9 / speed), rec.data


def replay(
    records: Iterable[CaptureRecord],
    socket_path: str | Path,
    *,
    speed: float | None = 1.0,
    stop: threading.Event | None = None,
    connect_timeout_s: float = 10.0,
) -> int:
    """Send captured records into a relay, paced as recorded.

    Args:
        records: capture records in order (see :func:`flows.relay.capture.iter_capture`).
        socket_path: the relay's socket file.
        speed: 1.0 as recorded, 2.0 twice as fast, None as fast as possible.
        stop: event that ends the replay early.
        connect_timeout_s: give up if the relay cannot be reached this long.

    Returns:
        Records sent.

    Raises:
        StackError: the relay could not be reached or the connection broke.
        ValueError: a speed that is not positive.
    """
    stop = stop or threading.Event()
    sent = 0
    with RelayProducer(socket_path, connect_timeout_s=connect_timeout_s) as producer:
        start = time.monotonic()
        for at, data in replay_schedule(records, speed):
            delay = start + at - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
            if stop.is_set():
                break
            producer.send(data)
            sent += 1
    return sent
