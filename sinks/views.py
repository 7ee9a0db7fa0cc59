"""The materialized views over the archive: PnL per day, strategy and pair, and per-hop latency quantiles.

Migration ``003_pnl_latency_views.sql`` is the output of ``python -m sinks.views``; docs/database.md explains the
design. In short:

* **PnL** comes from ``arb_execution``. A replay or a re-emitted execution inserts the same opportunity id again,
  and a materialized view only sees the inserted block, so summing in the view would count it twice. The view
  therefore keeps one row *per opportunity id* with ``argMax(value, executed_ns)`` states
  (``pnl_by_opportunity``, an AggregatingMergeTree keyed by the id): duplicates merge into one state, whether
  or not background merges ran, and the plain view ``pnl_daily`` sums the merged states per day, strategy, pair.
* **Latency** comes from the ``trace`` maps. Each hop of ``base.trace.HOPS`` is read from the one table whose
  records carry both of its stages first (:data:`HOP_SOURCES`), so no hop is counted twice, and kept as
  t-digest quantile states per minute, hop, strategy and pair (``hop_latency``). Replayed records add samples
  again (a quantile sketch cannot tell); ``pulsearb history latency --exact`` computes quantiles from the raw
  tables with FINAL instead. Like every archive table, its TTL counts from ``archived_at`` (not event time), so
  backfilled or replayed old data does not expire on arrival.
"""

from __future__ import annotations

from base.trace import HOPS

# Table -> the hops read from it (every hop of base.trace.HOPS exactly once; tests/sinks checks it).
HOP_SOURCES: dict[str, tuple[str, ...]] = {
    "market_pool_sync": ("relay->bridge", "bridge"),
    "arb_opportunity": ("kafka->detector", "detector", "relay->opportunity", "kafka->archive"),
    "arb_decision": ("kafka->risk", "risk"),
    "arb_execution": ("submit", "confirm"),
}
QUANTILES = (0.5, 0.9, 0.99)
_LATENCY_COLUMNS = "minute, hop, source_table, strategy, pair, samples, max_ms, quantiles"
_LABELS = {"market_pool_sync": ("''", "''")}  # (strategy, pair) expressions; other tables have both columns

PNL_SQL = """\
CREATE TABLE IF NOT EXISTS {database}.pnl_by_opportunity (
    opportunity_id String,
    strategy LowCardinality(String),
    pair String,
    day AggregateFunction(argMax, Date, Int64),
    token_in AggregateFunction(argMax, String, Int64),
    status AggregateFunction(argMax, String, Int64),
    realized_profit AggregateFunction(argMax, Int256, Int64),
    predicted_profit AggregateFunction(argMax, Int256, Int64),
    gas_cost_wei AggregateFunction(argMax, UInt256, Int64),
    last_ns SimpleAggregateFunction(max, Int64)
) ENGINE = AggregatingMergeTree
ORDER BY (strategy, pair, opportunity_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.pnl_by_opportunity_mv TO {database}.pnl_by_opportunity AS
SELECT opportunity_id, strategy, pair,
    argMaxState(toDate(fromUnixTimestamp64Nano(executed_ns)), executed_ns) AS day,
    argMaxState(token_in, executed_ns) AS token_in,
    argMaxState(toString(status), executed_ns) AS status,
    argMaxState(realized_profit, executed_ns) AS realized_profit,
    argMaxState(predicted_profit, executed_ns) AS predicted_profit,
    argMaxState(gas_cost_wei, executed_ns) AS gas_cost_wei,
    max(executed_ns) AS last_ns
FROM {database}.arb_execution
GROUP BY opportunity_id, strategy, pair;

INSERT INTO {database}.pnl_by_opportunity
SELECT opportunity_id, strategy, pair,
    argMaxState(toDate(fromUnixTimestamp64Nano(executed_ns)), executed_ns),
    argMaxState(token_in, executed_ns),
    argMaxState(toString(status), executed_ns),
    argMaxState(realized_profit, executed_ns),
    argMaxState(predicted_profit, executed_ns),
    argMaxState(gas_cost_wei, executed_ns),
    max(executed_ns)
FROM {database}.arb_execution
GROUP BY opportunity_id, strategy, pair;

CREATE VIEW IF NOT EXISTS {database}.pnl_by_opportunity_final AS
SELECT opportunity_id, strategy, pair,
    argMaxMerge(day) AS day,
    argMaxMerge(token_in) AS token_in,
    argMaxMerge(status) AS status,
    argMaxMerge(realized_profit) AS realized_profit,
    argMaxMerge(predicted_profit) AS predicted_profit,
    argMaxMerge(gas_cost_wei) AS gas_cost_wei,
    max(last_ns) AS executed_ns
FROM {database}.pnl_by_opportunity
GROUP BY opportunity_id, strategy, pair;

CREATE VIEW IF NOT EXISTS {database}.pnl_daily AS
SELECT day, strategy, pair, token_in,
    count() AS executions,
    countIf(status = 'mined') AS mined,
    countIf(status = 'reverted') AS reverted,
    sum(realized_profit) AS realized_profit,
    sum(predicted_profit) AS predicted_profit,
    sum(gas_cost_wei) AS gas_cost_wei
FROM {database}.pnl_by_opportunity_final
GROUP BY day, strategy, pair, token_in;
"""

