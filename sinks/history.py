"""The queries behind ``pulsearb history``: opportunities, decisions, executions, PnL and per-hop latency.

Every query reads deduplicated data: raw tables with ``FINAL`` (one row per natural key however often a record was
replayed), PnL from ``pnl_by_opportunity_final`` (one row per opportunity id), latency from the ``hop_latency``
quantile states (or, with ``exact``, from the raw tables with FINAL). Amounts stay exact: 256-bit integers come
back as decimal strings; ``*_usd`` columns are display values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from base.trace import HOPS
from sinks.clickhouse import query_rows
from sinks.views import HOP_SOURCES, QUANTILES

KINDS = ("opportunities", "decisions", "executions", "pnl", "latency")
MARKET_KINDS = ("prices", "spreads", "swaps", "dead-letters")
BUCKETS = {"day": "toStartOfDay", "hour": "toStartOfHour", "minute": "toStartOfMinute"}


@dataclass(frozen=True, slots=True)
class Filters:
    """What to select. Times are ns since epoch (None: unbounded); strategy, pair and flow match exactly.

    ``venue`` matches a venue's name (``UNISWAP_V2``, case-insensitive) or number; ``pair`` matches a pool's
    token pair key (sorted addresses joined by '/', as opportunities carry it) or a CEX instrument's symbol.
    """

    since_ns: int | None = None
    until_ns: int | None = None
    strategy: str | None = None
    pair: str | None = None
    limit: int = 1000
    venue: str | None = None
    flow: str | None = None
    run_id: str = ""  # opportunities of this backtest run ('' : the live ones)


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
    if f.venue:
        conds.append("(lower(venue_name) = lower({venue:String}) OR toString(venue) = {venue:String})")
        params["venue"] = f.venue
    if f.flow:
        conds.append("flow = {flow:String}")
        params["flow"] = f.flow
    return f"WHERE {' AND '.join(conds)}" if conds else ""


def opportunities(client: Any, db: str, f: Filters) -> Result:
    """Detected opportunities, newest first: the live ones, or with ``run_id`` those of one backtest run."""
    params: dict[str, Any] = {"run": f.run_id}
    sql = (
        "SELECT fromUnixTimestamp64Nano(detected_ns) AS detected, strategy, pair, id, token_in, "
        "toString(amount_in) AS amount_in, toString(net_profit) AS net_profit, round(net_profit_usd, 2) AS net_usd, "
        "block_number, arrayStringConcat(pools, ',') AS pools "
        f"FROM {db}.arb_opportunity FINAL {_where(f, 'detected_ns', params, ('run_id = {run:String}',))} "
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


def bucket_for_span(span_ns: int) -> str:
    """The PnL period for a time span: minute under 2 hours, hour under 3 days, else day.

    >>> bucket_for_span(60 * 10**9), bucket_for_span(6 * 3600 * 10**9), bucket_for_span(30 * 86400 * 10**9)
    ('minute', 'hour', 'day')
    """
    hour = 3600 * 10**9
    if span_ns < 2 * hour:
        return "minute"
    return "hour" if span_ns < 72 * hour else "day"


def pnl_span(client: Any, db: str, f: Filters, now_ns: int) -> int:
    """The time span (ns) a PnL query covers: ``--since`` to ``--until`` (or now) when a start is given, else the
    span of the selected executions (0 when there are none)."""
    if f.since_ns is not None:
        return max(0, (f.until_ns if f.until_ns is not None else now_ns) - f.since_ns)
    params: dict[str, Any] = {}
    sql = (
        "SELECT min(executed_ns), max(executed_ns), count() "
        f"FROM {db}.pnl_by_opportunity_final {_where(f, 'executed_ns', params)}"
    )
    _, rows = query_rows(client, sql, params)
    first, last, n = rows[0]
    return int(last) - int(first) if int(n) else 0


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


# --- market history: prices, spreads, swaps, dead letters -----------------------------------------------------------

PAIR_EXPR = "arrayStringConcat(arraySort([{a}, {b}]), '/')"
"""SQL of a token pair key from two token columns: the addresses sorted and joined by '/' (as opportunities)."""


def _p01(reserve0: str = "reserve0", reserve1: str = "reserve1") -> str:
    """SQL: token1 per whole token0 from raw reserves (NaN when a reserve is empty)."""
    return (
        f"if({reserve0} = 0 OR {reserve1} = 0, nan, (toFloat64({reserve1}) / pow(10, token1_decimals)) "
        f"/ (toFloat64({reserve0}) / pow(10, token0_decimals)))"
    )


def _sqrt_p01() -> str:
    """SQL: token1 per whole token0 from a V3 sqrt price (Q64.96)."""
    scale = "pow(10, toInt16(token0_decimals) - toInt16(token1_decimals))"
    return f"pow(toFloat64(sqrt_price_x96) / pow(2, 96), 2) * {scale}"


def _oriented(p01: str) -> str:
    # A pair "A/B" (sorted addresses) is priced as B per A, whichever of the two is the pool's token0.
    return f"if(token0 <= token1, {p01}, 1 / {p01})"


def pool_prices_sql(db: str) -> str:
    """SQL of every archived pool price, one row per pool update (pool syncs and pool states, deduplicated).

    Columns: ``t_ns`` (relay time, ns), ``seq``, ``venue``, ``venue_name``, ``market`` (pool address), ``pair``,
    ``price`` (whole units of the pair's second token per whole first token, from reserves or the V3 sqrt price,
    display only), ``block_number``, ``source_table``. Reusable as a subquery (the backtest reads it too).
    """
    pair = PAIR_EXPR.format(a="token0", b="token1")
    sync = (
        f"SELECT timestamp_ns AS t_ns, sequence AS seq, venue, venue_name, pool AS market, {pair} AS pair, "
        f"{_oriented(_p01())} AS price, block_number, 'market_pool_sync' AS source_table "
        f"FROM {db}.market_pool_sync FINAL"
    )
    state = (
        f"SELECT timestamp_ns AS t_ns, sequence AS seq, venue, venue_name, pool AS market, {pair} AS pair, "
        f"{_oriented(f'if(sqrt_price_x96 > 0, {_sqrt_p01()}, {_p01()})')} AS price, block_number, "
        f"'market_pool_state' AS source_table FROM {db}.market_pool_state FINAL"
    )
    return f"SELECT * FROM ({sync} UNION ALL {state}) WHERE isFinite(price)"


def quote_prices_sql(db: str) -> str:
    """SQL of every archived CEX quote as a price row: mid, bid and ask in USD per whole base (x1e8 fixed point
    on the wire), ``pair`` = the instrument's symbol."""
    return (
        "SELECT timestamp_ns AS t_ns, sequence AS seq, venue, venue_name, instrument AS market, "
        "toString(symbol) AS pair, (bid_price + ask_price) / 2e8 AS price, bid_price / 1e8 AS bid, "
        f"ask_price / 1e8 AS ask, toUInt64(0) AS block_number, 'market_quote' AS source_table "
        f"FROM {db}.market_quote FINAL WHERE bid_price > 0 AND ask_price > 0"
    )


