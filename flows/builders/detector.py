"""Detector flow: market.pool_* -> pool state -> latest states per pair -> strategy -> arb.opportunity."""

from __future__ import annotations

import time
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from flows.builders.common import RunEnv, dlq_record, start_offset
from flows.connectors.kafka import KafkaRecord, KafkaSink, KafkaSource, OutRecord
from flows.errors import ConfigError, PulsearbError
from flows.opportunity import to_record as opportunity_record
from flows.pools import PoolState, fold_pool
from flows.spec import FlowSpec
from flows.strategies import strategy as find_strategy
from flows.strategies.params import StrategyParams
from schemas.serde import codec, from_u256


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
            return False, dlq_record(spec.name, dlq_topic, "decode", exc, msg.value or b"", **where)

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
    src = op.input(
        "kafka", flow, KafkaSource(env.bootstrap, topics, start=start_offset(spec), extra=dict(env.kafka_extra))
    )
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
