"""Bridge benchmark: the bridge's decode rate, and relay -> Kafka throughput of the bridge flow.

Runs on a local stack it starts itself (a Tansu broker on a free loopback port) and measures, in one run:

- ``decode``: frames per CPU second through exactly what the bridge process does with a relay read before
  producing: ``flows.bridge.Router.feed`` (framing, the bridge's checksum policy: every non-zero CRC verified,
  decoding, routing, Avro encoding) over the local market's PoolSync frames, cut into the reads the relay source
  hands on while the relay is busy (1 MiB), with the flow process's GC settings; against the bare minimum of
  reading the same bytes: ``struct.unpack_from`` of the header and the TLV's fields plus ``zlib.crc32`` of each
  frame, the same checks the bridge cannot skip. Thread CPU time, so a busy machine does not charge other
  processes' time. The median of ``--rounds`` rounds over ``--decode-frames`` distinct frames each. The same is
  reported (``decode.mix``) for the local market's whole stream (PoolSync, Quote, Trade, GasPrice: hot types and
  one that is not), and for the general path (``Router(fast=False)``: every frame decoded to objects, the
  reference the fast path equals).
- ``bridge``: records/s from a relay socket to ``market.pool_sync`` through the real bridge flow (a
  ``python -m flows.run`` process on flows/specs/bridge.yaml), against confluent-kafka producing the bridge's own
  output bytes (the same Avro payloads and keys, pre-encoded) straight to the same broker with the same producer
  settings. The relay side is a stand-in that writes the frames' bytes verbatim, as AlphaPulse's relay forwards
  reads, so the measurement is the bridge's, not a Python relay's. Both paths first deliver ``--warmup`` records
  untimed (connections, metadata); then the clock runs from the first byte written to the relay socket (or the
  first produce) until the topic holds every record (end offsets from fetch watermarks) or the producer flushed.

Frames are the local market's (ops/simulator/market: PoolSync frames from real Coinbase minute bars, with CRCs). Goals
(docs/architecture.md, issue 13): decode >= 1M frames/s per core; bridge >= 100k records/s per process and >= 0.25
of raw produce. The last line is the JSON object of DESIGN.md's benchmark section, with sample counts.

Usage: ``.venv/bin/python bench/bridge.py [--frames N] [--decode-frames N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from flows.bridge import Router, route_frame  # noqa: E402
from flows.relay.codec import decode_frame  # noqa: E402
from flows.relay.header import HEADER_STRUCT  # noqa: E402
from flows.relay.tlv import TLV_CLASSES  # noqa: E402
from flows.run import _tune_gc  # noqa: E402
from flows.spec import SPECS_DIR, load_spec  # noqa: E402
from ops.control.flowproc import FlowProcess  # noqa: E402
from ops.control.kafka_counts import TopicCounter  # noqa: E402
from ops.control.topics import apply as apply_topics  # noqa: E402
from ops.control.topics import load_topics  # noqa: E402
from ops.simulator.market import model  # noqa: E402
from ops.simulator.stack import stack  # noqa: E402
from schemas.serde import codec  # noqa: E402
from sinks.kafka import producer_config  # noqa: E402

TOPIC = "market.pool_sync"
RAW_TOPIC = "bench.raw_produce"
READ_SIZE = 1 << 20  # what the relay source hands on per read while the relay is busy (its max_read)
#: TLV type -> unpack of its value's fields, for the struct baseline (the layouts of flows/relay/tlv_*.py).
_BODIES = {
    16: struct.Struct("<QQQQQQHBB12x20s12x20s12x20s12x").unpack_from,  # PoolSync
    2: struct.Struct("<QqqqqQHBB4x").unpack_from,  # Quote
    17: struct.Struct("<QqqqqQHBB4x").unpack_from,  # QuoteUpdate
    1: struct.Struct("<QqqQHBBB3x").unpack_from,  # Trade
    18: struct.Struct("<QQIIIHH").unpack_from,  # GasPrice
}


def log(text: str) -> None:
    """Human progress on stderr-like stdout lines (the JSON line stays last)."""
    print(text, flush=True)


def market_frames(count: int) -> list[bytes]:
    """``count`` PoolSync frames of the local market (4 pools, one frame per pool and block)."""
    blocks = -(-count // len(model.default_pools()))
    return [e.frame for e in model.generate(blocks, seed=5)][:count]


def mixed_frames(count: int) -> list[bytes]:
    """The first ``count`` frames of the local market's whole stream: pools, Coinbase quotes and trades, gas."""
    out = []
    for _, frame in model.market_frames(-(-count // 4), seed=5):
        out.append(frame)
        if len(out) == count:
            break
    return out


def tlv_mix(frames: list[bytes]) -> str:
    """``PoolSync 84 %, Quote 9 %, ...`` of frames holding one TLV each."""
    names = collections.Counter(TLV_CLASSES[f[32]].NAME for f in frames)
    return ", ".join(f"{name} {n / len(frames):.0%}" for name, n in names.most_common())


def _median_rate(fn, items: int, rounds: int) -> float:
    """Median over ``rounds`` of the rate of ``fn()`` (which handles ``items`` items) per CPU second of this thread.

    CPU time, not wall time: the goal is per core, and the machine may be shared, so time spent preempted by other
    processes is not charged to the code measured. The first call (caches of pools and strings filling) is not
    counted.
    """
    fn()
    times = []
    for _ in range(rounds):
        t = time.thread_time()
        fn()
        times.append(time.thread_time() - t)
    return items / statistics.median(times)


def bench_decode(frames: list[bytes], rounds: int) -> dict[str, float]:
    """Frames/s of the bridge's read path, of the general path, and of the bare struct + CRC baseline."""
    stream = b"".join(frames)
    reads = [stream[i : i + READ_SIZE] for i in range(0, len(stream), READ_SIZE)]
    head, bodies, crc32 = HEADER_STRUCT.unpack_from, _BODIES, zlib.crc32

    def bridge_run(fast: bool = True) -> None:
        router = Router("bridge", fast=fast)  # the bridge's policy: every non-zero checksum verified
        for read in reads:
            router.feed(read, time.time_ns())
        if router.framer.frames != len(frames) or any(router.dead.values()):
            raise SystemExit(f"decode: {router.framer.frames} of {len(frames)} frames, dead letters {router.dead}")

    def struct_run() -> None:
        for f in frames:
            fields = head(f, 0)
            bodies[f[32]](f, 34)
            if crc32(f[32:], crc32(f[:28])) != fields[8]:
                raise SystemExit("decode baseline: checksum mismatch")

    return {
        "value": _median_rate(bridge_run, len(frames), rounds),
        "general": _median_rate(lambda: bridge_run(fast=False), len(frames), max(1, rounds // 2)),
        "baseline": _median_rate(struct_run, len(frames), rounds),
    }


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
    p.add_argument("--decode-frames", type=int, default=40_000, help="distinct frames per decode round")
    p.add_argument("--rounds", type=int, default=5, help="decode rounds (the median is reported)")
    args = p.parse_args(argv)
    started = time.monotonic()

    frames = market_frames(args.frames)
    log(f"{len(frames)} PoolSync frames of {len(frames[0])} bytes (local market, 4 pools)")
    _tune_gc()  # the bridge process's collector settings (flows/run.py), so the decode is timed as it runs there
    n_decode = min(args.decode_frames, len(frames))
    decode = bench_decode(frames[:n_decode], args.rounds)
    log(f"decode, PoolSync: {decode['value']:,.0f} frames/s (general path {decode['general']:,.0f}); "
        f"struct + crc32 baseline {decode['baseline']:,.0f} frames/s; {n_decode:,} frames x {args.rounds}")  # fmt: skip
    mix_frames = mixed_frames(n_decode)
    mix = bench_decode(mix_frames, args.rounds)
    log(f"decode, market mix ({tlv_mix(mix_frames)}): {mix['value']:,.0f} frames/s (general path "
        f"{mix['general']:,.0f}); baseline {mix['baseline']:,.0f} frames/s")  # fmt: skip

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

    def rates(d: dict[str, float]) -> dict[str, float]:
        return {
            "value": round(d["value"]),
            "baseline": round(d["baseline"]),
            "ratio": round(d["value"] / d["baseline"], 3),
        }

    sent = len(frames) - args.warmup
    result = {
        "decode": {
            **rates(decode),
            "samples": n_decode * args.rounds,
            "general": round(decode["general"]),
            "mix": {**rates(mix), "samples": n_decode * args.rounds, "general": round(mix["general"])},
        },
        "bridge": {"value": round(bridge), "baseline": round(raw), "ratio": round(bridge / raw, 3), "samples": sent},
    }
    log("")
    log(f"{'measure':<28} {'value/s':>12} {'baseline/s':>12} {'ratio':>7} {'samples':>9}  goal")
    rows = [
        (
            "decode PoolSync (bridge)",
            decode["value"],
            decode["baseline"],
            n_decode * args.rounds,
            ">= 1M frames/s/core",
        ),
        ("decode PoolSync (general)", decode["general"], decode["baseline"], n_decode * (args.rounds // 2), ""),
        ("decode market mix (bridge)", mix["value"], mix["baseline"], n_decode * args.rounds, ""),
        ("decode market mix (general)", mix["general"], mix["baseline"], n_decode * (args.rounds // 2), ""),
        ("bridge relay -> Kafka", bridge, raw, sent, ">= 100k records/s, ratio >= 0.25"),
    ]
    for name, value, base, samples, goal in rows:
        log(f"{name:<28} {value:>12,.0f} {base:>12,.0f} {value / base:>7.3f} {samples:>9,}  {goal}")
    log(f"({time.monotonic() - started:.1f} s)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
