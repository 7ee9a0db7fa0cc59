"""Collector flow: a JSON-RPC node -> exact pool states -> ``market.pool_state`` (+ ``market.invalidation`` in).

Steps (Bytewax step ids)::

    tick (one per collector.poll_interval_ms) ──────────────────────┐
    kafka (market.invalidation) ─► decode ─┬─ ok ─────────────────────┴─► collect (one key: the only writer) ─► records
                                           └─ dead letters ──────────────────────────────────────────────────► kafka_out

``collect`` holds a :class:`flows.collector.engine.Collector`: the first tick discovers and seeds every pool at
the head, each later tick polls the chain (new blocks, reorgs, gaps, re-seeds); an invalidation record names
pools (:mod:`flows.collector.invalidation`) that the next poll re-seeds. Records go to ``outputs.states``
(default ``market.pool_state``), refused pools to ``outputs.dlq`` (one warning line each, counted).

The endpoint is ``--rpc-url`` or ``$PULSEARB_RPC_URL`` (environment only under ``flows deploy``: RPC URLs carry
API keys); the chain id is checked when the flow is built, so a wrong chain ends the process with one line. Without
an endpoint the flow only waits (it is deployed with the others, and does nothing).

Recovery: the snapshot holds only, per pool, the last block published. A restart re-seeds every pool at the head
and continues from there. That is exact, not an approximation: a pool's state is a function of the chain at one
block, not of the logs that led there, so reading it at the head gives the very state replaying the missed logs
would (and costs one seed instead of every missed block); what the flow published before the restart was the
chain's state at those blocks, and the blocks published keep records from going back to a lower block.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulLogic
from prometheus_client import Counter, Gauge

from base.errors import ConfigError, PulsearbError
from flows.builders.common import RunEnv, dlq_record, start_offset
from flows.builders.contract import BuilderContract
from flows.builders.decode import decode, per_record
from flows.collector.config import CollectorConfig, parse_collector
from flows.collector.engine import Collector, Stats
from flows.collector.invalidation import invalidated_pools
from flows.connectors.kafka import KafkaSink, KafkaSource, OutRecord
from flows.connectors.rpc import JsonRpc
from flows.connectors.ticks import TICK, Ticks
from flows.metrics import DEAD_LETTERS, ENDPOINT_UP, RECORDS_OUT, STATE_SIZE
from flows.spec import FlowSpec
from flows.spec.problems import Problems
from schemas.serde import AvroRecord, codec, schema_topic

log = logging.getLogger(__name__)

SECTIONS = frozenset({"inputs", "collector", "outputs"})  # what this builder reads (its contract's, below)
STATES_TOPIC = "market.pool_state"
INVALIDATION_TOPIC = "market.invalidation"
KEY = "collector"
MAX_BACKOFF_S = 30.0

COLLECTOR_EVENTS = Counter(
    "pulsearb_collector_events",
    "Chain collector activity: blocks, logs_applied, seeded, reorgs, reorged_blocks, gaps, refused, inconsistent, "
    "retried, invalidated",
    ["flow", "event"],
)
HEAD_LAG = Gauge(
    "pulsearb_collector_head_lag_blocks", "Blocks between the node's head and the last processed", ["flow"]
)


def load_config(spec: FlowSpec) -> CollectorConfig:
    """Read the ``collector`` section, the topics and the flow's shape, without any I/O.

    Raises:
        SpecError: every problem, one line each (file, line, field, expected, found).
    """
    problems = Problems.of(spec)
    config = parse_collector(spec.collector, problems)
    if spec.resources.processes != 1:
        problems.add(("resources", "processes"), "1 (one poller of one chain)", spec.resources.processes)
    if spec.resources.workers_per_process != 1:
        problems.add(("resources", "workers_per_process"), "1", spec.resources.workers_per_process)
    wanted = [(f"inputs.topics[{i}]", t, INVALIDATION_TOPIC) for i, t in enumerate(spec.inputs.topics)]
    wanted.append(("outputs.states", spec.outputs.get("states", STATES_TOPIC), STATES_TOPIC))
    for field, topic, schema in wanted:
        if _schema_of(topic) != schema:
            expected = f"{schema} (optionally prefixed or suffixed: <prefix>.{schema}, {schema}.<suffix>)"
            problems.add(field, expected, topic)
    problems.raise_any()
    return config


def _schema_of(topic: str) -> str | None:
    try:
        return schema_topic(topic)
    except ConfigError:
        return None


class _Collect(StatefulLogic[AvroRecord | str, list[OutRecord], dict[str, int]]):
    """The single writer: starts the collector on the first tick, polls on each later one (items: a :data:`TICK`
    or a decoded ``market.invalidation`` record)."""

    def __init__(
        self, flow: str, config: CollectorConfig, rpc_url: str, topics: dict[str, str], resume: dict[str, int] | None
    ) -> None:
        self.flow = flow
        self.topics = topics
        self.encode = codec(STATES_TOPIC).encode
        self.rpc = JsonRpc(rpc_url) if rpc_url else None
        published = resume if isinstance(resume, dict) else None
        self.collector = Collector(config, self.rpc, published=published) if self.rpc else None
        self.started = False
        self.failures = 0
        self.next_try = 0.0
        self.counted = Stats()

    def on_item(self, value: AvroRecord | str) -> tuple[list[list[OutRecord]], bool]:
        c = self.collector
        if c is None:
            return [], StatefulLogic.RETAIN
        if value != TICK:
            hit = c.invalidate(invalidated_pools(value, c.pools))
            log.info("invalidation of venue %s: %d followed pools to re-seed", value.get("venue"), hit)
            return [], StatefulLogic.RETAIN
        now = time.monotonic()
        if now < self.next_try:
            return [], StatefulLogic.RETAIN
        try:
            output = c.poll() if self.started else c.start()
        except PulsearbError as exc:
            self.failures += 1
            delay = min(MAX_BACKOFF_S, 0.5 * 2 ** min(self.failures, 8))
            self.next_try = now + delay
            ENDPOINT_UP.labels(self.flow, "rpc").set(0)
            log.warning("collector: %s (retrying in %.1f s)", (str(exc).splitlines() or [""])[0], delay)
            return [], StatefulLogic.RETAIN
        if not self.started:
            self.started = True
            log.warning(
                "collector: following %d pools on chain %d (%s) from block %d",
                len(c.pools), c.config.chain_id, c.rpc.where, c.window.head[0],
            )  # fmt: skip
        self.failures = 0
        ENDPOINT_UP.labels(self.flow, "rpc").set(1)
        out = [OutRecord(self.topics["states"], r["pool"].encode(), self.encode(r)) for r in output.records]
        RECORDS_OUT.labels(self.flow, self.topics["states"]).inc(len(out))
        for refusal in output.refusals:
            log.warning("collector: %s", refusal)
            DEAD_LETTERS.labels(self.flow, "validate").inc()
            raw = bytes.fromhex(refusal.pool[2:])
            out.append(dlq_record(self.flow, self.topics["dlq"], "validate", str(refusal), raw))
        self._count(c)
        return ([out] if out else []), StatefulLogic.RETAIN

    def _count(self, c: Collector) -> None:
        for name in Stats.__slots__:
            delta = getattr(c.stats, name) - getattr(self.counted, name)
            if delta and name not in ("polls", "records"):
                COLLECTOR_EVENTS.labels(self.flow, name).inc(delta)
            setattr(self.counted, name, getattr(c.stats, name))
        STATE_SIZE.labels(self.flow, "pools").set(len(c.pools))
        HEAD_LAG.labels(self.flow).set(max(0, c.chain_head - c.window.head[0]))

    def snapshot(self) -> dict[str, int]:
        return dict(self.collector.published) if self.collector is not None else {}


def collector_flow(spec: FlowSpec, env: RunEnv) -> Dataflow:
    """Chain -> exact pool states -> ``market.pool_state``; ``market.invalidation`` -> re-seeds; refusals -> dlq.

    Raises:
        SpecError: the ``collector`` section is invalid.
        CollectorError: the node is another chain, or a configured factory has no code there.
        PulsearbError: the node cannot be reached to check it.
    """
    config = load_config(spec)
    flow_name = spec.name
    topics = {"states": spec.outputs.get("states", STATES_TOPIC), "dlq": spec.dlq_topic}
    if env.rpc_url:
        rpc = JsonRpc(env.rpc_url)
        try:
            Collector(config, rpc).check_chain()  # a wrong chain or factory ends the process with one line
        finally:
            rpc.close()
    else:
        log.warning("collector: no RPC endpoint (--rpc-url or PULSEARB_RPC_URL): nothing is collected")

    flow = Dataflow(spec.name)
    ticks = op.input("tick", flow, Ticks(timedelta(milliseconds=config.poll_interval_ms)))
    work = ticks
    errs = None
    if spec.inputs.topics:
        # A fresh start re-seeds every pool anyway: older invalidations are moot unless asked for (start_offset).
        read = codec(INVALIDATION_TOPIC).decode
        source = KafkaSource(
            env.bootstrap, spec.inputs.topics, start=start_offset(spec), extra=dict(env.kafka_extra), chunks=True
        )
        src = op.input("kafka", flow, source)
        decoded = decode("decode", src, per_record(lambda _topic: read), flow=flow_name, dlq_topic=topics["dlq"])
        work = op.merge("work", ticks, decoded.oks)
        errs = decoded.errs
    keyed = op.key_on("single_writer", work, lambda _: KEY)
    collected = op.stateful("collect", keyed, lambda resume: _Collect(flow_name, config, env.rpc_url, topics, resume))
    records = op.flat_map("records", collected, lambda kv: kv[1])
    out = records if errs is None else op.merge("out", records, errs)
    op.output("kafka_out", out, KafkaSink(env.bootstrap, dict(env.kafka_extra)))
    return flow


CONTRACT = BuilderContract(
    kind="collector",
    sections=SECTIONS,
    config=load_config,
    build=collector_flow,
    single_process="one poller per chain: a second one would publish every state twice",
)
"""The collector's builder, as flows/build.py registers it."""

__all__ = ["CONTRACT", "SECTIONS", "collector_flow", "load_config"]
