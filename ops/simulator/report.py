"""The end-of-run report of ``pulsearb up``, read from ClickHouse: counts per stage, realized PnL, the outcome of
every execution, the competition, latency per hop.

Everything is read with ``FINAL`` (one row per natural key, however often a record was replayed). Profits stay
exact: raw start-token units as integers; USD figures are display values at the price the detector used.
Executions are split as :func:`flows.execution.outcome.classify` says: mined exactly as predicted, mined below (or
above) the prediction, reverted on chain by the ``minProfit`` guard (gas lost), reverted otherwise, skipped after
simulation (nothing sent), other failures. With a competing searcher on the market (:class:`Competition`), the
capture rate is pulsearb's share of the arbitrage realized on the market by both: by count of mined arbitrages,
and by realized profit in USD at the run's opening prices.
The report is printed (rich tables) and written as JSON next to the run's flows (``<state>/up/report.json``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from flows.execution.outcome import OUTCOMES, SKIPPED
from ops.simulator.report_executions import run_executions
from ops.simulator.report_outcomes import render_competition, render_outcomes
from sinks.clickhouse import query_rows, session
from sinks.history import Filters, latency

MARKET_TABLES = (
    ("market_pool_sync", "pool updates (PoolSync)"),
    ("market_pool_swap", "pool swaps"),
    ("market_quote", "exchange quotes"),
    ("market_trade", "exchange trades"),
    ("market_gas_price", "gas prices"),
)
"""The tables of what the relay carried (one row per frame)."""
STATE_TABLES = (("market_pool_state", "pool states (chain collector)"),)
"""The tables of what flows read from elsewhere (the collector reads the chain)."""
TABLES = (
    *MARKET_TABLES,
    *STATE_TABLES,
    ("arb_opportunity", "opportunities"),
    ("arb_decision", "risk decisions"),
    ("arb_execution", "executions"),
    ("dead_letter", "dead letters"),
)


@dataclass(slots=True)
class TokenResult:
    """Mined executions starting in one token: profit before gas, raw units of the token."""

    token: str
    decimals: int
    usd_per_unit: float  # display
    mined: int
    exact: int  # realized == predicted, to the raw unit
    realized: int
    predicted: int
    gas_cost_wei: int  # gas paid, wei of the chain's native token

    @property
    def realized_usd(self) -> float:
        """Display value of the realized profit."""
        return self.realized * self.usd_per_unit


@dataclass(slots=True)
class StrategyResult:
    """One strategy's run: detections, acceptances, mined executions and their realized profit (display USD)."""

    strategy: str
    opportunities: int = 0
    accepted: int = 0
    mined: int = 0
    realized_usd: float = 0.0


@dataclass(slots=True)
class Hop:
    """Latency of one pipeline hop over the run, ms."""

    hop: str
    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass(slots=True)
class Competition:
    """What the competing searcher of the local market did (:class:`ops.simulator.chain.compete.CompetitorStats`).

    Attributes:
        probability: chance it back-ran a dislocation it found.
        dislocations: blocks where its sizing found a profitable cycle.
        sent: arbitrages it sent.
        mined: of those, mined with an ``Arbitrage`` event (its captures).
        reverted: of those, reverted.
        realized: start token -> profit of its captures, raw units.
        gas_cost_wei: gas it paid.
        usd_per_unit: start token -> USD per raw unit (display: the run's opening prices).
    """

    probability: float
    dislocations: int = 0
    sent: int = 0
    mined: int = 0
    reverted: int = 0
    realized: dict[str, int] = field(default_factory=dict)
    gas_cost_wei: int = 0
    usd_per_unit: dict[str, float] = field(default_factory=dict)

    def usd(self, realized: dict[str, int]) -> float:
        """Display value of raw profits per token."""
        return sum(raw * self.usd_per_unit.get(token, 0.0) for token, raw in realized.items())