LATENCY_TABLE_SQL = """\
CREATE TABLE IF NOT EXISTS {{database}}.hop_latency (
    minute DateTime,
    hop LowCardinality(String),
    source_table LowCardinality(String),
    strategy LowCardinality(String),
    pair String,
    samples SimpleAggregateFunction(sum, UInt64),
    max_ms SimpleAggregateFunction(max, Float64),
    quantiles AggregateFunction(quantilesTDigest({q}), Float64),
    archived_at SimpleAggregateFunction(max, DateTime64(3)) DEFAULT now64(3)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (hop, source_table, strategy, pair, minute)
TTL toDate(archived_at) + INTERVAL {{retention_days}} DAY;
"""


def _hop_array(names: tuple[str, ...]) -> str:
    by_name = {name: (a, b) for name, a, b in HOPS}
    items = []
    for name in names:
        a, b = by_name[name]
        items.append(
            f"('{name}', (trace['{b}'] - trace['{a}']) / 1e6, trace['{b}'], "
            f"mapContains(trace, '{a}') AND mapContains(trace, '{b}'))"
        )
    return "[\n        " + ",\n        ".join(items) + "\n    ]"


def latency_select(table: str) -> str:
    """The SELECT turning ``table``'s trace maps into ``hop_latency`` rows (its hops of :data:`HOP_SOURCES`)."""
    strategy, pair = _LABELS.get(table, ("toString(strategy)", "pair"))
    q = ", ".join(str(x) for x in QUANTILES)
    return (
        f"SELECT toStartOfMinute(fromUnixTimestamp64Nano(h.3)) AS minute, h.1 AS hop, '{table}' AS source_table,\n"
        f"    {strategy} AS strategy, {pair} AS pair, count() AS samples, max(h.2) AS max_ms,\n"
        f"    quantilesTDigestState({q})(h.2) AS quantiles\n"
        f"FROM {{database}}.{table}\n"
        f"ARRAY JOIN arrayFilter(x -> x.4, {_hop_array(HOP_SOURCES[table])}) AS h\n"
        f"GROUP BY minute, hop, source_table, strategy, pair"
    )


def latency_view_sql(table: str) -> str:
    """The view feeding ``hop_latency`` from ``table``, and the backfill of the rows already there."""
    view = f"{{database}}.hop_latency_{table}_mv"
    return (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} TO {{database}}.hop_latency AS\n{latency_select(table)};\n\n"
        f"INSERT INTO {{database}}.hop_latency ({_LATENCY_COLUMNS})\n{latency_select(table)};\n"
    )


def migration_text() -> str:
    """The text of migration 003."""
    head = (
        "-- Generated by `python -m sinks.views` (see sinks/views.py for the design). Never edit: change the views\n"
        "-- with a new migration (DROP VIEW ... then CREATE, plus a backfill INSERT ... SELECT if needed).\n"
    )
    q = ", ".join(str(x) for x in QUANTILES)
    parts = [head, PNL_SQL, LATENCY_TABLE_SQL.format(q=q)]
    parts += [latency_view_sql(table) for table in HOP_SOURCES]
    return "\n".join(parts)


if __name__ == "__main__":
    print(migration_text(), end="")
