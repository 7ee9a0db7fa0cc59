"""Flow spec -> Bytewax Dataflow. The only module that composes Bytewax operators.

Every flow follows one shape: a source, pure steps from flows/ (decode, fold, join, strategy), an oks/errs split
where input can fail, and sinks; rejected inputs become dead letters on ``dlq.<flow>`` (``dlq.relay`` for the
bridge). Step ids are snake_case nouns ("decode", "pool_state", "pair_join", "detect").
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END

from flows.bridge import route_frame
from flows.connectors.clickhouse import ClickHouseSink
from flows.connectors.kafka import KafkaRecord, KafkaSink, KafkaSource, OutRecord
from flows.connectors.relay import Received, RelaySource
from flows.deadletter import dead_letter
from flows.errors import ConfigError, PulsearbError
from flows.opportunity import to_record as opportunity_record
from flows.pools import PoolState, fold_pool
from flows.relay.codec import Frame
from flows.spec import FlowSpec
from flows.strategies import strategy as find_strategy
from flows.strategies.params import StrategyParams
from schemas.serde import codec, from_u256

ARCHIVE_TOPICS = (
    "market.pool_sync",
    "market.pool_swap",
    "market.pool_state",
    "market.pool_liquidity",
    "market.trade",
    "market.quote",
    "market.gas_price",
    "market.pool_info",
    "arb.opportunity",
    "arb.decision",
    "arb.execution",
    "dlq.relay",
)


@dataclass(frozen=True, slots=True)
class RunEnv:
    """Where a flow runs: endpoints that differ between the laptop stack and a cluster."""

    bootstrap: str
    store_dsn: str = ""
    relay_socket: str = ""
    kafka_extra: Mapping[str, Any] = field(default_factory=dict)


def _dlq(flow: str, topic: str, stage: str, error: BaseException | str, raw: bytes, **where: Any) -> OutRecord:
    rec = dead_letter(flow=flow, stage=stage, error=error, raw=raw, received_ns=time.time_ns(), **where)
    return OutRecord(topic, None, codec(topic).encode(rec))


def _start(spec: FlowSpec) -> int:
    return OFFSET_END if spec.inputs.start_offset == "latest" else OFFSET_BEGINNING


# --- bridge ---------------------------------------------------------------------------------------------------


def bridge_flow(spec: FlowSpec, env: RunEnv) -> Dataflow:
    """Relay socket -> decode -> Avro -> market.* topics; bad frames -> dlq.relay with their raw bytes."""
    socket_path = env.relay_socket or spec.inputs.relay_socket
    if not socket_path:
        msg = f"{spec.path}: inputs.relay_socket: a bridge needs the relay socket path"
        raise ConfigError(msg)
    dlq_topic = spec.outputs.get("dlq", "dlq.relay")

    def route(rx: Received) -> list[OutRecord]:
        item = rx.item
        if not isinstance(item, Frame):  # a DeadFrame from the framer
            return [_dlq(spec.name, dlq_topic, "frame", item.reason, item.raw, offset=item.offset)]
        trace = {"relay_ns": item.header.timestamp, "bridge_in_ns": rx.received_ns, "bridge_out_ns": time.time_ns()}
        routed, unroutable = route_frame(item, trace)
        out = []
        for r in routed:
            try:
                out.append(OutRecord(r.topic, r.key.encode(), codec(r.topic).encode(r.record)))
            except PulsearbError as exc:
                out.append(_dlq(spec.name, dlq_topic, "encode", exc, item.raw))
        if unroutable:
            reason = f"no topic for TLV {', '.join(unroutable)}"
            out.append(_dlq(spec.name, dlq_topic, "route", reason, item.raw))
        return out

    flow = Dataflow(spec.name)
    frames = op.input("relay", flow, RelaySource(socket_path))
    records = op.flat_map("route", frames, route)
    op.output("kafka", records, KafkaSink(env.bootstrap, dict(env.kafka_extra)))
    return flow


# --- detector -------------------------------------------------------------------------------------------------


def strategy_params(spec: FlowSpec) -> StrategyParams:
    """Build the strategy parameters from ``strategy.params``.

    Raises:
        ConfigError: an unknown or mistyped parameter (names the spec file and the field).
    """
    raw = dict(spec.strategy.params)
    allowed = set(StrategyParams.__dataclass_fields__) - {"flow"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        msg = f"{spec.path}: strategy.params.{unknown[0]}: unknown parameter; expected one of {', '.join(sorted(allowed))}"
        raise ConfigError(msg)
    if "base_tokens" in raw:
        raw["base_tokens"] = tuple(t.lower() for t in raw["base_tokens"])
    if "native_token" in raw:
        raw["native_token"] = raw["native_token"].lower()
    if "venue_fees_bps" in raw:
        raw["venue_fees_bps"] = {int(k): int(v) for k, v in raw["venue_fees_bps"].items()}
    if "pool_fees_bps" in raw:
        raw["pool_fees_bps"] = {k.lower(): int(v) for k, v in raw["pool_fees_bps"].items()}
    if "usd_prices" in raw:
        raw["usd_prices"] = {k.lower(): float(v) for k, v in raw["usd_prices"].items()}
    try:
        return StrategyParams(flow=spec.name, **raw)
    except TypeError as exc:
        msg = f"{spec.path}: strategy.params: {exc}"
        raise ConfigError(msg) from exc


def _pool_state(rec: dict[str, Any], params: StrategyParams, detect_in_ns: int) -> PoolState:
    return PoolState(
        pool=rec["pool"],
        venue=rec["venue"],
        token0=rec["token0"],
        token1=rec["token1"],
        token0_decimals=rec["token0_decimals"],
        token1_decimals=rec["token1_decimals"],
        reserve0=from_u256(rec["reserve0"]),
        reserve1=from_u256(rec["reserve1"]),
        fee_bps=params.fee_for(rec["pool"], rec["venue"]),
        block_number=rec["block_number"],
        source=rec["source"],
        sequence=rec["sequence"],
        timestamp_ns=rec["timestamp_ns"],
        trace=dict(rec.get("trace", {})) | {"detect_in_ns": detect_in_ns},
    )


def detector_flow(spec: FlowSpec, env: RunEnv) -> Dataflow:
    """market.pool_* -> pool state per pool -> latest states per token pair -> strategy -> arb.opportunity."""
    params = strategy_params(spec)
    evaluate = find_strategy(spec.strategy.name)
    out_topic = spec.outputs.get("opportunities", "arb.opportunity")
    dlq_topic = spec.outputs.get("dlq", f"dlq.{spec.name}")
    topics = spec.inputs.topics or ("market.pool_sync",)

    def decode(msg: KafkaRecord) -> tuple[bool, Any]:
        try:
            rec = codec(msg.topic).decode(msg.value or b"")
            return True, _pool_state(rec, params, time.time_ns())
        except (PulsearbError, KeyError, ValueError) as exc:
            where = {"source_topic": msg.topic, "partition": msg.partition, "offset": msg.offset}
            return False, _dlq(spec.name, dlq_topic, "decode", exc, msg.value or b"", **where)

    def join(pools: dict[str, PoolState] | None, state: PoolState) -> tuple[dict[str, PoolState], list[OutRecord]]:
        pools = dict(pools or {})
        pools[state.pool] = state
        opps = evaluate(list(pools.values()), params, time.time_ns())
        out = []
        for opp in opps:
            rec = opportunity_record(opp)
            rec["trace"] = rec["trace"] | {"detect_out_ns": time.time_ns()}
            out.append(OutRecord(out_topic, opp.pair.encode(), codec(out_topic).encode(rec)))
        return pools, out

    flow = Dataflow(spec.name)
    src = op.input("kafka", flow, KafkaSource(env.bootstrap, topics, start=_start(spec), extra=dict(env.kafka_extra)))
    decoded = op.map("decode", src, decode)
    split = op.branch("split", decoded, lambda x: x[0])
    states = op.map("ok", split.trues, lambda x: x[1])
    errs = op.map("err", split.falses, lambda x: x[1])
    by_pool = op.key_on("by_pool", states, lambda s: s.pool)
    folded = op.stateful_map("pool_state", by_pool, fold_pool)
    fresh = op.filter_map("changed", folded, lambda kv: kv[1])
    by_pair = op.key_on("by_pair", fresh, lambda s: s.pair)
    joined = op.stateful_map("pair_join", by_pair, join)
    opps = op.flat_map("detect", joined, lambda kv: kv[1])
    op.output("kafka_out", op.merge("out", opps, errs), KafkaSink(env.bootstrap, dict(env.kafka_extra)))
    return flow


# --- archive --------------------------------------------------------------------------------------------------


def archive_flow(spec: FlowSpec, env: RunEnv) -> Dataflow:
    """Every topic -> ClickHouse tables (batched, deduplicated); undecodable records -> dlq.<flow>."""
    dsn = env.store_dsn or spec.store.get("dsn", "")
    if not dsn:
        msg = f"{spec.path}: store.dsn: an archive flow needs a ClickHouse DSN"
        raise ConfigError(msg)
    database = spec.store.get("database", "pulsearb")
    dlq_topic = spec.outputs.get("dlq", f"dlq.{spec.name}")
    topics = spec.inputs.topics or ARCHIVE_TOPICS

    def decode(msg: KafkaRecord) -> tuple[bool, Any]:
        try:
            rec = codec(msg.topic).decode(msg.value or b"")
            if "trace" in rec:
                rec["trace"] = rec["trace"] | {"archive_ns": time.time_ns()}
            return True, ("archive", (msg.topic, msg.partition, msg.offset, rec))
        except PulsearbError as exc:
            where = {"source_topic": msg.topic, "partition": msg.partition, "offset": msg.offset}
            return False, _dlq(spec.name, dlq_topic, "decode", exc, msg.value or b"", **where)

    flow = Dataflow(spec.name)
    src = op.input("kafka", flow, KafkaSource(env.bootstrap, topics, start=_start(spec), extra=dict(env.kafka_extra)))
    decoded = op.map("decode", src, decode)
    split = op.branch("split", decoded, lambda x: x[0])
    rows = op.map("ok", split.trues, lambda x: x[1])
    errs = op.map("err", split.falses, lambda x: x[1])
    op.output("store", rows, ClickHouseSink(dsn, database))
    op.output("dlq", errs, KafkaSink(env.bootstrap, dict(env.kafka_extra)))
    return flow


BUILDERS = {"bridge": bridge_flow, "detector": detector_flow, "archive": archive_flow}


def build(spec: FlowSpec, env: RunEnv) -> Dataflow:
    """Turn a validated spec into a Bytewax Dataflow.

    Raises:
        ConfigError: the spec's kind has no builder yet, or a required setting is missing.
    """
    builder = BUILDERS.get(spec.kind)
    if builder is None:
        msg = f"{spec.path}: kind: {spec.kind!r} flows are not built yet in this version"
        raise ConfigError(msg)
    return builder(spec, env)
