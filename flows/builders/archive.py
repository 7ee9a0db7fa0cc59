"""Archive flow: every topic -> ClickHouse (batched, deduplicated); records with a bad header -> dlq.<flow>.

Records are not decoded in Python: the flow checks each payload's single-object header (magic and a known schema
fingerprint) and hands the bodies to ClickHouse in Avro containers (sinks/writer.py). The source yields one chunk
per Kafka poll of a partition (offsets and payloads as two lists, no object per record) and every step works per
chunk, so per-record Python work is limited to slicing and joining bytes.

Spec settings (``store:``): ``dsn``, ``database``, ``batch_rows`` (rows per INSERT, default 50000),
``batch_age_s`` (seconds a row may wait, default 0.5), ``max_backoff_s`` (default 10) and ``aliases``
(``{topic: schema_topic}``: archive a topic under another topic's schema and table). Without an alias a topic
named ``<topic>.<suffix>`` (a staging or test copy) archives into ``<topic>``'s table.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from base.errors import ConfigError, PulsearbError
from flows.builders.common import RunEnv, dlq_record, start_offset
from flows.connectors.clickhouse import ClickHouseSink, SinkConfig
from flows.connectors.kafka import KafkaChunk, KafkaSink, KafkaSource
from flows.metrics import DEAD_LETTERS, RECORDS_IN
from flows.spec import SPECS_DIR, FlowSpec, load_specs
from sinks.archive import schema_topic_for
from sinks.container import bad_headers, check_header, writers

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


def sink_config(spec: FlowSpec, env: RunEnv) -> SinkConfig:
    """The sink settings of an archive spec.

    Raises:
        ConfigError: no DSN, a bad number, or a topic without an Avro schema.
    """
    store = spec.store
    dsn = env.store_dsn or store.get("dsn", "")
    if not dsn:
        msg = f"{spec.path}: store.dsn: an archive flow needs a ClickHouse DSN (chdb://PATH or http(s)://HOST:PORT)"
        raise ConfigError(msg)
    aliases = {str(k): str(v) for k, v in (store.get("aliases") or {}).items()}
    for topic in spec.inputs.topics or ARCHIVE_TOPICS:
        try:
            writers(schema_topic_for(topic, aliases))
        except PulsearbError as exc:
            msg = f"{spec.path}: inputs.topics: {topic!r} has no Avro schema ({exc}); map it with store.aliases"
            raise ConfigError(msg) from exc
    try:
        cfg = SinkConfig(
            dsn=dsn,
            database=str(store.get("database", "pulsearb")),
            flow=spec.name,
            max_rows=int(store.get("batch_rows", 50_000)),
            max_age_s=float(store.get("batch_age_s", 0.5)),
            max_backoff_s=float(store.get("max_backoff_s", 10.0)),
            aliases=aliases,
            bootstrap=env.bootstrap,
            dlq_topic=spec.outputs.get("dlq", f"dlq.{spec.name}"),
            kafka_extra=dict(env.kafka_extra),
        )
    except (TypeError, ValueError) as exc:
        msg = f"{spec.path}: store: batch_rows, batch_age_s and max_backoff_s must be numbers ({exc})"
        raise ConfigError(msg) from exc
    if cfg.max_rows <= 0 or cfg.max_age_s <= 0 or cfg.max_backoff_s <= 0:
        msg = f"{spec.path}: store: batch_rows, batch_age_s and max_backoff_s must be positive"
        raise ConfigError(msg)
    return cfg


def archive_topics(spec: FlowSpec) -> tuple[str, ...]:
    """The spec's input topics plus the dead-letter topic of every flow in flows/specs and beside the spec.

    So a flow added as one YAML file has its dead letters archived without editing the archive spec.
    """
    topics = list(spec.inputs.topics or ARCHIVE_TOPICS)
    siblings = []
    for directory in dict.fromkeys((SPECS_DIR, spec.path.parent)):
        try:
            siblings += load_specs(directory)
        except PulsearbError:
            continue  # a broken spec is reported by `flows validate`, not by the archive
    for other in siblings:
        dlq = other.outputs.get("dlq") or f"dlq.{other.name}"
        if other.name != spec.name and dlq not in topics:
            topics.append(dlq)
    return tuple(topics)


def archive_flow(spec: FlowSpec, env: RunEnv) -> Dataflow:
    """Every topic -> ClickHouse tables (batched, deduplicated); records with a bad header -> dlq.<flow>."""
    cfg = sink_config(spec, env)
    topics = archive_topics(spec)
    aliases = dict(cfg.aliases)
    flow_name = spec.name
    schema_of = cache(lambda topic: schema_topic_for(topic, aliases))

    def split_batch(polled: list[KafkaChunk]) -> list[tuple[bool, Any]]:
        out: list[tuple[bool, Any]] = []
        for chunk in polled:
            topic, offsets, values = chunk.topic, chunk.offsets, chunk.values
            bad = bad_headers(schema_of(topic), values)
            if bad:
                for i in bad:
                    why = check_header(schema_of(topic), values[i])
                    DEAD_LETTERS.labels(flow_name, "decode").inc()
                    where = {"source_topic": topic, "partition": chunk.partition, "offset": offsets[i]}
                    out.append((False, dlq_record(flow_name, cfg.dlq_topic, "decode", why, values[i] or b"", **where)))
                drop = set(bad)
                offsets = [o for i, o in enumerate(offsets) if i not in drop]
                values = [v for i, v in enumerate(values) if i not in drop]
            if offsets:
                RECORDS_IN.labels(flow_name, topic).inc(len(offsets))
                out.append((True, ("archive", (topic, chunk.partition, offsets, values))))
        return out

    flow = Dataflow(spec.name)
    source = KafkaSource(env.bootstrap, topics, start=start_offset(spec), extra=dict(env.kafka_extra), chunks=True)
    src = op.input("kafka", flow, source)
    checked = op.flat_map_batch("decode", src, split_batch)
    split = op.branch("split", checked, lambda x: x[0])
    chunks = op.map("ok", split.trues, lambda x: x[1])
    errs = op.map("err", split.falses, lambda x: x[1])
    op.output("store", chunks, ClickHouseSink(cfg))
    op.output("dlq", errs, KafkaSink(env.bootstrap, dict(env.kafka_extra)))
    return flow
