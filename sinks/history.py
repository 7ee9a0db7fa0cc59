"""The queries behind ``pulsearb history``: opportunities, decisions, executions, PnL and per-hop latency.

Every query reads deduplicated data: raw tables with ``FINAL`` (one row per natural key however often a record was
replayed), PnL from ``pnl_by_opportunity_final`` (one row per opportunity id), latency from the ``hop_latency``
quantile states (or, with ``exact``, from the raw tables with FINAL). Amounts stay exact: 256-bit integers come
back as decimal strings; ``*_usd`` columns are display values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.trace import HOPS
from sinks.clickhouse import query_rows
from sinks.views import HOP_SOURCES, QUANTILES

KINDS = ("opportunities", "decisions", "executions", "pnl", "latency")
BUCKETS = {"day": "toStartOfDay", "hour": "toStartOfHour", "minute": "toStartOfMinute"}


@dataclass(frozen=True, slots=True)
class Filters:
    """What to select. Times are ns since epoch (None: unbounded); strategy and pair match exactly."""

    since_ns: int | None = None
    until_ns: int | None = None
    strategy: str | None = None
    pair: str | None = None
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class Result:
    """Column names and rows of a history query."""

    columns: list[str]
    rows: list[tuple]


def _where(f: Filters, time_col: str, params: dict[str, Any], extra: tuple[str, ...] = ()) -> str:
    conds = list(extra)
    if f.since_ns is not None:
        conds.append(f"{time_col} >= {{since:Int64}}")
        params["since"] = f.since_ns
    if f.until_ns is not None:
        conds.append(f"{time_col} < {{until:Int64}}")
        params["until"] = f.until_ns
    if f.strategy:
        conds.append("strategy = {strategy:String}")
        params["strategy"] = f.strategy
    if f.pair:
        conds.append("pair = {pair:String}")
        params["pair"] = f.pair
    return f"WHERE {' AND '.join(conds)}" if conds else ""


def opportunities(client: Any, db: str, f: Filters) -> Result:
    """Detected opportunities, newest first."""
    params: dict[str, Any] = {}
    sql = (
        "SELECT fromUnixTimestamp64Nano(detected_ns) AS detected, strategy, pair, id, token_in, "
        "toString(amount_in) AS amount_in, toString(net_profit) AS net_profit, round(net_profit_usd, 2) AS net_usd, "
        "block_number, arrayStringConcat(pools, ',') AS pools "
        f"FROM {db}.arb_opportunity FINAL {_where(f, 'detected_ns', params)} "
        f"ORDER BY detected_ns DESC LIMIT {int(f.limit)}"
    )
    return Result(*query_rows(client, sql, params))


def decisions(client: Any, db: str, f: Filters) -> Result:
    """Risk decisions, newest first."""
    params: dict[str, Any] = {}
    sql = (
        "SELECT fromUnixTimestamp64Nano(decided_ns) AS decided, strategy, pair, opportunity_id, accepted, reason, "
        "limit_value, observed_value, toString(net_profit) AS net_profit, round(net_profit_usd, 2) AS net_usd "
        f"FROM {db}.arb_decision FINAL {_where(f, 'decided_ns', params)} "
        f"ORDER BY decided_ns DESC LIMIT {int(f.limit)}"
    )
    return Result(*query_rows(client, sql, params))


def executions(client: Any, db: str, f: Filters) -> Result:
    """Execution outcomes, newest first."""
    params: dict[str, Any] = {}
    sql = (
        "SELECT fromUnixTimestamp64Nano(executed_ns) AS executed, strategy, pair, opportunity_id, status, tx_hash, "
        "block_number, gas_used, toString(predicted_profit) AS predicted_profit, "
        "toString(realized_profit) AS realized_profit, toString(gas_cost_wei) AS gas_cost_wei, revert_reason "
        f"FROM {db}.arb_execution FINAL {_where(f, 'executed_ns', params)} "
        f"ORDER BY executed_ns DESC LIMIT {int(f.limit)}"
    )
    return Result(*query_rows(client, sql, params))


def pnl(client: Any, db: str, f: Filters, bucket: str = "day") -> Result:
    """Realized PnL per time bucket, strategy and pair, one execution per opportunity id (replay-safe).

    ``realized_usd`` is a display estimate: each opportunity's realized profit at the USD rate its detection
    priced the same token with (gross of gas; gas stays exact in ``gas_cost_wei``).
    """
    params: dict[str, Any] = {}
    start = BUCKETS[bucket]
    sql = (
        f"SELECT {start}(fromUnixTimestamp64Nano(p.executed_ns)) AS period, p.strategy AS strategy, p.pair AS pair, "
        "any(p.token_in) AS token_in, count() AS executions, countIf(p.status = 'mined') AS mined, "
        "countIf(p.status = 'reverted') AS reverted, toString(sum(p.realized_profit)) AS realized_profit, "
        "toString(sum(p.predicted_profit)) AS predicted_profit, toString(sum(p.gas_cost_wei)) AS gas_cost_wei, "
        "round(sum(toFloat64(p.realized_profit) * o.usd_per_unit), 2) AS realized_usd "
        f"FROM (SELECT * FROM {db}.pnl_by_opportunity_final {_where(f, 'executed_ns', params)}) AS p "
        "LEFT JOIN (SELECT id, any(if(gross_profit != 0, gross_profit_usd / toFloat64(gross_profit), 0)) "
        f"AS usd_per_unit FROM {db}.arb_opportunity GROUP BY id) AS o ON o.id = p.opportunity_id "
        "GROUP BY period, strategy, pair ORDER BY period, strategy, pair"
    )
    return Result(*query_rows(client, sql, params))


def _hop_order() -> dict[str, int]:
    return {name: i for i, (name, _, _) in enumerate(HOPS)}


def latency(client: Any, db: str, f: Filters, exact: bool = False) -> Result:
    """Per-hop latency (ms): samples, p50, p90, p99 and max over the selected window."""
    if exact:
        return _latency_exact(client, db, f)
    params: dict[str, Any] = {}
    where = _where(f, "toInt64(toUnixTimestamp(minute)) * 1000000000", params)
    q = ", ".join(str(x) for x in QUANTILES)
    sql = (
        "SELECT hop, sum(samples) AS samples, "
        f"arrayMap(x -> round(x, 3), quantilesTDigestMerge({q})(quantiles)) AS qs, round(max(max_ms), 3) AS max_ms "
        f"FROM {db}.hop_latency {where} GROUP BY hop"
    )
    _, rows = query_rows(client, sql, params)
    order = _hop_order()
    out = [(hop, int(n), *[float(x) for x in qs], float(mx)) for hop, n, qs, mx in rows]
    out.sort(key=lambda r: order.get(r[0], len(order)))
    return Result(["hop", "samples", "p50_ms", "p90_ms", "p99_ms", "max_ms"], out)


def _latency_exact(client: Any, db: str, f: Filters) -> Result:
    by_name = {name: (a, b) for name, a, b in HOPS}
    out = []
    for table, hops in HOP_SOURCES.items():
        market = table == "market_pool_sync"  # market data carries no strategy or pair
        if market and (f.strategy or f.pair):
            continue
        for hop in hops:
            a, b = by_name[hop]
            params: dict[str, Any] = {}
            cond = (f"mapContains(trace, '{a}')", f"mapContains(trace, '{b}')")
            where = _where(Filters(f.since_ns, f.until_ns) if market else f, f"trace['{b}']", params, cond)
            v = f"(trace['{b}'] - trace['{a}']) / 1e6"
            sql = f"SELECT count(), quantilesExact(0.5, 0.9, 0.99)({v}), max({v}) FROM {db}.{table} FINAL {where}"
            _, rows = query_rows(client, sql, params)
            n, qs, mx = rows[0]
            if int(n):
                out.append((hop, int(n), *[round(float(x), 3) for x in qs], round(float(mx), 3)))
    return Result(["hop", "samples", "p50_ms", "p90_ms", "p99_ms", "max_ms"], out)


def latency_series(client: Any, db: str, f: Filters) -> Result:
    """p50 and p99 per minute and hop (for charts)."""
    params: dict[str, Any] = {}
    where = _where(f, "toInt64(toUnixTimestamp(minute)) * 1000000000", params)
    sql = (
        "SELECT minute, hop, sum(samples) AS samples, quantilesTDigestMerge(0.5, 0.99)(quantiles) AS qs "
        f"FROM {db}.hop_latency {where} GROUP BY minute, hop ORDER BY minute"
    )
    _, rows = query_rows(client, sql, params)
    series = [(m, h, int(n), float(q[0]), float(q[1])) for m, h, n, q in rows]
    return Result(["minute", "hop", "samples", "p50_ms", "p99_ms"], series)