@dataclass(slots=True)
class RunReport:
    """What a run left in the store (plus, when the market had one, the competitor's figures)."""

    rows: dict[str, int] = field(default_factory=dict)  # table -> rows (FINAL)
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> decisions
    statuses: dict[str, int] = field(default_factory=dict)  # outcome (status, or "skipped" at simulation) -> count
    pnl: list[TokenResult] = field(default_factory=list)
    strategies: list[StrategyResult] = field(default_factory=list)
    gas_cost_wei: int = 0  # gas paid by every execution (mined and reverted), wei of the native token
    hops: list[Hop] = field(default_factory=list)
    executions: list[dict[str, Any]] = field(default_factory=list)  # ops.simulator.report_executions.run_executions
    competition: Competition | None = None

    @property
    def outcomes(self) -> dict[str, int]:
        """Executions per outcome (:func:`flows.execution.outcome.classify`), the split's order first."""
        counts: dict[str, int] = {}
        for e in self.executions:
            counts[e["outcome"]] = counts.get(e["outcome"], 0) + 1
        return {k: counts[k] for k in (*OUTCOMES, *sorted(set(counts) - set(OUTCOMES))) if k in counts}

    @property
    def gas_lost_wei(self) -> int:
        """Gas paid by executions that reverted on chain, wei of the native token."""
        return sum(int(e["gas_cost_wei"]) for e in self.executions if e["status"] == "reverted")

    def capture(self) -> dict[str, object] | None:
        """pulsearb's share of the arbitrage both searchers realized: by count of mined arbitrages and by realized
        profit in USD at the opening prices (None without a competitor)."""
        c = self.competition
        if c is None:
            return None
        ours = {t.token: t.realized for t in self.pnl}
        ours_usd, theirs_usd = c.usd(ours), c.usd(c.realized)
        mined = self.mined
        return {
            "pulsearb_mined": mined,
            "competitor_mined": c.mined,
            "pulsearb_realized_usd": round(ours_usd, 2),
            "competitor_realized_usd": round(theirs_usd, 2),
            "capture_rate_count": round(mined / (mined + c.mined), 4) if mined + c.mined else None,
            "capture_rate_usd": round(ours_usd / (ours_usd + theirs_usd), 4) if ours_usd + theirs_usd > 0 else None,
        }

    @property
    def market_rows(self) -> int:
        """Market records archived (every frame the relay carried, once)."""
        return sum(self.rows.get(t, 0) for t, _ in MARKET_TABLES)

    @property
    def mined(self) -> int:
        """Mined executions."""
        return sum(t.mined for t in self.pnl)

    @property
    def exact(self) -> int:
        """Mined executions whose realized profit equals the predicted one to the raw unit."""
        return sum(t.exact for t in self.pnl)

    @property
    def realized_usd(self) -> float:
        """Display value of every token's realized profit."""
        return sum(t.realized_usd for t in self.pnl)

    def to_json(self, symbols: dict[str, str] | None = None) -> dict:
        """JSON form (integers stay integers, except an execution's profits and gas: decimal strings)."""
        symbols = symbols or {}
        data = asdict(self)  # executions are JSON already
        data |= {
            "market_rows": self.market_rows,
            "mined": self.mined,
            "exact": self.exact,
            "realized_usd": self.realized_usd,
            "outcomes": self.outcomes,
            "gas_lost_wei": self.gas_lost_wei,
            "competition": None,
        }
        c = self.competition
        if c is not None:
            data["competition"] = {
                "probability": c.probability,
                "competitor": {
                    "dislocations": c.dislocations,
                    "sent": c.sent,
                    "mined": c.mined,
                    "reverted": c.reverted,
                    "realized": {symbols.get(t, t): str(v) for t, v in c.realized.items()},
                    "gas_cost_wei": str(c.gas_cost_wei),
                },
                **(self.capture() or {}),
            }
        return data


def _sources(database: str, since_ns: int | None) -> dict[str, str]:
    """Each table as a FROM clause: deduplicated (``FINAL``), only rows archived since ``since_ns``, and of
    ``arb_opportunity`` only the live rows (backtests store theirs under a run id)."""
    out = {}
    for table, _ in TABLES:
        conds = [] if since_ns is None else [f"archived_at >= fromUnixTimestamp64Milli({since_ns // 1_000_000})"]
        if table == "arb_opportunity":
            conds.append("run_id = ''")
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        out[table] = f"(SELECT * FROM {database}.{table} FINAL{where})"
    return out


