"""Detection benchmark: detector throughput against a pass-through flow, and relay -> opportunity latency.

Runs on a local stack it starts itself (a Tansu broker on a free loopback port) and measures, in one run:

- ``throughput``: pool updates per second through the ``cross_dex`` detector flow with one worker
  (``flows/builders/detector.py``: decode, pool-state fold, event-time join per pair, strategy, gas step, sink),
  against a pass-through flow with the same Kafka source and sink doing the same sink work: it reads every record
  and produces the detector's own output (the opportunity payloads the detector wrote, read back from its topic,
  as many, spread evenly over the input), so the difference is the detection. The market has 200 tokens and
  1,000 constant-product pools on 3 venues (333 pairs on all three, one more pool); every pool is updated once per
  block at its pair's price with 0.05 % noise, and 1 % of the updates are shocked by 1-2 %, so a few percent of
  updates yield an opportunity. Both flows read the same pre-produced topic (4 partitions) to its end in-process;
  each flow's fixed cost (start-up, partition assignment, the drain's idle check at the end) is measured on an
  empty topic and subtracted. Rates are per CPU second of the process running the flow (its worker thread and
  librdkafka's), so that other load on a shared machine is not charged to the flow; wall-clock rates are printed
  beside them. Both flows run with the garbage-collector settings of a flow process (``flows/run.py``).
- ``latency``: the same market, a steady ``--rate`` PoolSync frames/s (default 2,000) replayed into a local relay
  (``flows.relay.server``, each frame stamped with its send time), through the bridge flow and the detector flow
  (each a ``python -m flows.run`` process, as ``pulsearb up`` runs them), to a consumer of ``arb.opportunity``:
  p50/p99 of (consumer receive time - the triggering frame's relay timestamp), over every opportunity of the timed
  window (the first second after a warm-up is not counted). After the last frame the bench waits until the bridge
  has delivered every frame and the opportunity topic has stopped growing (``--drain-seconds`` at most), so late
  opportunities are counted, not dropped; ``expected`` is the number of window opportunities on the topic,
  ``samples`` how many the consumer received, ``missing`` the difference. Per-hop quantiles come from the
  opportunities' traces.

Goals (docs/architecture.md, AlphaPulse): >= 50k updates/s per worker, >= 0.5 of pass-through, p99 <= 50 ms.
The last line is the JSON object of DESIGN.md's benchmark section.

Usage: ``.venv/bin/python bench/detect.py [--updates N] [--rate R] [--seconds S] [--drain-seconds D]``
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bytewax.operators as op  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.testing import run_main  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from flows.builders.common import RunEnv  # noqa: E402
from flows.builders.detector import detector_flow  # noqa: E402
from flows.connectors.kafka import KafkaRecord, KafkaSink, KafkaSource, OutRecord  # noqa: E402
from flows.relay.codec import encode_frame  # noqa: E402
from flows.relay.protocol import RelayDomain, SourceType  # noqa: E402
from flows.relay.server import RelayServer  # noqa: E402
from flows.relay.tlv import PoolSync  # noqa: E402
from flows.run import _tune_gc  # noqa: E402
from flows.spec import SPECS_DIR, load_spec  # noqa: E402
from ops.control.flowproc import FlowProcess  # noqa: E402
from ops.control.topics import apply as apply_topics  # noqa: E402
from ops.control.topics import load_topics  # noqa: E402
from ops.simulator.replay import replay  # noqa: E402
from ops.simulator.stack import stack  # noqa: E402
from schemas.serde import codec, u256  # noqa: E402
from sinks.kafka import KafkaWriter, client_config  # noqa: E402

TOKENS, POOLS, VENUES = 200, 1_000, (400, 401, 402)
BLOCK_NS = 2_000_000_000
T0 = 1_754_524_800_000_000_000


def log(text: str) -> None:
    """Human progress on stderr (stdout ends with the JSON line)."""
    print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Pool:
    """A pool of the synthetic market."""

    address: str
    venue: int
    token0: str
    token1: str
    decimals0: int
    decimals1: int
    depth_usd: float


class Market:
    """200 tokens with USD prices, 1,000 pools on 3 venues, and their updates (deterministic per seed)."""

    def __init__(self, seed: int = 3) -> None:
        rng = random.Random(seed)
        self.rng = rng
        addr = lambda s: "0x" + hashlib.sha256(s.encode()).hexdigest()[:40]  # noqa: E731
        self.tokens = [addr(f"token{i}") for i in range(TOKENS)]
        self.decimals = {t: rng.choice((6, 8, 18, 18, 18)) for t in self.tokens}
        self.usd = {t: math.exp(rng.uniform(math.log(0.05), math.log(50_000))) for t in self.tokens}
        pairs: set[tuple[str, str]] = set()
        while len(pairs) < POOLS // len(VENUES) + 1:
            a, b = rng.sample(self.tokens, 2)
            pairs.add((min(a, b), max(a, b)))
        self.pools = []
        for a, b in sorted(pairs):
            for venue in VENUES:
                if len(self.pools) < POOLS:
                    depth = math.exp(rng.uniform(math.log(2e5), math.log(2e7)))
                    self.pools.append(
                        Pool(addr(f"{venue}{a}{b}"), venue, a, b, self.decimals[a], self.decimals[b], depth)
                    )

    def reserves(self, pool: Pool, shock: float) -> tuple[int, int]:
        """Reserves at the tokens' USD prices, the second token's side moved by ``shock`` plus 0.05 % noise."""
        noise = self.rng.gauss(0, 0.0005) + shock
        r0 = pool.depth_usd / 2 / self.usd[pool.token0] * 10**pool.decimals0
        r1 = pool.depth_usd / 2 / self.usd[pool.token1] * (1 + noise) * 10**pool.decimals1
        return max(int(r0), 1), max(int(r1), 1)

    def updates(self, count: int, start: int = 0) -> list[tuple[Pool, int, int, int, int]]:
        """``(pool, block, sequence, reserve0, reserve1)``: every pool once per block, 1 % shocked by 1-2 %."""
        out = []
        for k in range(start, start + count):
            pool = self.pools[k % POOLS]
            shock = self.rng.choice((-1, 1)) * self.rng.uniform(0.01, 0.02) if self.rng.random() < 0.01 else 0.0
            out.append((pool, 50_000_000 + k // POOLS, k + 1, *self.reserves(pool, shock)))
        return out


def spec_text(name: str, topics: list[str], out_topic: str, market: Market) -> str:
    """A cross_dex detector spec for the synthetic market (every token priced in USD for gas and display)."""
    native = market.tokens[0]
    usd = ", ".join(f'"{t}": {market.usd[t]:.6g}' for t in market.tokens)
    dec = ", ".join(f'"{t}": {market.decimals[t]}' for t in market.tokens)
    return f"""version: 1
