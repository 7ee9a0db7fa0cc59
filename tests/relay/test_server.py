"""The relay server: AlphaPulse broadcast semantics, slow-client drop, subscriptions, socket handling."""

from __future__ import annotations

import dataclasses
import os
import socket
import stat
import time
from pathlib import Path

import pytest

from base.errors import StackError
from base.venues import VenueId
from flows.relay.client import RelayClient, RelayProducer
from flows.relay.codec import encode_frame
from flows.relay.protocol import RelayDomain
from flows.relay.server import RelayServer
from flows.relay.subscription import subscribe_frame
from flows.relay.tlv import Subscribe

from .conftest import wait_for
from .helpers import QUICKSWAP_WMATIC_USDC, UNIV3_USDC_WETH, sample_tlvs

S = sample_tlvs()
MD = RelayDomain.MARKET_DATA
HELLO = encode_frame(1, 2, [], sequence=0, timestamp_ns=0, checksum=False)


def frames(n: int, start: int = 1) -> list[bytes]:
    return [encode_frame(1, 4, [S["PoolSync"]], sequence=start + i, timestamp_ns=i) for i in range(n)]


def test_broadcast_to_every_client_including_the_sender(sock_dir: Path, collectors) -> None:
    with RelayServer(sock_dir) as relay:
        path = relay.socket_path(MD)
        consumers = [collectors(RelayClient(path)) for _ in range(3)]
        sender = collectors(RelayClient(path, emit_hellos=True))
        assert relay.wait_clients(MD, 4)
        assert sender.client.connect()
        sent = frames(50)
        sender.client.send(HELLO)
        for raw in sent:
            sender.client.send(raw)
        sender.client.send(encode_frame(2, 20, [S["ArbitrageSignal"]], sequence=9, timestamp_ns=9))  # wrong domain
        assert wait_for(lambda: all(len(c.frames) == 50 for c in consumers) and len(sender.frames) == 51)
        # The foreign frame is never forwarded, so nothing above waits for it: wait until the relay has counted it.
        assert wait_for(lambda: relay.stats(MD).foreign == 1)
        for c in consumers:
            assert [f.raw for f in c.frames] == sent
            assert c.client.framer.hellos == 1  # forwarded, tolerated
        assert [f.raw for f in sender.frames] == [HELLO, *sent]
        stats = relay.stats(MD)
        assert (stats.frames_in, stats.hellos, stats.foreign, stats.clients) == (50, 1, 1, 4)


def test_each_domain_has_its_own_socket(sock_dir: Path, collectors) -> None:
    with RelayServer(sock_dir, [1, 2, 3, 4]) as relay:
        names = sorted(p.name for p in sock_dir.iterdir())
        assert names == ["execution.sock", "market_data.sock", "signals.sock", "system.sock"]
        signals = collectors(RelayClient(relay.socket_path(RelayDomain.SIGNAL)))
        market = collectors(RelayClient(relay.socket_path(MD)))
        assert relay.wait_clients(RelayDomain.SIGNAL, 1) and relay.wait_clients(MD, 1)
        sig = encode_frame(2, 20, [S["ArbitrageSignal"]], sequence=1, timestamp_ns=1)
        with RelayProducer(relay.socket_path(RelayDomain.SIGNAL)) as producer:
            producer.send(sig)
            assert wait_for(lambda: len(signals.frames) == 1)
        assert signals.frames[0].raw == sig
        time.sleep(0.05)
        assert market.frames == []
    assert list(sock_dir.iterdir()) == []  # sockets removed on stop


def test_a_slow_client_is_dropped_and_the_others_are_not(sock_dir: Path, collectors) -> None:
    with RelayServer(sock_dir, [MD], queue_chunks=32) as relay:
        path = relay.socket_path(MD)
        slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(str(path))  # connects and never reads
        fast = collectors(RelayClient(path))
        assert relay.wait_clients(MD, 2)
        sent = frames(4000)
        with RelayProducer(path) as producer:
            for i in range(0, len(sent), 50):
                producer.send(b"".join(sent[i : i + 50]))
                time.sleep(0.001)  # keep the fast consumer's queue short on a loaded machine
            assert wait_for(lambda: len(fast.frames) == len(sent), timeout=20)
        assert [f.raw for f in fast.frames] == sent
        assert relay.stats(MD).slow_dropped == 1
        slow.settimeout(5)
        received = b""
        while chunk := slow.recv(65536):  # the relay closed it: EOF after what was delivered
            received += chunk
        assert 0 < len(received) < len(b"".join(sent))
        slow.close()