def collect(
    dsn: str, database: str = "pulsearb", since_ns: int | None = None, symbols: Mapping[str, str] | None = None
) -> RunReport:
    """Read the report from the store (opens it: call after the archive flow stopped).

    Args:
        dsn: the store.
        database: its database.
        since_ns: count only rows archived from then on and latencies of records relayed from then on (one run of
            ``pulsearb up`` in a store that keeps earlier runs); None for the whole store.
        symbols: token address -> symbol (each execution's ``start_token``).
    """
    report = RunReport()
    t = _sources(database, since_ns)
    with session(dsn) as client:
        for table, _ in TABLES:
            _, rows = query_rows(client, f"SELECT count() FROM {t[table]}")
            report.rows[table] = int(rows[0][0])
        _, rows = query_rows(client, f"SELECT accepted, reason, count() FROM {t['arb_decision']} GROUP BY 1, 2")
        report.accepted = sum(int(n) for ok, _, n in rows if ok)
        report.rejected = {str(r): int(n) for ok, r, n in sorted(rows, key=lambda r: -int(r[2])) if not ok}
        _, rows = query_rows(
            client,
            "SELECT e.token_in, any(o.decimals), any(o.usd_per_unit), count(), countIf(realized_profit = "
            "predicted_profit), toString(sum(realized_profit)), toString(sum(predicted_profit)), "
            f"toString(sum(gas_cost_wei)) FROM (SELECT * FROM {t['arb_execution']} WHERE status = 'mined') AS e "
            "LEFT JOIN (SELECT token_in, any(token_in_decimals) AS decimals, "
            "anyIf(gross_profit_usd / toFloat64(gross_profit), gross_profit != 0) AS usd_per_unit "
            f"FROM {t['arb_opportunity']} GROUP BY token_in) AS o ON o.token_in = e.token_in "
            "GROUP BY e.token_in ORDER BY e.token_in",
        )
        report.pnl = [
            TokenResult(str(t), int(d), float(u or 0.0), int(n), int(x), int(r), int(p), int(g))
            for t, d, u, n, x, r, p, g in rows
        ]
        report.strategies = _strategies(client, t)
        _, rows = query_rows(client, f"SELECT toString(sum(gas_cost_wei)) FROM {t['arb_execution']}")
        report.gas_cost_wei = int(rows[0][0] or 0)
        hops = latency(client, database, Filters(since_ns=since_ns), exact=True)
        report.hops = [Hop(h, int(n), float(p50), float(p99), float(mx)) for h, n, p50, _, p99, mx in hops.rows]
    report.executions = run_executions(dsn, database, since_ns, symbols)
    statuses: dict[str, int] = {}
    for e in report.executions:
        statuses[e["status"]] = statuses.get(e["status"], 0) + 1
    report.statuses = dict(sorted(statuses.items(), key=lambda kv: -kv[1]))
    return report


def _strategies(client: object, t: dict[str, str]) -> list[StrategyResult]:
    by: dict[str, StrategyResult] = {}
    _, rows = query_rows(client, f"SELECT strategy, count() FROM {t['arb_opportunity']} GROUP BY 1")
    for name, n in rows:
        by.setdefault(str(name), StrategyResult(str(name))).opportunities = int(n)
    _, rows = query_rows(client, f"SELECT strategy, countIf(accepted) FROM {t['arb_decision']} GROUP BY 1")
    for name, n in rows:
        by.setdefault(str(name), StrategyResult(str(name))).accepted = int(n)
    _, rows = query_rows(
        client,
        "SELECT e.strategy, count(), sum(toFloat64(e.realized_profit) * o.usd_per_unit) "
        f"FROM (SELECT * FROM {t['arb_execution']} WHERE status = 'mined') AS e LEFT JOIN (SELECT token_in, "
        "anyIf(gross_profit_usd / toFloat64(gross_profit), gross_profit != 0) AS usd_per_unit "
        f"FROM {t['arb_opportunity']} GROUP BY token_in) AS o ON o.token_in = e.token_in GROUP BY 1",
    )
    for name, n, usd in rows:
        r = by.setdefault(str(name), StrategyResult(str(name)))
        r.mined, r.realized_usd = int(n), float(usd or 0.0)
    return sorted(by.values(), key=lambda r: r.strategy)


