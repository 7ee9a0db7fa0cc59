"""The relay client: reconnects with backoff after a relay restart, frames partial reads, stops on request."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from pathlib import Path

import pytest

from base.errors import StackError
from flows.relay.client import Backoff, RelayClient, RelayProducer
from flows.relay.codec import encode_frame
from flows.relay.framing import DeadFrame
from flows.relay.protocol import RelayDomain
from flows.relay.server import RelayServer

from .conftest import wait_for
from .helpers import sample_tlvs

S = sample_tlvs()
MD = RelayDomain.MARKET_DATA
FAST = Backoff(initial_s=0.01, factor=2.0, max_s=0.1)


def frames(n: int, start: int = 1) -> list[bytes]:
    return [encode_frame(1, 4, [S["PoolSync"]], sequence=start + i, timestamp_ns=i) for i in range(n)]


def test_backoff_is_exponential_and_capped() -> None:
    b = Backoff(initial_s=0.05, factor=2.0, max_s=0.3)
    assert [b.delay(n) for n in range(5)] == [0.05, 0.1, 0.2, 0.3, 0.3]


def test_reconnects_after_the_relay_restarts(sock_dir: Path, collectors) -> None:
    relay = RelayServer(sock_dir, [MD]).start()
    path = relay.socket_path(MD)
    consumer = collectors(RelayClient(path, backoff=FAST))
    try:
        assert relay.wait_clients(MD, 1)
        first, second = frames(3), frames(3, start=4)
        with RelayProducer(path) as producer:
            for raw in first:
                producer.send(raw)
            assert wait_for(lambda: len(consumer.frames) == 3)
        relay.stop()
        time.sleep(0.2)  # the consumer retries against a missing socket meanwhile
        relay = RelayServer(sock_dir, [MD]).start()
        assert relay.wait_clients(MD, 1)
        with RelayProducer(path) as producer:
            for raw in second:
                producer.send(raw)
            assert wait_for(lambda: len(consumer.frames) == 6)
        assert [f.raw for f in consumer.frames] == first + second
        stats = consumer.client.stats
        assert stats.connects == 2 and stats.reconnects == 1 and stats.disconnects == 1
        assert stats.failed_connects >= 1
        assert consumer.frames[3].offset == sum(len(r) for r in first)  # offsets continue across connections
    finally:
        relay.stop()


def serve_once(path: Path, payload_chunks: list[bytes], pause: float = 0.002) -> threading.Thread:
    """A bare peer: accept one connection, write the chunks with pauses, close."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def run() -> None:
        conn, _ = listener.accept()
        for chunk in payload_chunks:
            conn.sendall(chunk)
            time.sleep(pause)
        conn.close()
        listener.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_partial_reads_lose_nothing(sock_dir: Path, collectors) -> None:
    sent = frames(20)
    stream = b"".join(sent)
    cuts = [*range(0, len(stream), 37), len(stream)]  # boundaries nowhere near frame boundaries
    chunks = [stream[a:b] for a, b in itertools.pairwise(cuts)]
    path = sock_dir / "peer.sock"
    peer = serve_once(path, chunks)
    consumer = collectors(RelayClient(path, backoff=FAST))
    assert wait_for(lambda: len(consumer.frames) == 20)
    assert [f.raw for f in consumer.frames] == sent
    peer.join(timeout=5)


def test_a_frame_cut_by_a_disconnect_comes_out_dead(sock_dir: Path, collectors) -> None:
    raw = frames(2)
    path = sock_dir / "peer.sock"
    serve_once(path, [raw[0] + raw[1][:50]])
    consumer = collectors(RelayClient(path, backoff=FAST))
    assert wait_for(lambda: len(consumer.items) == 2)
    assert consumer.items[0].raw == raw[0]
    dead = consumer.items[1]
    assert isinstance(dead, DeadFrame) and dead.raw == raw[1][:50] and dead.reason.startswith("truncated")


def test_stop_ends_iteration_promptly(sock_dir: Path) -> None:
    stop = threading.Event()
    client = RelayClient(sock_dir / "nobody.sock", stop=stop, backoff=Backoff(initial_s=5, max_s=5))
    t = threading.Thread(target=lambda: list(client), daemon=True)
    t.start()
    time.sleep(0.05)
    began = time.monotonic()
    stop.set()
    t.join(timeout=2)
    assert not t.is_alive() and time.monotonic() - began < 1
    assert client.stats.failed_connects >= 1


def test_connect_timeout_is_one_clear_error(sock_dir: Path) -> None:
    client = RelayClient(sock_dir / "nobody.sock", connect_timeout_s=0.05, backoff=FAST)
    with pytest.raises(StackError, match=r"cannot connect to relay .*nobody.sock.*is the relay running"):
        client.connect()
    with pytest.raises(StackError, match="not connected"):
        client.send(b"x")