name: {name}
kind: detector
inputs: {{topics: [{", ".join(topics)}], start_offset: earliest}}
clock: {{type: event, wait_for_system_ms: 600000}}
strategy:
  name: cross_dex
  params:
    chain_id: 137
    native_token: "{native}"
    gas_units: 150000
    gas_price_wei: 30000000000
    min_net_profit: 1
    max_age_ms: 600000
    max_age_blocks: 5
    usd_prices: {{{usd}}}
    token_decimals: {{{dec}}}
outputs: {{opportunities: {out_topic}, dlq: dlq.{name}}}
recovery: {{snapshot_interval_s: 0.2}}
"""


def sync_record(pool: Pool, block: int, seq: int, r0: int, r1: int, ts: int) -> bytes:
    """The ``market.pool_sync`` record the bridge would produce for one update."""
    rec = {
        "source": 4, "sequence": seq, "timestamp_ns": ts, "pool": pool.address, "venue": pool.venue,
        "token0": pool.token0, "token1": pool.token1, "token0_decimals": pool.decimals0,
        "token1_decimals": pool.decimals1, "reserve0": u256(r0), "reserve1": u256(r1), "block_number": block,
        "event_timestamp_ns": ts, "trace": {"relay_ns": ts, "bridge_in_ns": ts, "bridge_out_ns": ts},
    }  # fmt: skip
    return codec("market.pool_sync").encode(rec)


def create_topics(bootstrap: str, names: list[str], partitions: int = 4) -> None:
    """Create topics and wait until the broker lists them."""
    admin = AdminClient(client_config(bootstrap))
    for f in admin.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
    ).values():
        f.result(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(n in admin.list_topics(timeout=10).topics for n in names):
        time.sleep(0.05)


def passthrough_flow(
    bootstrap: str, topic: str, out_topic: str, outputs: list[tuple[bytes | None, bytes]], count: int
) -> Dataflow:
    """The baseline: the detector's Kafka source and sink, producing the detector's ``outputs`` over ``count`` inputs.

    Every record is read; after the ``i``-th input the flow produces output ``j`` for each ``j`` with
    ``j * count // len(outputs) == i``, so the sink writes exactly what the detector wrote, spread over the run.
    """
    flow = Dataflow("passthrough")
    src = op.input("kafka", flow, KafkaSource(bootstrap, [topic], tail=False))
    due: dict[int, list[OutRecord]] = {}
    for j, (key, value) in enumerate(outputs):
        due.setdefault(j * count // max(len(outputs), 1), []).append(OutRecord(out_topic, key, value))
    seen = itertools.count()

    def forward(msg: KafkaRecord) -> list[OutRecord]:
        return due.get(next(seen), [])

    op.output("kafka_out", op.flat_map("forward", src, forward), KafkaSink(bootstrap))
    return flow


def timed(flow: Dataflow) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one in-process run to the end of its input."""
    wall, cpu = time.perf_counter(), time.process_time()
    run_main(flow)
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_throughput(bootstrap: str, market: Market, count: int, work: Path) -> dict[str, float]:
    """Detector and pass-through rates (per CPU second and per wall second) on ``count`` pre-produced updates."""
    tag = uuid.uuid4().hex[:8]
    full, empty, out, opp = (f"b{tag}.{n}" for n in ("full.market.pool_sync", "empty.market.pool_sync", "out", "opp"))
    opp_topic = f"{opp}.arb.opportunity"
    create_topics(bootstrap, [full, empty, out, opp_topic])
    writer = KafkaWriter(bootstrap)
    t = time.perf_counter()
    for pool, block, seq, r0, r1 in market.updates(count):
        writer.produce(full, pool.address.encode(), sync_record(pool, block, seq, r0, r1, T0 + seq * 1_000))
    writer.flush()
    log(f"  produced {count:,} updates in {time.perf_counter() - t:.1f} s")

    def detector(topic: str) -> Dataflow:
        path = work / f"detector-{topic}.yaml"
        path.write_text(spec_text("bench_detect", [topic], opp_topic, market))
        return detector_flow(load_spec(path), RunEnv(bootstrap=bootstrap), tail=False)

    fixed_det = timed(detector(empty))
    det = timed(detector(full))
    log(f"  detector:     {det[0]:.2f} s wall, {det[1]:.2f} s CPU (fixed {fixed_det[0]:.2f} / {fixed_det[1]:.2f})")
    outputs = read_records(bootstrap, opp_topic)
    fixed_pass = timed(passthrough_flow(bootstrap, empty, out, [], 0))
    passthrough = timed(passthrough_flow(bootstrap, full, out, outputs, count))
    produced = count_records(bootstrap, out)
    log(f"  pass-through: {passthrough[0]:.2f} s wall, {passthrough[1]:.2f} s CPU (fixed {fixed_pass[0]:.2f} / "
        f"{fixed_pass[1]:.2f}); produced {produced:,} records, the detector {len(outputs):,}")  # fmt: skip
    if produced != len(outputs):
        raise SystemExit(f"pass-through produced {produced} records, the detector {len(outputs)}")

    def rate(run: tuple[float, float], fixed: tuple[float, float], i: int) -> float:
        return count / max(run[i] - fixed[i], 1e-3)

    return {
        "value": rate(det, fixed_det, 1),
        "baseline": rate(passthrough, fixed_pass, 1),
        "value_wall": rate(det, fixed_det, 0),
        "baseline_wall": rate(passthrough, fixed_pass, 0),
        "found": len(outputs),
    }


