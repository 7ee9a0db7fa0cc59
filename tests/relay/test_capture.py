"""Capture files (format, round trip, damage) and record/replay through a live relay."""

from __future__ import annotations

import struct
import threading
import time
from pathlib import Path

import pytest

from flows.relay.capture import (
    CAPTURE_MAGIC,
    CaptureError,
    CaptureRecord,
    CaptureWriter,
    iter_capture,
    read_capture,
    read_capture_info,
    write_capture,
)
from flows.relay.codec import decode_frame, encode_frame
from flows.relay.playback import record, replay, replay_schedule
from flows.relay.protocol import RelayDomain
from flows.relay.server import RelayServer

from .conftest import wait_for
from .helpers import sample_tlvs

S = sample_tlvs()
MD = RelayDomain.MARKET_DATA


def frames(n: int) -> list[bytes]:
    return [encode_frame(1, 4, [S["PoolSync"]], sequence=i + 1, timestamp_ns=i) for i in range(n)]


def test_round_trip_and_exact_format(tmp_path: Path) -> None:
    raws = frames(3)
    times = [1_000, 2_500, 9_000]
    path = tmp_path / "c.parbcap"
    frame_obj = decode_frame(raws[1])
    assert write_capture(path, [(times[0], raws[0]), (times[1], frame_obj), (times[2], raws[2])]) == 3
    assert read_capture(path) == [CaptureRecord(t, r) for t, r in zip(times, raws, strict=True)]
    assert read_capture_info(path).start_ns == 1_000
    blob = path.read_bytes()
    assert blob[:16] == CAPTURE_MAGIC + struct.pack("<Q", 1_000)
    assert blob[16:28] == struct.pack("<QI", 1_000, len(raws[0]))
    assert blob[28 : 28 + len(raws[0])] == raws[0]
    assert len(blob) == 16 + sum(12 + len(r) for r in raws)


def test_empty_capture(tmp_path: Path) -> None:
    path = tmp_path / "empty.parbcap"
    assert write_capture(path, []) == 0
    assert read_capture(path) == []


def test_a_partial_last_record_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "c.parbcap"
    write_capture(path, [(1, r) for r in frames(2)])
    blob = path.read_bytes()
    for cut in (5, 20):
        path.write_bytes(blob[:-cut])
        assert [r.data for r in iter_capture(path)] == frames(1)
    path.write_bytes(blob[: len(blob) - len(frames(1)[0]) - 12 + 6])  # inside the second record's header
    assert len(read_capture(path)) == 1


def test_not_a_capture_and_corrupt_lengths_are_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"NOTACAPTURE12345")
    with pytest.raises(CaptureError, match="is not a pulsearb capture"):
        read_capture(bad)
    with pytest.raises(CaptureError, match="cannot open capture"):
        read_capture(tmp_path / "missing")
    with CaptureWriter(bad) as w:
        w.write(1, b"x")
    bad.write_bytes(bad.read_bytes()[:16] + struct.pack("<QI", 1, 1 << 30))
    with pytest.raises(CaptureError, match="corrupt capture"):
        read_capture(bad)


def test_replay_schedule_scales_recorded_gaps() -> None:
    recs = [CaptureRecord(5 * 10**9, b"a"), CaptureRecord(6 * 10**9, b"b"), CaptureRecord(9 * 10**9, b"c")]
    assert list(replay_schedule(recs, 1.0)) == [(0.0, b"a"), (1.0, b"b"), (4.0, b"c")]
    assert list(replay_schedule(recs, 4.0)) == [(0.0, b"a"), (0.25, b"b"), (1.0, b"c")]
    assert [t for t, _ in replay_schedule(recs, None)] == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="must be positive"):
        list(replay_schedule(recs, 0))


def test_record_then_replay_through_a_relay(sock_dir: Path, tmp_path: Path) -> None:
    sent = frames(40)
    source = tmp_path / "source.parbcap"
    write_capture(source, [(i * 5_000_000, raw) for i, raw in enumerate(sent)])  # 5 ms apart
    recorded = tmp_path / "recorded.parbcap"
    with RelayServer(sock_dir, [MD]) as relay:
        path = relay.socket_path(MD)
        stop = threading.Event()
        result: list = []
        recorder = threading.Thread(target=lambda: result.append(record(path, recorded, stop=stop)), daemon=True)
        recorder.start()
        assert relay.wait_clients(MD, 1)
        began = time.monotonic()
        assert replay(iter_capture(source), path, speed=2.0) == 40
        elapsed = time.monotonic() - began
        assert wait_for(lambda: relay.stats(MD).frames_out >= 80)  # recorder and replayer both get each frame
        time.sleep(0.1)
        stop.set()
        recorder.join(timeout=5)
    assert 39 * 0.005 / 2 * 0.9 <= elapsed < 2.0  # paced at twice the recorded speed
    assert [r.data for r in read_capture(recorded)] == sent
    assert result[0].frames == 40 and result[0].dead == 0
    times = [r.recv_ns for r in read_capture(recorded)]
    assert times == sorted(times)


def test_record_duration_and_as_fast_as_possible(sock_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "source.parbcap"
    write_capture(source, [(i * 10**9, raw) for i, raw in enumerate(frames(5))])  # 1 s apart as recorded
    with RelayServer(sock_dir, [MD]) as relay:
        path = relay.socket_path(MD)
        out = tmp_path / "out.parbcap"
        t = threading.Thread(target=lambda: record(path, out, duration_s=0.6), daemon=True)
        t.start()
        assert relay.wait_clients(MD, 1)
        began = time.monotonic()
        assert replay(read_capture(source), path, speed=None) == 5
        assert time.monotonic() - began < 1.0
        t.join(timeout=5)
        assert not t.is_alive()
    assert [r.data for r in read_capture(out)] == frames(5)
