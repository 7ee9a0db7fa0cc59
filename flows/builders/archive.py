"""Archive flow: every topic -> ClickHouse (batched, deduplicated); undecodable records -> dlq.<flow>."""

from __future__ import annotations

import time
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from flows.builders.common import RunEnv, dlq_record, start_offset
from flows.connectors.clickhouse import ClickHouseSink
from flows.connectors.kafka import KafkaRecord, KafkaSink, KafkaSource
from flows.errors import ConfigError, PulsearbError
from flows.spec import FlowSpec
from schemas.serde import codec

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
            return False, dlq_record(spec.name, dlq_topic, "decode", exc, msg.value or b"", **where)

    flow = Dataflow(spec.name)
    src = op.input(
        "kafka", flow, KafkaSource(env.bootstrap, topics, start=start_offset(spec), extra=dict(env.kafka_extra))
    )
    decoded = op.map("decode", src, decode)
    split = op.branch("split", decoded, lambda x: x[0])
    rows = op.map("ok", split.trues, lambda x: x[1])
    errs = op.map("err", split.falses, lambda x: x[1])
    op.output("store", rows, ClickHouseSink(dsn, database))
    op.output("dlq", errs, KafkaSink(env.bootstrap, dict(env.kafka_extra)))
    return flow
