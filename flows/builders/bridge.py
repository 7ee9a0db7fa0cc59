"""Bridge flow: relay socket -> frame -> route -> Avro -> market.* topics; whatever fails -> dlq.relay.

Steps: ``relay`` (one socket, one partition, one :class:`~flows.connectors.relay.Chunk` of bytes per read) ->
``route`` (:class:`flows.bridge.Router`: a whole read framed, decoded and Avro-encoded at once, records and dead
letters) -> ``kafka`` (idempotent producer).

Spec settings: ``inputs.relay_socket`` (or ``--relay-socket``) and ``outputs.dlq`` (default ``dlq.relay``). The
market topics are fixed (docs/protocol.md section 7).

Delivery: the relay keeps nothing, so there is no upstream position to hold back until records are acknowledged;
under load the producer pipelines (back-pressure comes from its bounded queue: a bridge that falls behind stops
reading, and the relay drops it as AlphaPulse's does), and the sink flushes whenever the relay goes idle (the
source's empty tick chunk) and at stop. Delivery reports are counted into ``pulsearb_records_out`` per topic as
they arrive. A broker outage does not stop the flow: a flush that times out or reports failures is logged and
counted (``pulsearb_kafka_delivery_failed``), the idempotent producer keeps retrying what is queued, and reading
goes on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from base.errors import ConfigError
from flows.bridge import Encoded, Router
from flows.builders.common import RunEnv
from flows.builders.contract import BuilderContract
from flows.connectors.relay import Chunk, RelaySource
from flows.metrics import DEAD_LETTERS, DELIVERY_FAILED, RECORDS_IN, RECORDS_OUT
from flows.relay.codec import ChecksumPolicy
from flows.spec import FlowSpec
from flows.spec.problems import Problems
from sinks.kafka import KafkaDeliveryError, KafkaWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """What a bridge spec configures, read once.

    Attributes:
        relay_socket: the relay socket path ('' = the run's ``--relay-socket``).
        dlq_topic: where undecodable frames go (a ``dlq.*`` topic; default ``dlq.relay``).
    """

    relay_socket: str
    dlq_topic: str


def load_config(spec: FlowSpec) -> BridgeConfig:
    """Read a bridge spec's settings without any I/O.

    Raises:
        SpecError: the dead-letter topic is not a ``dlq.*`` topic.
    """
    problems = Problems.of(spec)
    dlq_topic = spec.outputs.get("dlq") or "dlq.relay"
    if not dlq_topic.startswith("dlq."):
        problems.add("outputs.dlq", "a dlq.* topic", dlq_topic)
    problems.raise_any()
    return BridgeConfig(spec.inputs.relay_socket, dlq_topic)


def bridge_flow(spec: FlowSpec, env: RunEnv) -> Dataflow:
    """Relay socket -> decode -> Avro -> market.* topics; bad frames -> dlq.relay with raw bytes, reason, offset.

    Raises:
        SpecError: a dead-letter topic outside ``dlq.*``.
        ConfigError: no relay socket in the spec or the run.
    """
    config = load_config(spec)
    socket_path = env.relay_socket or config.relay_socket
    if not socket_path:
        msg = f"{spec.path}: inputs.relay_socket: a bridge needs the relay socket path (or --relay-socket)"
        raise ConfigError(msg)
    dlq_topic = config.dlq_topic
    # A non-zero checksum is verified in every domain: a frame cut short and completed by the next frame's bytes
    # then fails its CRC instead of passing as a bogus record, and the framer resyncs on the frame it swallowed.
    # Checksum 0 (AlphaPulse's hot-path producers) is accepted unchecked. The one relay partition feeds one router.
    router = Router(spec.name, dlq_topic, policy=ChecksumPolicy.every())
    dead_counters = {stage: DEAD_LETTERS.labels(spec.name, stage) for stage in router.dead}
    dead_seen = dict(router.dead)
    frames_in = RECORDS_IN.labels(spec.name, "relay")
    frames_seen = 0

    def route(chunk: Chunk) -> list[Encoded]:
        nonlocal frames_seen
        records = router.feed(chunk.data, chunk.received_ns) if chunk.data else []
        if chunk.closed:
            records += router.flush(chunk.received_ns)
        if router.framer.frames != frames_seen:
            frames_in.inc(router.framer.frames - frames_seen)
            frames_seen = router.framer.frames
        for stage, n in router.dead.items():
            if n != dead_seen[stage]:
                dead_counters[stage].inc(n - dead_seen[stage])
                dead_seen[stage] = n
        return records

    flow = Dataflow(spec.name)
    source = RelaySource(socket_path, spec.name)
    chunks = op.input("relay", flow, source)
    records = op.map("route", chunks, route)
    op.output("kafka", records, BridgeSink(spec.name, env.bootstrap, dict(env.kafka_extra)))
    return flow


class _SinkPartition(StatelessSinkPartition[list[Encoded]]):
    def __init__(self, flow: str, bootstrap: str, extra: dict[str, Any], flush_timeout_s: float = 5.0) -> None:
        self._flow = flow
        self._flush_timeout_s = flush_timeout_s
        self._writer = KafkaWriter(bootstrap, extra)
        self._delivered: dict[str, int] = {}
        self._failed = 0
        self._failed_metric = DELIVERY_FAILED.labels(flow)
        self._last_log = 0.0

    def write_batch(self, items: list[list[Encoded]]) -> None:
        produce_many = self._writer.produce_many
        idle = False
        for batch in items:
            idle = not batch  # an idle tick from the relay source
            produce_many(batch)
        if idle:
            self._flush(self._flush_timeout_s)
        else:
            self._count()

    def _flush(self, timeout_s: float) -> None:
        try:
            self._writer.flush(timeout_s)
        except KafkaDeliveryError as exc:
            stats = self._writer.stats
            in_flight = stats.produced - stats.delivered - stats.failed
            now = time.monotonic()
            # Log new failures or a flush that timed out, once per 10 s at most (an outage fails every batch).
            if (stats.failed > self._failed or in_flight) and now - self._last_log > 10:
                self._last_log = now
                log.error("kafka delivery: %s", exc)
        self._count()

    def _count(self) -> None:
        """Move delivery-report counts into the metrics (reports arrive during produce and flush)."""
        stats = self._writer.stats
        for topic, n in stats.by_topic.items():
            seen = self._delivered.get(topic, 0)
            if n != seen:
                RECORDS_OUT.labels(self._flow, topic).inc(n - seen)
                self._delivered[topic] = n
        if stats.failed != self._failed:
            self._failed_metric.inc(stats.failed - self._failed)
            self._failed = stats.failed

    def close(self) -> None:
        self._last_log = 0.0
        self._flush(30.0)


class BridgeSink(DynamicSink[list[Encoded]]):
    """Produce the bridge's records, a list per relay read, with an idempotent producer; deliveries counted.

    Args:
        flow: flow name, the ``flow`` label of the metrics.
        bootstrap: Kafka bootstrap servers.
        extra: librdkafka settings that override the defaults of sinks/kafka.py.
    """

    def __init__(self, flow: str, bootstrap: str, extra: dict[str, Any] | None = None) -> None:
        self._flow = flow
        self._bootstrap = bootstrap
        self._extra = extra or {}

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _SinkPartition:
        return _SinkPartition(self._flow, self._bootstrap, self._extra)


CONTRACT = BuilderContract(
    kind="bridge",
    sections=frozenset({"inputs", "outputs"}),
    config=load_config,
    build=bridge_flow,
    single_process="a bridge is one relay connection (a second one would duplicate every frame)",
)
"""The bridge's builder, as flows/build.py registers it."""
