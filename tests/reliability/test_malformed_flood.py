"""Drill (d): 100k malformed frames mixed with good ones reach the bridge.

Every good frame is delivered once, every bad byte is on dlq.relay with its raw bytes, memory stays bounded.
The relay here forwards raw chunks as AlphaPulse's relay does (it checks only the chunk's first header), so bad
bytes inside chunks reach the consumer: exactly what the bridge must survive.
"""

from __future__ import annotations

import os
import random
import socket
import struct
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from flows.spec import load_specs
from ops.control.flowproc import FlowProcess
from ops.control.kafka_counts import TopicCounter
from ops.control.topics import apply, load_topics
from ops.simulator.market import model
from ops.simulator.stack import stack
from schemas.serde import codec
from sinks.kafka import client_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BAD = 100_000
GOOD = 20_000


def _bad_items(rng: random.Random, good: bytes) -> list[bytes]:
    """Malformed material that never contains the magic, so each piece is exactly one dead range."""
    items = []
    for i in range(BAD):
        kind = i % 4
        if kind == 0:  # garbage
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        elif kind == 1:  # a header with a domain AlphaPulse never uses
            raw = b"\xef\xbe\xad\xde" + bytes([9]) + good[5:]
        elif kind == 2:  # payload_size far above the market-data limit: must be an error, not an allocation
            raw = good[:24] + struct.pack("<I", 50_000_000) + good[28:]
        else:  # a TLV whose declared length runs past the payload
            raw = good[:32] + bytes([16, 250]) + good[34:]
        items.append(raw)
    return items


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_flood_of_malformed_frames(tmp_path: Path) -> None:
    info = stack.up(tmp_path, chain=False, store=False)
    rng = random.Random(5)
    goods = [e.frame for e in model.generate(GOOD // 4, seed=9)][:GOOD]
    bads = _bad_items(rng, goods[0])
    stream: list[bytes] = []
    per_good = BAD // len(goods)
    for i, g in enumerate(goods):
        stream.append(g)
        stream.extend(bads[i * per_good : (i + 1) * per_good])
    assert all(b"\xef\xbe\xad\xde" not in b[1:] for b in bads), "a bad piece must not hide a magic"
    bad_bytes = sum(len(b) for b in bads)
    sent_bad = len(bads)
    path = tmp_path / "relay.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    bridge_spec = next(s for s in load_specs() if s.kind == "bridge")
    try:
        apply(info.bootstrap or "", load_topics())
        bridge = FlowProcess(bridge_spec, info.bootstrap or "", tmp_path / "logs", relay_socket=str(path))
        bridge.start()
        conn, _ = server.accept()
        rss_start = _rss_kb(bridge.pid or 0)
        peak = rss_start
        data = b"".join(stream)
        sender = threading.Thread(
            target=lambda: [conn.sendall(data[i : i + 65536]) for i in range(0, len(data), 65536)]
        )
        sender.start()
        counter = TopicCounter(info.bootstrap or "")
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            peak = max(peak, _rss_kb(bridge.pid or 0))
            if counter.count("market.pool_sync") >= len(goods) and counter.count("dlq.relay") >= 1:
                time.sleep(1)
                break
            time.sleep(0.5)
        sender.join()
        conn.close()
        assert bridge.stop() == 0, bridge.tail()
        delivered = counter.count("market.pool_sync")
        dead = _read_all(info.bootstrap or "", "dlq.relay")
        counter.close()
    finally:
        server.close()
        stack.down(tmp_path)
    dead_bytes = sum(len(codec("dlq.relay").decode(v)["raw"]) for v in dead)
    print(
        f"sent_good={len(goods)} sent_bad={sent_bad} bad_bytes={bad_bytes} delivered={delivered} "
        f"dlq_records={len(dead)} dlq_bytes={dead_bytes} rss_start_kb={rss_start} rss_peak_kb={peak}"
    )
    assert delivered == len(goods)
    assert dead_bytes == bad_bytes, "every bad byte, and only those, is dead-lettered"
    # Adjacent bad pieces may merge into one dead range, but every gap between good frames is at least one record.
    assert len(dead) >= len(goods)
    assert peak - rss_start < 300_000, "memory must stay bounded while 100k bad frames flow"


def _read_all(bootstrap: str, topic: str) -> list[bytes]:
    consumer = Consumer(client_config(bootstrap, {"group.id": f"drill-{os.getpid()}", "enable.partition.eof": True}))
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    parts = sorted(meta.partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])
    values, eof = [], set()
    deadline = time.monotonic() + 60
    while len(eof) < len(parts) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            eof.add(msg.partition())
            continue
        values.append(msg.value())
    consumer.close()
    return values
