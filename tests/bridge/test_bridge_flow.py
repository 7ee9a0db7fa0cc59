"""The bridge flow end to end: a mixed stream of good and bad frames -> relay -> bridge process -> Kafka.

Two relays feed the real bridge (``python -m flows.run`` on flows/specs/bridge.yaml): pulsearb's RelayServer, fed
through ops/simulator/replay.py, and a stand-in that forwards bytes verbatim as AlphaPulse's relay forwards reads
(garbage,
cut frames and a cut tail then reach the bridge itself). Either way every good frame is on its topic exactly once,
every bad byte range is on dlq.relay with its raw bytes, stage and stream offset, and the Prometheus counters the
process serves agree with what Kafka holds.
"""

from __future__ import annotations

import random
import re
import socket
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from flows.relay.protocol import RelayDomain
from flows.relay.server import RelayServer
from flows.spec import SPECS_DIR, load_spec
from ops.control.flowproc import FlowProcess
from ops.simulator.replay import replay
from ops.simulator.stack.process import free_port
from ops.simulator.stack.stack import StackInfo
from schemas.serde import codec
from tests.bridge.conftest import Stored, read_topic
from tests.bridge.streams import RAW_KINDS, RELAY_KINDS, TOPIC_OF, Piece, frame, mixed
from tests.relay.helpers import sample_tlvs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOPICS = sorted({*TOPIC_OF.values(), "dlq.relay"})


def _snapshot(bootstrap: str) -> dict[str, set[tuple[int, int]]]:
    return {t: {(r.partition, r.offset) for r in read_topic(bootstrap, t)} for t in TOPICS}


def _new_records(bootstrap: str, before: dict[str, set[tuple[int, int]]]) -> dict[str, list[Stored]]:
    return {t: [r for r in read_topic(bootstrap, t) if (r.partition, r.offset) not in before[t]] for t in TOPICS}


def _wait_for(bootstrap: str, before: dict, expected: Counter, bridge: FlowProcess, timeout_s: float = 90) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        assert bridge.alive(), bridge.tail()
        new = _new_records(bootstrap, before)
        if all(len(new[t]) >= n for t, n in expected.items()):
            time.sleep(0.5)  # anything extra (a duplicate) would show up now
            return _new_records(bootstrap, before)
        assert time.monotonic() < deadline, {t: (len(new[t]), n) for t, n in expected.items()}
        time.sleep(0.3)


def _metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        body = resp.read().decode()
    out = {}
    for line in body.splitlines():
        m = re.match(r'^(pulsearb_[a-z_]+)\{flow="bridge"(?:,(\w+)="([^"]*)")?\} ([0-9.e+]+)$', line)
        if m:
            name, _, label, value = m.groups()
            out[f"{name}:{label}" if label else name] = float(value)
    return out


def _start_bridge(info: StackInfo, socket_path: Path, log_dir: Path) -> tuple[FlowProcess, int]:
    port = free_port()
    bridge = FlowProcess(
        load_spec(SPECS_DIR / "bridge.yaml"), info.bootstrap or "", log_dir, relay_socket=str(socket_path),
        metrics_port=port,
    )  # fmt: skip
    bridge.start()
    return bridge, port


def _check_delivered(pieces: list[Piece], fate: str, new: dict[str, list[Stored]]) -> Counter:
    """Every good frame exactly once on its topic; return the dead letters per stage."""
    delivered = Counter()
    for topic in set(TOPIC_OF.values()):
        for r in new[topic]:
            delivered[(topic, codec(topic).decode(r.value)["sequence"])] += 1
    expected = Counter((p.topic, p.sequence) for p in pieces if getattr(p, fate) == "deliver")
    assert delivered == expected
    return Counter(codec("dlq.relay").decode(r.value)["stage"] for r in new["dlq.relay"])


