"""ops/simulator/replay.py: frames into a relay through RelayProducer (echo drained), restamped with the send time."""

from __future__ import annotations

import threading
import time
import zlib
from pathlib import Path

import pytest

from base.errors import StackError
from flows.relay.client import RelayClient
from flows.relay.codec import ChecksumPolicy, Frame, decode_frame
from flows.relay.protocol import RelayDomain
from flows.relay.server import RelayServer
from ops.simulator.replay import replay, restamp
from tests.bridge.streams import frame
from tests.relay.helpers import sample_tlvs


def test_restamp_rewrites_the_timestamp_and_keeps_the_checksum_valid() -> None:
    raw = frame(sample_tlvs()["PoolSync"], 3)
    again = restamp(raw, 1_800_000_000_000_000_000)
    decoded = decode_frame(again, policy=ChecksumPolicy.every(allow_zero=False))
    assert decoded.header.timestamp == 1_800_000_000_000_000_000 and decoded.checksum_ok
    assert again[28:32] == zlib.crc32(again[:28] + again[32:]).to_bytes(4, "little")
    unchecked = raw[:28] + b"\x00" * 4 + raw[32:]
    assert restamp(unchecked, 5)[28:32] == b"\x00" * 4  # checksum 0 stays "not computed"


def test_replay_delivers_every_frame_restamped_and_survives_its_own_echo(sock_dir: Path) -> None:
    frames = [frame(sample_tlvs()["PoolSync"], i) for i in range(1, 3001)]
    got: list[Frame] = []
    with RelayServer(sock_dir, domains=(RelayDomain.MARKET_DATA,)) as relay:
        path = relay.socket_path(RelayDomain.MARKET_DATA)
        client = RelayClient(path, connect_timeout_s=5)
        thread = threading.Thread(target=lambda: got.extend(client.frames()), daemon=True)
        thread.start()
        assert relay.wait_clients(RelayDomain.MARKET_DATA, 1)
        before = time.time_ns()
        stats = replay(str(path), [(i * 1000, f) for i, f in enumerate(frames)], speed=0)
        deadline = time.monotonic() + 10
        while len(got) < len(frames) and time.monotonic() < deadline:
            time.sleep(0.01)
        client.close()
        thread.join(timeout=5)
        dropped = relay.stats(RelayDomain.MARKET_DATA).slow_dropped
    assert (stats.frames, stats.bytes) == (len(frames), sum(map(len, frames)))
    assert [f.header.sequence for f in got] == list(range(1, 3001))
    assert all(f.header.timestamp >= before for f in got)
    assert dropped == 0


def test_replay_to_a_missing_relay_fails_in_one_line(sock_dir: Path) -> None:
    with pytest.raises(StackError, match="cannot connect to relay") as info:
        replay(str(sock_dir / "absent.sock"), [(0, b"")], connect_timeout_s=0.2)
    assert "\n" not in str(info.value)
