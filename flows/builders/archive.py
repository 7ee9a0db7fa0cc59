"""Archive flow: every topic -> ClickHouse (batched, deduplicated); records with a bad header -> dlq.<flow>.

Records are not decoded in Python: the flow checks each payload's single-object header (magic and a known schema
fingerprint) and hands the bodies to ClickHouse in Avro containers (sinks/writer.py). The source yields one chunk
per Kafka poll of a partition (offsets and payloads as two lists, no object per record) and every step works per
chunk, so per-record Python work is limited to slicing and joining bytes.

Spec settings (``store:``): ``dsn``, ``database``, ``batch_rows`` (rows per INSERT, default 50000),
``batch_age_s`` (seconds a row may wait, default 0.5), ``max_backoff_s`` (default 10) and ``aliases``
(``{topic: schema_topic}``: archive a topic under another topic's schema and table). Without an alias a topic
named ``<topic>.<suffix>`` (a staging or test copy) or ``<prefix>.<topic>`` archives into ``<topic>``'s table
(:func:`schemas.serde.schema_topic`, the rule every flow uses). The header check runs in the :func:`decode
<flows.builders.decode.decode>` operator, whose refusals go to ``dlq.<flow>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from base.errors import ConfigError, PulsearbError
from flows.builders.common import RunEnv, start_offset
from flows.builders.contract import BuilderContract
from flows.builders.decode import Rejected, decode
from flows.connectors.clickhouse import ArchiveChunk, ClickHouseSink, SinkConfig
from flows.connectors.kafka import KafkaChunk, KafkaSink, KafkaSource
from flows.spec import SPECS_DIR, FlowSpec, load_specs
from flows.spec.problems import Problems
from schemas.serde import schema_topic
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


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """An archive spec's ``store`` section, read once (types and ranges are the schema's; defaults filled in).

    Attributes:
        dsn: ClickHouse DSN without password ('' = the run's ``--store-dsn`` / ``$PULSEARB_STORE_DSN``).
        database: database name.
        batch_rows: rows per INSERT at most.
        batch_age_s: seconds a row may wait for its batch.
        max_backoff_s: cap of the retry backoff while the store is down, s.
        aliases: topic -> topic whose schema and table it uses.
    """

    dsn: str = ""
    database: str = "pulsearb"
    batch_rows: int = 50_000
    batch_age_s: float = 0.5
    max_backoff_s: float = 10.0
    aliases: Mapping[str, str] = field(default_factory=dict)


def load_config(spec: FlowSpec) -> StoreConfig:
    """Read the ``store`` section and check that every input topic has an Avro schema, without any I/O.

    Raises:
        SpecError: every topic without a schema, one line each.
    """
    problems = Problems.of(spec)
    store = spec.store
    aliases = {str(k): str(v) for k, v in (store.get("aliases") or {}).items()}
    for i, topic in enumerate(spec.inputs.topics or ARCHIVE_TOPICS):
        try:
            writers(schema_topic(topic, aliases))
        except PulsearbError as exc:
            where = f"inputs.topics[{i}]" if spec.inputs.topics else "inputs.topics"
            problems.note(where, f"{exc}; map it with store.aliases")
    problems.raise_any()
    d = StoreConfig()
    return StoreConfig(
        dsn=str(store.get("dsn", d.dsn)),
        database=str(store.get("database", d.database)),
        batch_rows=int(store.get("batch_rows", d.batch_rows)),
        batch_age_s=float(store.get("batch_age_s", d.batch_age_s)),
        max_backoff_s=float(store.get("max_backoff_s", d.max_backoff_s)),
        aliases=aliases,
    )


def sink_config(spec: FlowSpec, env: RunEnv) -> SinkConfig:
    """The sink settings of an archive spec for a run (its store section, the run's DSN and broker).

    Raises:
        SpecError: a topic without an Avro schema (:func:`load_config`).
        ConfigError: no DSN in the spec or the run.
    """
    store = load_config(spec)
    dsn = env.store_dsn or store.dsn
    if not dsn:
        msg = f"{spec.path}: store.dsn: an archive flow needs a ClickHouse DSN (chdb://PATH or http(s)://HOST:PORT)"
        raise ConfigError(msg)
    return SinkConfig(
        dsn=dsn,
        database=store.database,
        flow=spec.name,
        max_rows=store.batch_rows,
        max_age_s=store.batch_age_s,
        max_backoff_s=store.max_backoff_s,
        aliases=dict(store.aliases),
        bootstrap=env.bootstrap,
        dlq_topic=spec.outputs.get("dlq", f"dlq.{spec.name}"),
        kafka_extra=dict(env.kafka_extra),
    )


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
    schema_of = cache(lambda topic: schema_topic(topic, aliases))

    def check_chunk(chunk: KafkaChunk) -> tuple[list[tuple[str, ArchiveChunk]], list[Rejected]]:
        # One header check per chunk (bad_headers); the reason is worked out only for the records it refuses.
        topic, offsets, values = chunk.topic, chunk.offsets, chunk.values
        bad = bad_headers(schema_of(topic), values)
        rejected: list[Rejected] = [(i, check_header(schema_of(topic), values[i]) or "") for i in bad]
        if bad:
            drop = set(bad)
            offsets = [o for i, o in enumerate(offsets) if i not in drop]
            values = [v for i, v in enumerate(values) if i not in drop]
        return ([("archive", (topic, chunk.partition, offsets, values))] if offsets else []), rejected

    flow = Dataflow(spec.name)
    source = KafkaSource(env.bootstrap, topics, start=start_offset(spec), extra=dict(env.kafka_extra), chunks=True)
    checked = decode("decode", op.input("kafka", flow, source), check_chunk, flow=spec.name, dlq_topic=cfg.dlq_topic)
    op.output("store", checked.oks, ClickHouseSink(cfg))
    op.output("dlq", checked.errs, KafkaSink(env.bootstrap, dict(env.kafka_extra)))
    return flow


CONTRACT = BuilderContract(
    kind="archive", sections=frozenset({"inputs", "outputs", "store"}), config=load_config, build=archive_flow
)
"""The archive's builder, as flows/build.py registers it."""