def read_records(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    """Every (key, value) on ``topic``, partition by partition, to the end offsets seen now."""
    consumer = Consumer(client_config(bootstrap, {"group.id": "bench-" + uuid.uuid4().hex}))
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in meta.partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
        out: list[tuple[bytes | None, bytes]] = []
        left = {p: end for p, end in ends.items() if end > 0}
        deadline = time.monotonic() + 30
        while left and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.2):
                if msg.error() is None:
                    out.append((msg.key(), msg.value()))
                    if msg.offset() + 1 >= left.get(msg.partition(), 0):
                        left.pop(msg.partition(), None)
        if left:
            raise SystemExit(f"could not read {topic} to its end: partitions {sorted(left)} short")
        return out
    finally:
        consumer.close()


def count_records(bootstrap: str, topic: str) -> int:
    """Records on a topic (fetch watermarks, as ops/control/kafka_counts.py reads them)."""
    from ops.control.kafka_counts import TopicCounter

    counter = TopicCounter(bootstrap)
    try:
        return counter.count(topic)
    finally:
        counter.close()


class Collector(threading.Thread):
    """Reads arb.opportunity from the end and records (receive time, trace) of every opportunity."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(daemon=True)
        self.consumer = Consumer(
            client_config(bootstrap, {"group.id": "bench-" + uuid.uuid4().hex, "fetch.wait.max.ms": 1})
        )
        meta = self.consumer.list_topics("arb.opportunity", timeout=10).topics["arb.opportunity"]
        self.consumer.assign([TopicPartition("arb.opportunity", p, 0) for p in meta.partitions])
        self.seen: list[tuple[int, dict[str, int]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        decode = codec("arb.opportunity").decode
        while not self.stop.is_set():
            for msg in self.consumer.consume(500, 0.005):
                if msg.error() is None:
                    self.seen.append((time.time_ns(), decode(msg.value())["trace"]))
        self.consumer.close()


def frames(market: Market, updates: list[tuple[Pool, int, int, int, int]], rate: float) -> list[tuple[int, bytes]]:
    """PoolSync frames of the updates, spaced for ``rate`` frames/s."""
    out = []
    for i, (pool, block, seq, r0, r1) in enumerate(updates):
        ts = T0 + seq
        tlv = PoolSync(
            reserve0=r0, reserve1=r1, timestamp_ns=ts, block_number=block, venue=pool.venue,
            token0_decimals=pool.decimals0, token1_decimals=pool.decimals1, pool_address=pool.address,
            token0_addr=pool.token0, token1_addr=pool.token1,
        )  # fmt: skip
        frame = encode_frame(
            RelayDomain.MARKET_DATA, SourceType.POLYGON_COLLECTOR, [tlv], sequence=seq, timestamp_ns=ts
        )
        out.append((int(i * 1e9 / rate), frame))
    return out


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] if ordered else float("nan")


def drain(bootstrap: str, frames_sent: int, collector: Collector, limit_s: float) -> tuple[int, float]:
    """Wait until the pipeline has emptied; return (opportunities on the topic, seconds waited).

    Empty means: ``market.pool_sync`` holds every frame sent (the bridge is done), the opportunity topic has not
    grown for a second (the detector is done), and the consumer has received as many records as the topic holds.
    """
    from ops.control.kafka_counts import TopicCounter

    counter = TopicCounter(bootstrap)
    started = time.monotonic()
    last, stable_since = -1, time.monotonic()
    try:
        while time.monotonic() - started < limit_s:
            total = counter.count("arb.opportunity")
            if total != last:
                last, stable_since = total, time.monotonic()
            bridged = counter.count("market.pool_sync") >= frames_sent
            if bridged and time.monotonic() - stable_since >= 1.0 and len(collector.seen) >= total:
                break
            time.sleep(0.1)
        return last, time.monotonic() - started
    finally:
        counter.close()


def bench_latency(
    info: stack.StackInfo, market: Market, rate: float, seconds: float, work: Path, drain_s: float
) -> dict:
    """Replay ``rate`` frames/s for ``seconds`` into a relay -> bridge -> detector; latency quantiles, ms."""
    bootstrap = info.bootstrap or ""
    report = apply_topics(bootstrap, load_topics())
    if report.refused:
        raise RuntimeError("; ".join(report.refused))
    relay = RelayServer(work / "relay", domains=(RelayDomain.MARKET_DATA,))
    relay.start()
    spec_path = work / "latency.yaml"
    spec_path.write_text(spec_text("bench_latency", ["market.pool_sync"], "arb.opportunity", market))
    socket_path = str(relay.socket_path(RelayDomain.MARKET_DATA))
    procs = [
        FlowProcess(load_spec(spec_path), bootstrap, work / "logs"),
        FlowProcess(load_spec(SPECS_DIR / "bridge.yaml"), bootstrap, work / "logs", relay_socket=socket_path),
    ]
    collector = Collector(bootstrap)
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + 60
        while relay.stats(RelayDomain.MARKET_DATA).clients < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        collector.start()
        # Warm up (imports, first fetches) with one block of the market, untimed, until an opportunity comes out.
        warm = market.updates(POOLS, start=0)
        replay(socket_path, frames(market, warm, rate * 4), speed=1.0)
        deadline = time.monotonic() + 30
        while not collector.seen and time.monotonic() < deadline:
            time.sleep(0.05)
        timed_updates = market.updates(int(rate * seconds), start=POOLS)
        window_start = time.time_ns() + 1_000_000_000  # the first second settles the rate
        sent = replay(socket_path, frames(market, timed_updates, rate), speed=1.0)
        on_topic, waited = drain(bootstrap, len(warm) + sent.frames, collector, drain_s)
        log(f"  drained in {waited:.1f} s: {on_topic:,} opportunities on the topic, {len(collector.seen):,} received")
    finally:
        collector.stop.set()
        for p in reversed(procs):
            p.stop(timeout_s=20)
        relay.stop()
        collector.join(timeout=5)
    rows = [(recv, tr) for recv, tr in collector.seen if tr.get("relay_ns", 0) >= window_start]
    end_to_end = [(recv - tr["relay_ns"]) / 1e6 for recv, tr in rows]
    hops = {}
    for name, a, b in (
        ("relay->bridge", "relay_ns", "bridge_in_ns"),
        ("bridge", "bridge_in_ns", "bridge_out_ns"),
        ("kafka->detector", "bridge_out_ns", "detect_in_ns"),
        ("detector", "detect_in_ns", "detect_out_ns"),
    ):
        values = [(tr[b] - tr[a]) / 1e6 for _r, tr in rows if a in tr and b in tr]
        hops[name] = (quantile(values, 0.5), quantile(values, 0.99))
    sink = [(recv - tr["detect_out_ns"]) / 1e6 for recv, tr in rows if "detect_out_ns" in tr]
    hops["sink->consumer"] = (quantile(sink, 0.5), quantile(sink, 0.99))
    missing = max(on_topic - len(collector.seen), 0)  # on the topic, never received by the consumer
    return {
        "p50_ms": quantile(end_to_end, 0.5),
        "p99_ms": quantile(end_to_end, 0.99),
        "rate": sent.frames / seconds,
        "samples": len(end_to_end),
        "expected": len(end_to_end) + missing,
        "missing": missing,
        "frames": sent.frames,
        "hops": hops,
    }


def main(argv: list[str] | None = None) -> int:
    """Run both measurements and print the table and the JSON line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--updates", type=int, default=40_000, help="updates for the throughput run (default 40,000)")
    p.add_argument("--rate", type=float, default=2_000.0, help="frames/s of the latency run (default 2,000)")
    p.add_argument("--seconds", type=float, default=6.0, help="timed seconds of the latency run (default 6)")
    p.add_argument("--drain-seconds", type=float, default=15.0, help="longest wait for late opportunities")
    args = p.parse_args(argv)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="pulsearb-bench-detect-"))
    try:
        log("starting the local broker")
        info = stack.up(work / "stack", chain=False, store=False)
        stack.wait_for_broker(info.bootstrap or "")
        market = Market()
        log(f"market: {TOKENS} tokens, {len(market.pools)} pools on {len(VENUES)} venues")
        log(f"throughput: {args.updates:,} updates, cross_dex detector vs pass-through, 1 worker")
        _tune_gc()  # the collector settings of a flow process (flows/run.py), as deployed; bench/bridge.py does too
        tp = bench_throughput(info.bootstrap or "", market, args.updates, work)
        log(f"latency: {args.rate:,.0f} frames/s for {args.seconds:.0f} s, relay -> bridge -> detector -> consumer")
        latency = bench_latency(info, market, args.rate, args.seconds, work, args.drain_seconds)
    finally:
        stack.down(work / "stack")
        shutil.rmtree(work, ignore_errors=True)
    log("")
    log(f"{'measure':<34}{'value':>14}{'baseline':>14}{'ratio':>8}")
    value, baseline = tp["value"], tp["baseline"]
    log(f"{'updates/s per worker (CPU s)':<34}{value:>14,.0f}{baseline:>14,.0f}{value / baseline:>8.2f}")
    wall_ratio = tp["value_wall"] / tp["baseline_wall"]
    log(f"{'updates/s (wall s)':<34}{tp['value_wall']:>14,.0f}{tp['baseline_wall']:>14,.0f}{wall_ratio:>8.2f}")
    log(f"{'updates (throughput samples)':<34}{args.updates:>14,}")
    log(f"{'opportunities found (throughput)':<34}{int(tp['found']):>14,}")
    log(f"{'relay -> opportunity p50 ms':<34}{latency['p50_ms']:>14.1f}")
    log(f"{'relay -> opportunity p99 ms':<34}{latency['p99_ms']:>14.1f}")
    log(f"{'  at frames/s (frames sent)':<34}{latency['rate']:>14,.0f}{latency['frames']:>14,}")
    log(f"{'  samples / expected / missing':<34}{latency['samples']:>14,}{latency['expected']:>14,}"
        f"{latency['missing']:>8,}")  # fmt: skip
    for hop, (p50, p99) in latency["hops"].items():
        log(f"{'  ' + hop + ' p50 / p99 ms':<34}{p50:>14.1f}{p99:>14.1f}")
    log("goals: >= 50,000 updates/s per worker, >= 0.5 of pass-through, p99 <= 50 ms")
    log(f"ran {time.monotonic() - started:.0f} s")
    result = {
        "throughput": {
            "value": round(value, 1),
            "baseline": round(baseline, 1),
            "ratio": round(value / baseline, 3),
            "samples": args.updates,
            "opportunities": int(tp["found"]),
        },
        "latency": {
            "p50_ms": round(latency["p50_ms"], 2),
            "p99_ms": round(latency["p99_ms"], 2),
            "rate": round(latency["rate"], 1),
            "samples": latency["samples"],
            "expected": latency["expected"],
            "missing": latency["missing"],
        },
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
