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
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulLogic
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END
from prometheus_client import Counter, Gauge

from base.errors import PulsearbError
from flows.builders.common import RunEnv, dlq_record
from flows.collector.config import CollectorConfig, parse_config
from flows.collector.engine import Collector, Stats
from flows.collector.invalidation import invalidated_pools
from flows.connectors.kafka import KafkaRecord, KafkaSink, KafkaSource, OutRecord
from flows.connectors.rpc import JsonRpc
from flows.connectors.ticks import TICK, Ticks
from flows.metrics import DEAD_LETTERS, ENDPOINT_UP, RECORDS_IN, RECORDS_OUT, STATE_SIZE
from flows.risk.validate import yaml_lines
from flows.spec import FlowSpec, SpecError
from schemas.serde import codec

log = logging.getLogger(__name__)

SECTIONS = frozenset({"inputs", "collector", "outputs"})  # what this builder reads (ops/control/checks.py convention)
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
    """Validate the ``collector`` section and the flow's shape; every problem in one SpecError.

    Raises:
        SpecError: one line per problem (file, line, field, expected, found).
    """
    config, problems = parse_config(spec.collector, spec.path, yaml_lines(spec.path))
    where = f"{spec.path}:{spec.line_of('resources')}"
    if spec.resources.processes != 1:
        problems.append(
            f"{where}: resources.processes: expected 1 (one poller of one chain), got {spec.resources.processes}"
        )
    if spec.resources.workers_per_process != 1:
        problems.append(f"{where}: resources.workers_per_process: expected 1, got {spec.resources.workers_per_process}")
    wanted = [("inputs.topics", t, INVALIDATION_TOPIC) for t in spec.inputs.topics]
    wanted.append(("outputs.states", spec.outputs.get("states", STATES_TOPIC), STATES_TOPIC))
    for field, topic, schema in wanted:
        if topic != schema and not topic.endswith("." + schema):
            where = f"{spec.path}:{spec.line_of(field)}"
            problems.append(
                f"{where}: {field}: expected {schema} (optionally prefixed: <prefix>.{schema}), got {topic!r}"
            )
    if problems or config is None:
        raise SpecError(problems)
    return config


def check_spec(spec: FlowSpec) -> None:
    """Validate a collector spec without connecting anywhere (for ``flows validate``).

    Raises:
        SpecError: every problem, one per line.
    """
    load_config(spec)


class _Collect(StatefulLogic[Any, list[OutRecord], dict[str, int]]):
    """The single writer: starts the collector on the first tick, polls on each later one."""

    def __init__(self, flow: str, config: CollectorConfig, rpc_url: str, topics: dict[str, str], resume: Any) -> None:
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

    def on_item(self, value: Any) -> tuple[list[list[OutRecord]], bool]:
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

    def decode(msg: KafkaRecord) -> tuple[bool, Any]:
        RECORDS_IN.labels(flow_name, msg.topic).inc()
        try:
            rec = codec(INVALIDATION_TOPIC).decode(msg.value or b"")
            return True, rec
        except (PulsearbError, KeyError, ValueError, TypeError) as exc:
            DEAD_LETTERS.labels(flow_name, "decode").inc()
            where = {"source_topic": msg.topic, "partition": msg.partition, "offset": msg.offset}
            return False, dlq_record(flow_name, topics["dlq"], "decode", exc, msg.value or b"", **where)

    flow = Dataflow(spec.name)
    ticks = op.input("tick", flow, Ticks(timedelta(milliseconds=config.poll_interval_ms)))
    work = ticks
    errs = None
    if spec.inputs.topics:
        # A fresh start re-seeds every pool anyway: older invalidations are moot unless asked for.
        start = OFFSET_BEGINNING if spec.inputs.start_offset == "earliest" else OFFSET_END
        src = op.input(
            "kafka", flow, KafkaSource(env.bootstrap, spec.inputs.topics, start=start, extra=dict(env.kafka_extra))
        )
        split = op.branch("split", op.map("decode", src, decode), lambda x: x[0])
        work = op.merge("work", ticks, op.map("ok", split.trues, lambda x: x[1]))
        errs = op.map("err", split.falses, lambda x: x[1])
    keyed = op.key_on("single_writer", work, lambda _: KEY)
    collected = op.stateful("collect", keyed, lambda resume: _Collect(flow_name, config, env.rpc_url, topics, resume))
    records = op.flat_map("records", collected, lambda kv: kv[1])
    out = records if errs is None else op.merge("out", records, errs)
    op.output("kafka_out", out, KafkaSink(env.bootstrap, dict(env.kafka_extra)))
    return flow


__all__ = ["SECTIONS", "check_spec", "collector_flow", "load_config"]