def prices(client: Any, db: str, f: Filters, cex: bool = True) -> Result:
    """Pool mid prices (and, with ``cex``, CEX quote mids) over time, newest first.

    ``price`` is in whole units (decimals applied): for a pool, the pair's second token per whole first token
    (pair = sorted token addresses); for a CEX instrument, USD per whole base. Display values: the raw reserves
    stay exact in the archive tables.
    """
    params: dict[str, Any] = {}
    pools = "SELECT t_ns, seq, venue, venue_name, market, pair, price, CAST(NULL, 'Nullable(Float64)') AS bid, "
    pools += f"CAST(NULL, 'Nullable(Float64)') AS ask, block_number, source_table FROM ({pool_prices_sql(db)})"
    union = f"{pools} UNION ALL {quote_prices_sql(db)}" if cex else pools
    # Filter before renaming venue_name to venue: a WHERE sees the SELECT's aliases first.
    sql = (
        "SELECT fromUnixTimestamp64Nano(t_ns) AS time, venue_name AS venue, market, pair, price, bid, ask, "
        f"block_number, source_table FROM (SELECT * FROM ({union}) {_where(f, 't_ns', params)}) "
        f"ORDER BY t_ns DESC, seq DESC LIMIT {int(f.limit)}"
    )
    return Result(*query_rows(client, sql, params))


@dataclass(frozen=True, slots=True)
class SpreadSides:
    """The two markets a spread compares: pools of one pair on two venues."""

    pair: str
    venue_a: str
    market_a: str
    venue_b: str
    market_b: str


def spread_sides(client: Any, db: str, f: Filters, venues: tuple[str, str] | None = None) -> list[SpreadSides]:
    """For each pair (or ``f.pair``) with pools on two venues, the two pools to compare.

    Each venue is represented by its pool of the pair with the most updates in the window; the venues are
    ``venues`` when given (names, case-insensitive), else the two with the most updates (ordered by name).
    """
    params: dict[str, Any] = {}
    where = _where(Filters(f.since_ns, f.until_ns, pair=f.pair), "t_ns", params)
    sql = (
        f"SELECT pair, venue_name, market, count() AS n FROM ({pool_prices_sql(db)}) {where} "
        "GROUP BY pair, venue_name, market ORDER BY pair, n DESC, market"
    )
    _, rows = query_rows(client, sql, params)
    best: dict[str, dict[str, tuple[str, int]]] = {}
    for pair, venue, market, n in rows:
        best.setdefault(pair, {}).setdefault(str(venue), (market, int(n)))
    out = []
    for pair, by_venue in best.items():
        if venues:
            found = {v.lower(): v for v in by_venue}
            chosen = [found.get(v.lower()) for v in venues]
            if None in chosen:
                continue
            a, b = chosen[0], chosen[1]
        else:
            busiest = sorted(by_venue, key=lambda v: -by_venue[v][1])[:2]
            if len(busiest) < 2:
                continue
            a, b = sorted(busiest)
        assert a is not None and b is not None
        out.append(SpreadSides(pair, a, by_venue[a][0], b, by_venue[b][0]))
    return out