def test_relay_server_to_kafka_reconciles(bridge_broker: StackInfo, sock_dir: Path, tmp_path: Path) -> None:
    rng = random.Random(20251126)
    pieces = mixed(rng, goods=300, kinds=RELAY_KINDS)
    before = _snapshot(bridge_broker.bootstrap or "")
    relay = RelayServer(sock_dir, domains=(RelayDomain.MARKET_DATA,)).start()
    bridge, port = _start_bridge(bridge_broker, relay.socket_path(RelayDomain.MARKET_DATA), tmp_path)
    try:
        assert relay.wait_clients(RelayDomain.MARKET_DATA, 1, timeout=90), bridge.tail()
        sent = replay(
            str(relay.socket_path(RelayDomain.MARKET_DATA)), [(0, p.raw) for p in pieces], speed=0, stamp=False
        )
        assert sent.frames == len(pieces)
        expected = Counter(p.topic for p in pieces if p.fate == "deliver")
        expected["dlq.relay"] = sum(1 for p in pieces if p.fate in ("route", "encode", "frame"))
        new = _wait_for(bridge_broker.bootstrap or "", before, expected, bridge)
        metrics = _metrics(port)
    finally:
        code = bridge.stop(timeout_s=30)
        stats = relay.stats(RelayDomain.MARKET_DATA)
        relay.stop()
    assert code == 0, bridge.tail()

    stages = _check_delivered(pieces, "fate", new)
    assert stages == Counter(p.fate for p in pieces if p.fate in ("route", "encode", "frame"))
    # Dead letters hold the forwarded frame's bytes at its offset in the stream the bridge read.
    forwarded, offsets, pos = [p for p in pieces if p.fate != "relay"], {}, 0
    for p in forwarded:
        offsets[p.raw] = pos
        pos += len(p.raw)
    for r in new["dlq.relay"]:
        dead = codec("dlq.relay").decode(r.value)
        assert offsets[dead["raw"]] == dead["offset"], dead["reason"]
    # The relay dropped what it could not forward, as AlphaPulse's does.
    assert stats.dead_in == sum(1 for p in pieces if p.fate == "relay" and not p.raw.startswith(b"\xef\xbe\xad\xde"))
    assert stats.foreign == sum(1 for p in pieces if p.fate == "relay" and p.raw.startswith(b"\xef\xbe\xad\xde"))
    # The counters the process serves agree with Kafka.
    assert metrics["pulsearb_relay_bytes_total"] == pos
    assert metrics["pulsearb_records_in_total:relay"] == len(forwarded) - stages["frame"]  # frames decoded
    for stage in ("route", "encode", "frame"):
        assert metrics.get(f"pulsearb_dead_letters_total:{stage}", 0) == stages[stage]
    for topic, n in expected.items():
        assert metrics[f"pulsearb_records_out_total:{topic}"] == n
    print(
        f"sent={len(pieces)} good={sum(expected.values()) - expected['dlq.relay']} "
        f"delivered={ {t: len(new[t]) for t in TOPICS if new[t]} } dlq={dict(stages)} "
        f"relay_dropped={stats.dead_in + stats.foreign}"
    )


def test_raw_stream_with_garbage_and_a_cut_tail_reconciles(
    bridge_broker: StackInfo, sock_dir: Path, tmp_path: Path
) -> None:
    rng = random.Random(7)
    pieces = [p for p in mixed(rng, goods=200, kinds=RAW_KINDS, bad_every=2)]
    tail = frame(sample_tlvs()["PoolSync"], 999_999)[:20]  # the producer died inside a header
    pieces.append(Piece(tail, "relay", "frame"))
    stream = b"".join(p.raw for p in pieces)
    before = _snapshot(bridge_broker.bootstrap or "")
    path = sock_dir / "market_data.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(90)
    bridge, port = _start_bridge(bridge_broker, path, tmp_path)
    try:
        conn, _ = server.accept()
        for i in range(0, len(stream), 4096):  # reads end anywhere, frames straddle them
            conn.sendall(stream[i : i + 4096])
        conn.close()  # the bridge flushes its framer: the cut tail becomes a dead letter
        expected = Counter(p.topic for p in pieces if p.raw_fate == "deliver")
        # Dead ranges next to each other merge, so count the frame-stage letters as runs of adjacent dead pieces.
        runs = sum(
            1
            for a, b in zip([None, *pieces], pieces, strict=False)
            if b.raw_fate == "frame" and (a is None or a.raw_fate != "frame")
        )
        expected["dlq.relay"] = runs + sum(1 for p in pieces if p.raw_fate in ("route", "encode"))
        new = _wait_for(bridge_broker.bootstrap or "", before, expected, bridge)
        metrics = _metrics(port)
    finally:
        code = bridge.stop(timeout_s=30)
        server.close()
    assert code == 0, bridge.tail()

    stages = _check_delivered(pieces, "raw_fate", new)
    assert stages["frame"] == runs
    # Good frames at their known offsets plus the frame-stage dead letters tile the stream exactly.
    spans, pos = [], 0
    for p in pieces:
        if p.raw_fate != "frame":
            spans.append((pos, len(p.raw)))
        pos += len(p.raw)
    dead_bytes = 0
    for r in new["dlq.relay"]:
        dead = codec("dlq.relay").decode(r.value)
        if dead["stage"] == "frame":
            assert stream[dead["offset"] : dead["offset"] + len(dead["raw"])] == dead["raw"]
            spans.append((dead["offset"], len(dead["raw"])))
            dead_bytes += len(dead["raw"])
    spans.sort()
    pos = 0
    for start, length in spans:
        assert start == pos, f"gap or overlap at byte {pos}"
        pos += length
    assert pos == len(stream)
    last = max((codec("dlq.relay").decode(r.value) for r in new["dlq.relay"]), key=lambda d: d["offset"])
    assert last["raw"].endswith(tail) and "truncated" in last["reason"]
    assert metrics["pulsearb_relay_bytes_total"] == len(stream)
    assert metrics.get("pulsearb_dead_letters_total:frame", 0) == runs
    print(
        f"sent_bytes={len(stream)} good={sum(1 for p in pieces if p.raw_fate == 'deliver')} "
        f"bad_pieces={sum(1 for p in pieces if p.raw_fate != 'deliver')} dlq={dict(stages)} dead_bytes={dead_bytes}"
    )