def write(report: RunReport, path: Path, symbols: dict[str, str] | None = None, **extra: object) -> None:
    """Write the report as JSON (start tokens by ``symbols``, plus ``extra`` fields, e.g. frames sent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(symbols) | extra, indent=2) + "\n")


def _units(raw: int, decimals: int) -> str:
    """Raw units as whole tokens, exactly (no float)."""
    sign, raw = ("-" if raw < 0 else ""), abs(raw)
    whole, frac = divmod(raw, 10**decimals)
    return f"{sign}{whole:,}" + (f".{frac:0{decimals}d}" if decimals else "")


def render(
    report: RunReport,
    console: Console,
    *,
    sent: int,
    source: str,
    symbols: dict[str, str] | None = None,
    native_usd: float | None = None,
) -> None:
    """Print the report tables.

    Args:
        report: what :func:`collect` read.
        console: where to print.
        sent: frames sent to the relay.
        source: what sent them ("chain watcher", "market replay").
        symbols: token address -> symbol, for the PnL table.
        native_usd: USD per whole native token (prices the gas paid; None: gas in ETH only).
    """
    symbols = symbols or {}
    t = Table(title="pipeline counts")
    t.add_column("stage")
    t.add_column("count", justify="right")
    t.add_column("detail")
    t.add_row("frames sent to the relay", f"{sent:,}", source)
    for table, label in TABLES:
        if (table, label) in (*MARKET_TABLES, *STATE_TABLES) and not report.rows.get(table):
            continue  # a feed this scenario does not have
        detail = ""
        if table == "arb_decision":
            reasons = ", ".join(f"{r} {n}" for r, n in list(report.rejected.items())[:4])
            detail = f"accepted {report.accepted}, rejected {sum(report.rejected.values())}" + (
                f" ({reasons})" if reasons else ""
            )
        elif table == "arb_execution":
            detail = ", ".join(f"{s} {n}" for s, n in report.statuses.items()) or "none (no chain: decide-only)"
            if SKIPPED in report.statuses:
                detail += f" ({SKIPPED}: the simulation did not reproduce the prediction, nothing was sent)"
        t.add_row(f"{label} ({table})", f"{report.rows.get(table, 0):,}", detail)
    console.print(t)

    p = Table(title="realized PnL (mined arbitrages, before gas)")
    for col in ("token", "mined", "realized (raw units)", "realized", "USD", "realized == predicted", "gas paid"):
        p.add_column(col, justify="left" if col == "token" else "right")
    for r in report.pnl:
        gas_eth = r.gas_cost_wei / 10**18
        gas = f"{gas_eth:.6f} ETH" + (f" ({gas_eth * native_usd:,.2f} USD)" if native_usd else "")
        symbol = symbols.get(r.token, r.token[:10])
        p.add_row(
            symbol,
            str(r.mined),
            f"{r.realized:,}",
            f"{_units(r.realized, r.decimals)} {symbol}",
            f"{r.realized_usd:,.2f}",
            f"{r.exact} / {r.mined}",
            gas,
        )
    if report.pnl:
        console.print(p)
        gas_eth = report.gas_cost_wei / 10**18
        if native_usd:
            net = report.realized_usd - gas_eth * native_usd
            console.print(
                f"realized PnL: {report.realized_usd:,.2f} USD before gas, {net:,.2f} USD after "
                f"{gas_eth:.6f} ETH of gas (every execution, mined or reverted); "
                f"{report.exact} of {report.mined} mined arbitrages realized exactly the predicted profit"
            )
    else:
        console.print("realized PnL: nothing was executed in this run")

    if report.executions:
        render_outcomes(report, console, native_usd)
    if report.competition is not None:
        render_competition(report, console, symbols)

    if report.strategies:
        executed = bool(report.statuses)
        st = Table(title="by strategy")
        for col in ("strategy", "opportunities", "accepted", *(("mined", "realized USD") if executed else ())):
            st.add_column(col, justify="left" if col == "strategy" else "right")
        for r in report.strategies:
            cells = [r.strategy, f"{r.opportunities:,}", f"{r.accepted:,}"]
            st.add_row(*cells, *((f"{r.mined:,}", f"{r.realized_usd:,.2f}") if executed else ()))
        console.print(st)

    if report.hops:
        lt = Table(title="latency per hop (ms, exact quantiles over the run)")
        for col in ("hop", "samples", "p50", "p99", "max"):
            lt.add_column(col, justify="left" if col == "hop" else "right")
        for h in report.hops:
            lt.add_row(h.hop, f"{h.samples:,}", f"{h.p50_ms:.2f}", f"{h.p99_ms:.2f}", f"{h.max_ms:.2f}")
        console.print(lt)
