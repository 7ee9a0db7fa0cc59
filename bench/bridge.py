"""Bridge benchmark: Protocol V2 decode rate, and relay -> Kafka throughput of the bridge flow.

Runs on a local stack it starts itself (a Tansu broker on a free loopback port) and measures, in one run:

- ``decode``: PoolSync frames per CPU second through ``flows.relay.codec.decode_frame`` (header, checksum policy,
  TLV walk, objects) against a bare ``struct.unpack_from`` of the same header and PoolSync fields over the same
  bytes (per core: thread CPU time, so a busy machine does not charge other processes' time to the decoder).
- ``bridge``: records/s from a relay socket to ``market.pool_sync`` through the real bridge flow (a
  ``python -m flows.run`` process on flows/specs/bridge.yaml), against confluent-kafka producing the bridge's own
  output bytes (the same Avro payloads and keys, pre-encoded) straight to the same broker with the same producer
  settings. The relay side is a stand-in that writes the frames' bytes verbatim, as AlphaPulse's relay forwards
  reads, so the measurement is the bridge's, not a Python relay's. Both paths first deliver ``--warmup`` records
  untimed (connections, metadata); then the clock runs from the first byte written to the relay socket (or the
  first produce) until the topic holds every record (end offsets from fetch watermarks) or the producer flushed.

Frames are the local market's (ops/market: PoolSync frames from real Coinbase minute bars). Goals
(docs/architecture.md): decode >= 500k frames/s per core; bridge >= 100k records/s per process and >= 0.6 of raw
produce. The last line is the JSON object of DESIGN.md's benchmark section.

Usage: ``.venv/bin/python bench/bridge.py [--frames N] [--decode-seconds S]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from flows.bridge import route_frame  # noqa: E402
from flows.relay.codec import decode_frame  # noqa: E402
from flows.relay.header import HEADER_STRUCT  # noqa: E402
from flows.spec import SPECS_DIR, load_spec  # noqa: E402
from ops.flowproc import FlowProcess  # noqa: E402
from ops.kafka_counts import TopicCounter  # noqa: E402
from ops.market import model  # noqa: E402
from ops.stack import stack  # noqa: E402
from ops.topics import apply as apply_topics  # noqa: E402
from ops.topics import load_topics  # noqa: E402
from schemas.serde import codec  # noqa: E402
from sinks.kafka import producer_config  # noqa: E402

TOPIC = "market.pool_sync"
RAW_TOPIC = "bench.raw_produce"
_SYNC_BODY = struct.Struct("<QQQQQQHBB12x20s12x20s12x20s12x")  # PoolSync's 160 bytes, as the reference lays them out


def log(text: str) -> None:
    """Human progress on stderr-like stdout lines (the JSON line stays last)."""
    print(text, flush=True)


def market_frames(count: int) -> list[bytes]:
    """``count`` PoolSync frames of the local market (4 pools, one frame per pool and block)."""
    blocks = -(-count // len(model.default_pools()))
    return [e.frame for e in model.generate(blocks, seed=5)][:count]


def _rate(fn, items: int, seconds: float) -> float:
    """Best-of-repeats rate of ``fn()`` (which handles ``items`` items) per CPU second of this thread.

    CPU time, not wall time: the goal is per core, and the machine may be shared, so time spent preempted by other
    processes is not charged to the code measured.
    """
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while True:
        t = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t)
        if time.perf_counter() > deadline:
            return items / best


def bench_decode(frames: list[bytes], seconds: float) -> tuple[float, float]:
    """Return (decode_frame frames/s, struct.unpack_from frames/s) over the same frames."""
    head, body = HEADER_STRUCT.unpack_from, _SYNC_BODY.unpack_from

    def codec_run() -> None:
        for f in frames:
            decode_frame(f)

    def struct_run() -> None:
        for f in frames:
            head(f, 0)
            body(f, 34)

    value = _rate(codec_run, len(frames), seconds)
    baseline = _rate(struct_run, len(frames), seconds)
    return value, baseline


def bridge_output(frames: list[bytes]) -> list[tuple[bytes, bytes]]:
    """The (key, value) records the bridge produces for ``frames`` (trace stamps aside, same sizes)."""
    enc = codec(TOPIC).encode
    out = []
    for raw in frames:
        frame = decode_frame(raw)
        trace = {"relay_ns": frame.header.timestamp, "bridge_in_ns": time.time_ns(), "bridge_out_ns": time.time_ns()}
        (routed,), _ = route_frame(frame, trace)
        out.append((routed.key.encode(), enc(routed.record)))
    return out


def wait_count(counter: TopicCounter, topic: str, count: int, timeout_s: float, proc: FlowProcess | None) -> float:
    """Poll until ``topic`` holds ``count`` records; return the monotonic time it was seen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if counter.count(topic) >= count:
            return time.monotonic()
        if proc is not None and not proc.alive():
            raise SystemExit(f"bridge exited with {proc.proc.returncode}:\n{proc.tail()}")
        time.sleep(0.05)
    raise SystemExit(f"{topic} did not reach {count} records within {timeout_s:.0f} s")


def _produce_all(producer: Producer, records: list[tuple[bytes, bytes]]) -> None:
    for key, value in records:
        while True:
            try:
                producer.produce(RAW_TOPIC, value, key)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    left = producer.flush(30)
    if left:
        raise SystemExit(f"raw produce: {left} records undelivered")