def spreads(client: Any, db: str, f: Filters, venues: tuple[str, str] | None = None) -> Result:
    """Per pair, the price difference between two venues over time, newest first.

    At every update of either pool, ``spread_bps`` = (price_a - price_b) / mid * 10,000 with each side's latest
    price (so positive: venue A quotes the pair's first token dearer). Sides come from :func:`spread_sides`.
    """
    columns = ["time", "pair", "venue_a", "venue_b", "price_a", "price_b", "spread_bps", "market_a", "market_b"]
    rows: list[tuple] = []
    for side in spread_sides(client, db, f, venues):
        params: dict[str, Any] = {"pair": side.pair, "a": side.market_a, "b": side.market_b}
        time_where = _where(Filters(f.since_ns, f.until_ns), "t_ns", params)
        market_cond = "pair = {pair:String} AND market IN ({a:String}, {b:String})"
        where = f"{time_where} AND {market_cond}" if time_where else f"WHERE {market_cond}"
        sql = (
            "SELECT fromUnixTimestamp64Nano(t_ns) AS time, pair, {va:String} AS venue_a, {vb:String} AS venue_b, "
            "price_a, price_b, round((price_a - price_b) / ((price_a + price_b) / 2) * 10000, 3) AS spread_bps, "
            "{a:String} AS market_a, {b:String} AS market_b FROM ("
            "SELECT t_ns, seq, pair, anyLast(if(market = {a:String}, price, NULL)) OVER w AS price_a, "
            "anyLast(if(market = {b:String}, price, NULL)) OVER w AS price_b "
            f"FROM ({pool_prices_sql(db)}) {where} "
            "WINDOW w AS (ORDER BY t_ns, seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) "
            f"WHERE price_a IS NOT NULL AND price_b IS NOT NULL ORDER BY t_ns DESC, seq DESC LIMIT {int(f.limit)}"
        )
        params |= {"va": side.venue_a, "vb": side.venue_b}
        _, got = query_rows(client, sql, params)
        rows += got
    rows.sort(key=lambda r: r[0], reverse=True)
    return Result(columns, rows[: f.limit])


def swaps(client: Any, db: str, f: Filters) -> Result:
    """Archived pool swaps, newest first; amounts in whole tokens (display) and raw units (exact)."""
    params: dict[str, Any] = {}
    pair = PAIR_EXPR.format(a="token_in", b="token_out")
    sql = (
        "SELECT fromUnixTimestamp64Nano(timestamp_ns) AS time, venue_name AS venue, pool, "
        "toFloat64(raw_in) / pow(10, amount_in_decimals) AS amount_in, "
        "toFloat64(raw_out) / pow(10, amount_out_decimals) AS amount_out, token_in, token_out, "
        "toString(raw_in) AS amount_in_raw, toString(raw_out) AS amount_out_raw, block_number, tick_after, "
        "toString(sqrt_price_x96_after) AS sqrt_price_x96_after, toString(liquidity_after) AS liquidity_after "
        "FROM (SELECT * FROM (SELECT * EXCEPT (amount_in, amount_out), amount_in AS raw_in, "
        f"amount_out AS raw_out, {pair} AS pair FROM {db}.market_pool_swap FINAL) "
        f"{_where(f, 'timestamp_ns', params)}) ORDER BY timestamp_ns DESC, sequence DESC LIMIT {int(f.limit)}"
    )
    return Result(*query_rows(client, sql, params))


def dead_letters(client: Any, db: str, f: Filters) -> Result:
    """Archived dead letters (every ``dlq.*`` topic), newest first."""
    params: dict[str, Any] = {}
    sql = (
        "SELECT fromUnixTimestamp64Nano(received_ns) AS received, flow, stage, reason, error_class, dlq_topic, "
        "source_topic, partition, offset, length(raw) AS raw_bytes "
        f"FROM {db}.dead_letter FINAL {_where(f, 'received_ns', params)} "
        f"ORDER BY received_ns DESC LIMIT {int(f.limit)}"
    )
    return Result(*query_rows(client, sql, params))


def dead_letter_counts(client: Any, db: str, f: Filters) -> Result:
    """Dead letters counted by flow, stage and reason, most frequent first, with the first and last seen."""
    params: dict[str, Any] = {}
    sql = (
        "SELECT flow, stage, reason, count() AS count, fromUnixTimestamp64Nano(min(received_ns)) AS first, "
        "fromUnixTimestamp64Nano(max(received_ns)) AS last "
        f"FROM {db}.dead_letter FINAL {_where(f, 'received_ns', params)} "
        f"GROUP BY flow, stage, reason ORDER BY count DESC, flow, stage, reason LIMIT {int(f.limit)}"
    )
    return Result(*query_rows(client, sql, params))