def test_subscriptions_filter_and_legacy_clients_see_everything(sock_dir: Path, collectors) -> None:
    sync_x = S["PoolSync"]
    sync_y = dataclasses.replace(sync_x, pool_address="0x" + "11" * 20)
    swap_x = dataclasses.replace(S["PoolSwap"], pool_address=sync_x.pool_address, venue=VenueId.QUICKSWAP)
    trade = S["Trade"]
    with RelayServer(sock_dir, [MD]) as relay:
        path = relay.socket_path(MD)
        by_type = collectors(RelayClient(path, subscribe=Subscribe(tlv_types=(16,))))
        checksummed = "0x" + QUICKSWAP_WMATIC_USDC[2:].upper()  # any case matches
        by_pool = collectors(RelayClient(path, subscribe=Subscribe(pools=(checksummed,))))
        by_venue = collectors(RelayClient(path, subscribe=Subscribe(venues=(VenueId.COINBASE,))))
        both = collectors(RelayClient(path, subscribe=Subscribe(tlv_types=(11,), pools=(QUICKSWAP_WMATIC_USDC,))))
        legacy = collectors(RelayClient(path, emit_hellos=True))
        assert relay.wait_clients(MD, 5)
        assert wait_for(lambda: relay.stats(MD).subscribes == 4)
        tlvs = [sync_x, sync_y, swap_x, trade]
        sent = [encode_frame(1, 4, [t], sequence=i, timestamp_ns=i) for i, t in enumerate(tlvs, 1)]
        with RelayProducer(path) as producer:
            producer.send(HELLO)
            for raw in sent:
                producer.send(raw)
            assert wait_for(lambda: len(legacy.frames) == 5)
        time.sleep(0.05)
        assert [f.raw for f in legacy.frames] == [HELLO, *sent]
        assert [f.header.sequence for f in by_type.frames] == [1, 2]
        assert [f.header.sequence for f in by_pool.frames] == [1, 3]
        assert [f.header.sequence for f in by_venue.frames] == [4]
        assert [f.header.sequence for f in both.frames] == [3]
        assert sync_x.pool_address == QUICKSWAP_WMATIC_USDC != UNIV3_USDC_WETH


def test_resubscribing_with_no_filter_means_everything(sock_dir: Path, collectors) -> None:
    with RelayServer(sock_dir, [MD]) as relay:
        path = relay.socket_path(MD)
        sub = collectors(RelayClient(path, subscribe=Subscribe(tlv_types=(1,))))
        assert wait_for(lambda: relay.stats(MD).subscribes == 1)
        assert sub.client.connect()
        sub.client.send(subscribe_frame())
        assert wait_for(lambda: relay.stats(MD).subscribes == 2)
        with RelayProducer(path) as producer:
            producer.send(frames(1)[0])
            assert wait_for(lambda: len(sub.frames) == 1)


@pytest.mark.parametrize("mode", [0o660, 0o600])
def test_socket_mode_and_parent_directory(sock_dir: Path, mode: int) -> None:
    nested = sock_dir / "a" / "b"
    with RelayServer(nested, [MD], mode=mode) as relay:
        st = relay.socket_path(MD).stat()
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == mode


def test_stale_socket_is_replaced_live_one_refused(sock_dir: Path) -> None:
    stale = sock_dir / "market_data.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(stale))
    s.close()  # the file stays, nobody listens
    with RelayServer(sock_dir, [MD]) as relay:
        assert relay.wait_clients(MD, 0)
        with pytest.raises(StackError, match="served by a running relay"):
            RelayServer(sock_dir, [MD]).start()
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(str(relay.socket_path(MD)))  # the first relay still works
        assert relay.wait_clients(MD, 1)
        c.close()


def test_a_regular_file_in_the_way_is_not_deleted(sock_dir: Path) -> None:
    (sock_dir / "market_data.sock").write_text("keep me")
    with pytest.raises(StackError, match="exists and is not a socket"):
        RelayServer(sock_dir, [MD]).start()
    assert (sock_dir / "market_data.sock").read_text() == "keep me"


def test_too_long_socket_path_is_a_clear_error(sock_dir: Path) -> None:
    with pytest.raises(StackError, match="longer than 107 bytes"):
        RelayServer(sock_dir / ("x" * 120), [MD]).start()
    assert os.listdir(sock_dir) == []


def test_a_sender_that_closes_at_once_has_every_frame_it_sent_forwarded(sock_dir: Path) -> None:
    """A sender that closes right after its last frame, its echoes unread: the relay's echo to it then fails, and
    that must not cut short the reading of what it wrote before closing (the read side drains to the end)."""
    with RelayServer(sock_dir) as relay:
        path = str(relay.socket_path(MD))
        data = b"".join(frames(3_000))
        for _ in range(10):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
                s.sendall(data)
        assert wait_for(lambda: relay.stats(MD).frames_in == 30_000 and relay.stats(MD).clients == 0), relay.stats(MD)