def bench_raw_produce(bootstrap: str, records: list[tuple[bytes, bytes]], warmup: int) -> float:
    """Records/s of confluent-kafka producing ``records`` with the bridge's producer settings, until flushed.

    The first ``warmup`` records (connection, metadata, first batches) are not timed, as for the bridge.
    """
    producer = Producer(producer_config(bootstrap))
    _produce_all(producer, records[:warmup])
    cpu, t = time.process_time(), time.monotonic()
    _produce_all(producer, records[warmup:])
    elapsed, n = time.monotonic() - t, len(records) - warmup
    used = time.process_time() - cpu
    log(f"  raw producer used {used / elapsed:.2f} cores, {used / n * 1e6:.1f} us CPU per record")
    return n / elapsed


class StreamRelay:
    """A relay stand-in: one Unix socket, one client, bytes written verbatim."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(1)
        self.client: socket.socket | None = None

    def accept(self, timeout_s: float) -> None:
        """Wait for the bridge to connect."""
        self._server.settimeout(timeout_s)
        self.client, _ = self._server.accept()
        self.client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)

    def send(self, data: bytes) -> None:
        """Write every byte (blocks while the bridge is behind)."""
        assert self.client is not None
        self.client.sendall(data)

    def close(self) -> None:
        """Close both sockets."""
        if self.client is not None:
            self.client.close()
        self._server.close()


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_bridge(bootstrap: str, frames: list[bytes], warmup: int, work: Path, counter: TopicCounter) -> float:
    """Records/s through the bridge flow process, relay socket to topic (the first ``warmup`` frames untimed)."""
    relay = StreamRelay(work / "market_data.sock")
    proc = FlowProcess(load_spec(SPECS_DIR / "bridge.yaml"), bootstrap, work / "logs", relay_socket=str(relay.path))
    proc.start()
    try:
        relay.accept(timeout_s=30)
        relay.send(b"".join(frames[:warmup]))
        wait_count(counter, TOPIC, warmup, 30, proc)
        log(f"  bridge connected, {warmup} warm-up records delivered; sending {len(frames) - warmup}")
        stream = b"".join(frames[warmup:])
        cpu = _cpu_s(proc.pid or 0)
        t = time.monotonic()
        sender = threading.Thread(target=relay.send, args=(stream,), daemon=True)
        sender.start()
        done = wait_count(counter, TOPIC, len(frames), 40, proc)
        sender.join(timeout=5)
        used, n = _cpu_s(proc.pid or 0) - cpu, len(frames) - warmup
        log(f"  bridge process used {used / (done - t):.2f} cores, {used / n * 1e6:.1f} us CPU per record")
        return n / (done - t)
    finally:
        relay.close()
        code = proc.stop(timeout_s=20)
        if code not in (0, None):
            log(f"  bridge exit code {code}; log tail:\n{proc.tail()}")


def main(argv: list[str] | None = None) -> int:
    """Run both measurements and print the table and the JSON line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=60_000, help="frames through the bridge and the raw producer")
    p.add_argument("--warmup", type=int, default=4_000, help="records sent before timing starts (both paths)")
    p.add_argument("--decode-seconds", type=float, default=2.0, help="time per decode measurement")
    args = p.parse_args(argv)
    started = time.monotonic()

    frames = market_frames(args.frames)
    log(f"{len(frames)} PoolSync frames of {len(frames[0])} bytes (local market, 4 pools)")
    decode, decode_base = bench_decode(frames[:20_000], args.decode_seconds)
    log(f"decode: {decode:,.0f} frames/s; struct.unpack_from baseline {decode_base:,.0f} frames/s")

    work = Path(tempfile.mkdtemp(prefix="parb-bench-", dir="/tmp"))
    try:
        info = stack.up(work / "stack", chain=False, store=False)
        assert info.bootstrap
        log(f"broker {info.bootstrap}")
        apply_topics(info.bootstrap, load_topics())
        partitions = next(t.partitions for t in load_topics() if t.name == TOPIC)
        admin = AdminClient({"bootstrap.servers": info.bootstrap})
        for f in admin.create_topics([NewTopic(RAW_TOPIC, partitions, 1)]).values():
            f.result()
        counter = TopicCounter(info.bootstrap)
        records = bridge_output(frames)
        raw = bench_raw_produce(info.bootstrap, records, args.warmup)
        log(f"raw produce: {raw:,.0f} records/s ({len(records) - args.warmup} pre-encoded records, same settings)")
        bridge = bench_bridge(info.bootstrap, frames, args.warmup, work, counter)
        log(f"bridge: {bridge:,.0f} records/s relay -> {TOPIC}")
        counter.close()
    finally:
        stack.down(work / "stack")
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "decode": {"value": round(decode), "baseline": round(decode_base), "ratio": round(decode / decode_base, 3)},
        "bridge": {"value": round(bridge), "baseline": round(raw), "ratio": round(bridge / raw, 3)},
    }
    log("")
    log(f"{'measure':<8} {'value/s':>12} {'baseline/s':>12} {'ratio':>7}  goal")
    goal = ">= 500,000 frames/s per core"
    log(f"{'decode':<8} {decode:>12,.0f} {decode_base:>12,.0f} {decode / decode_base:>7.3f}  {goal}")
    log(f"{'bridge':<8} {bridge:>12,.0f} {raw:>12,.0f} {bridge / raw:>7.3f}  >= 100,000 records/s and ratio >= 0.6")
    log(f"({time.monotonic() - started:.1f} s)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
