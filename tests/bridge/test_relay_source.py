"""RelaySource partition on a real Unix socket: never blocks while the relay is away, emits every byte read in
order, marks the end of a connection (disconnect or stop) so a cut frame is dead-lettered, reconnects with counted
reconnects, keeps stream offsets across connections (through the consumer's framer), and ticks when idle."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.connectors.relay import Chunk, RelaySource
from flows.metrics import RELAY_BYTES, RELAY_RECONNECTS
from flows.relay.client import Backoff
from flows.relay.codec import ChecksumPolicy, Frame
from flows.relay.framing import DeadFrame, Framer
from tests.bridge.streams import frame
from tests.relay.helpers import sample_tlvs


@pytest.fixture
def sock_path(sock_dir: Path) -> Path:
    """A relay socket path in the test's uuid-named directory."""
    return sock_dir / "market_data.sock"


def _listen(path: Path) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    return server


def _collect(part, until, framer: Framer, timeout_s: float = 5.0) -> list[Frame | DeadFrame]:
    """Frame the chunks as the bridge's route step does (feed every read, flush at a connection's end)."""
    items: list[Frame | DeadFrame] = []
    deadline = time.monotonic() + timeout_s
    while not until(items):
        assert time.monotonic() < deadline, f"got {items}"
        for chunk in part.next_batch():
            assert isinstance(chunk, Chunk)
            items.extend(framer.feed(chunk.data))
            if chunk.closed:
                items.extend(framer.flush())
    return items


def _value(counter, *labels: str) -> float:
    return counter.labels(*labels)._value.get()


def test_missing_relay_returns_nothing_quickly_and_schedules_a_retry(sock_path: Path) -> None:
    source = RelaySource(str(sock_path), "src_missing", backoff=Backoff(initial_s=0.2), stop=threading.Event())
    part = source.build_part("relay", "relay:x", None)
    started = time.monotonic()
    for _ in range(5):
        assert part.next_batch() == []
    assert time.monotonic() - started < 0.5  # waits are next_awake's, not sleeps
    assert source.stats.failed_connects == 1  # the backoff holds later attempts back
    assert part.next_awake() is not None and part.next_awake() > datetime.now(UTC)
    part.close()


def test_cut_frame_on_disconnect_is_dead_and_offsets_continue_after_reconnect(sock_path: Path) -> None:
    frames = [frame(sample_tlvs()["PoolSync"], i) for i in (1, 2, 3)]
    server = _listen(sock_path)
    source = RelaySource(str(sock_path), "src_cut", backoff=Backoff(initial_s=0.01), stop=threading.Event())
    part = source.build_part("relay", "relay:x", None)
    framer = Framer(ChecksumPolicy.every())
    reconnects_before = _value(RELAY_RECONNECTS, "src_cut")
    try:
        (tick,) = part.next_batch()  # connects; nothing to read yet: an idle tick so the sink can flush
        assert (tick.data, tick.closed) == (b"", False)
        conn, _ = server.accept()
        conn.sendall(frames[0] + frames[1] + frames[2][:50])
        conn.close()
        items = _collect(part, lambda items: any(isinstance(i, DeadFrame) for i in items), framer)
        assert [type(i) for i in items] == [Frame, Frame, DeadFrame]
        dead = items[2]
        assert (dead.raw, dead.offset) == (frames[2][:50], 2 * len(frames[0]))
        assert dead.reason.startswith("truncated")

        conn = None
        deadline = time.monotonic() + 5
        while conn is None:  # the source reconnects on its own
            assert time.monotonic() < deadline
            part.next_batch()
            server.settimeout(0.05)
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
        conn.sendall(frames[0])
        (again,) = _collect(part, lambda items: len(items) == 1, framer)
        assert again.offset == 2 * len(frames[0]) + 50  # offsets count every byte read by this source
        conn.close()
    finally:
        server.close()
        part.close()
    assert source.stats.disconnects >= 1 and source.stats.reconnects >= 1
    assert _value(RELAY_RECONNECTS, "src_cut") - reconnects_before >= 1
    assert _value(RELAY_BYTES, "src_cut") == 3 * len(frames[0]) + 50


def test_stop_flushes_a_pending_partial_frame_then_ends(sock_path: Path) -> None:
    raw = frame(sample_tlvs()["PoolSync"], 1)
    server = _listen(sock_path)
    stop = threading.Event()
    part = RelaySource(str(sock_path), "src_stop", stop=stop).build_part("relay", "relay:x", None)
    framer = Framer(ChecksumPolicy.every())
    try:
        part.next_batch()
        conn, _ = server.accept()
        conn.sendall(raw + raw[:40])
        (first,) = _collect(part, lambda items: len(items) == 1, framer)
        assert isinstance(first, Frame)
        stop.set()
        (chunk,) = part.next_batch()
        assert (chunk.data, chunk.closed) == (b"", True)
        (dead,) = framer.flush()
        assert isinstance(dead, DeadFrame) and (dead.raw, dead.offset) == (raw[:40], len(raw))
        with pytest.raises(StopIteration):
            part.next_batch()
        conn.close()
    finally:
        server.close()
        part.close()
