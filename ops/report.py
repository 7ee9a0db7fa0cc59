"""The end-of-run report: rows per table, opportunities and PnL, and per-hop latency, read from ClickHouse."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from flows.trace import HOPS
from sinks.clickhouse import query_rows, session

TABLES = (
    "market_pool_sync",
    "arb_opportunity",
    "arb_decision",
    "arb_execution",
    "dead_letter",
)


@dataclass(slots=True)
class RunReport:
    """What a run left in the store."""

    rows: dict[str, int] = field(default_factory=dict)
    opportunities: int = 0
    net_profit_usd: float = 0.0
    by_strategy: list[tuple] = field(default_factory=list)
    realized_profit_usd: float = 0.0
    latency: list[tuple[str, int, float, float, float]] = field(default_factory=list)  # hop, n, p50, p99, max (ms)


def hop_quantiles_sql(database: str, table: str) -> str:
    """SQL computing per-hop latency quantiles (ms) from the trace map of ``table``."""
    parts = []
    for name, a, b in HOPS:
        parts.append(
            f"SELECT '{name}' AS hop, count() AS n, "
            f"quantileExact(0.5)((trace['{b}'] - trace['{a}']) / 1e6) AS p50_ms, "
            f"quantileExact(0.99)((trace['{b}'] - trace['{a}']) / 1e6) AS p99_ms, "
            f"max((trace['{b}'] - trace['{a}']) / 1e6) AS max_ms "
            f"FROM {database}.{table} FINAL WHERE mapContains(trace, '{a}') AND mapContains(trace, '{b}')"
        )
    return " UNION ALL ".join(parts)


def collect(dsn: str, database: str = "pulsearb") -> RunReport:
    """Read the report from the store (opens it: call after the archive flow stopped)."""
    report = RunReport()
    with session(dsn) as client:
        for table in TABLES:
            _, rows = query_rows(client, f"SELECT count() FROM {database}.{table} FINAL")
            report.rows[table] = int(rows[0][0])
        _, rows = query_rows(
            client,
            f"SELECT strategy, count(), sum(net_profit_usd), sum(toFloat64(net_profit) / pow(10, token_in_decimals)) "
            f"FROM {database}.arb_opportunity FINAL GROUP BY strategy ORDER BY strategy",
        )
        report.by_strategy = rows
        report.opportunities = sum(int(r[1]) for r in rows)
        report.net_profit_usd = sum(float(r[2]) for r in rows)
        _, lat = query_rows(client, hop_quantiles_sql(database, "arb_opportunity"))
        report.latency = [(h, int(n), float(p50), float(p99), float(mx)) for h, n, p50, p99, mx in lat if int(n)]
    return report


def render(report: RunReport, sent: int, console: Console, dsn: str) -> None:
    """Print the report tables."""
    t = Table(title="pipeline counts")
    t.add_column("stage")
    t.add_column("count", justify="right")
    t.add_row("frames sent to the relay", str(sent))
    for table, n in report.rows.items():
        t.add_row(f"rows in {table}", str(n))
    console.print(t)
    s = Table(title="opportunities by strategy")
    for col in ("strategy", "count", "net profit (USD, display)", "net profit (token_in units)"):
        s.add_column(col, justify="right" if col != "strategy" else "left")
    for strategy, n, usd, units in report.by_strategy:
        s.add_row(str(strategy), str(n), f"{float(usd):,.2f}", f"{float(units):,.6f}")
    console.print(s)
    if report.latency:
        lt = Table(title="latency per hop (ms), from archived opportunities")
        for col in ("hop", "n", "p50", "p99", "max"):
            lt.add_column(col, justify="right" if col != "hop" else "left")
        for hop, n, p50, p99, mx in report.latency:
            lt.add_row(hop, str(n), f"{p50:.2f}", f"{p99:.2f}", f"{mx:.2f}")
        console.print(lt)
    console.print(f"query the history: [bold]pulsearb history opportunities[/]  (store: {dsn})")
