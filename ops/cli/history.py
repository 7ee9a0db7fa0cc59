"""``pulsearb history KIND``: archived trading and market history as table, CSV, JSON or PNG."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from base.errors import ConfigError

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


HELPS = {
    "opportunities": "detected opportunities, newest first",
    "decisions": "risk decisions, newest first",
    "executions": "execution outcomes, newest first",
    "pnl": "realized PnL per period, strategy and pair (one execution per opportunity id)",
    "latency": "per-hop latency quantiles (ms) from the trace maps",
    "prices": "pool mid prices (whole units, decimals applied) and CEX quote mids over time, newest first",
    "spreads": "per pair, the price difference between two venues over time (bps); --plot marks opportunities",
    "swaps": "archived pool swaps, newest first (amounts in whole tokens; raw units with --wide)",
    "dead-letters": "archived dead letters of every flow, newest first (--counts: how many per reason)",
}
# Which filters each kind takes.
_STRATEGY = ("opportunities", "decisions", "executions", "pnl", "latency")
_PAIR = ("opportunities", "decisions", "executions", "pnl", "latency", "prices", "spreads", "swaps")
_VENUE = ("prices", "swaps")
_FLOW = ("opportunities", "decisions", "executions", "dead-letters")
_PLOT = ("pnl", "latency", "prices", "spreads", "swaps", "dead-letters")
# The columns a table shows without --wide: what fits 80 terminal columns (CSV and JSON always have all).
NARROW = {
    "opportunities": ("detected", "strategy", "pair", "net_usd"),
    "decisions": ("decided", "strategy", "accepted", "reason"),
    "executions": ("executed", "strategy", "status", "realized_profit"),
    "pnl": ("period", "strategy", "executions", "mined", "realized_usd"),
    "prices": ("time", "venue", "market", "price"),
    "spreads": ("time", "venue_a", "venue_b", "price_a", "spread_bps"),
    "swaps": ("time", "pool", "amount_in", "amount_out"),
    "dead-letters": ("received", "flow", "stage", "reason"),
    "dead-letter-counts": ("count", "flow", "stage", "reason"),
}
PLOT_LIMIT = 100_000  # rows a chart reads when --limit is not given


def register(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    """Add the ``history`` group."""
    from ops.cli.db import add_dsn

    p = sub.add_parser(name, help=help_text, description=help_text)
    verbs = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind, text in HELPS.items():
        v = verbs.add_parser(kind, help=text, description=text)
        v.add_argument("--since", help="start: ISO time (2025-08-22T10:00, UTC unless given) or age (30m, 6h, 7d)")
        v.add_argument("--until", help="end (exclusive), same forms as --since")
        if kind in _STRATEGY:
            v.add_argument("--strategy", help="only this strategy")
        if kind in _PAIR:
            v.add_argument(
                "--pair", help="only this token pair (as archived: sorted addresses joined by '/'; prices: or a CEX "
                "symbol such as BTC/USD)"
            )  # fmt: skip
        if kind in _VENUE:
            v.add_argument("--venue", help="only this venue (name such as UNISWAP_V2, or number)")
        if kind == "spreads":
            v.add_argument("--venue", metavar="A,B", help="the two venues to compare (default: the two busiest)")
        if kind in _FLOW:
            v.add_argument("--flow", help="only this flow (as named in its spec)")
        v.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output (default table)")
        v.add_argument("--limit", type=int, default=None, help="most rows (default 1000; 100000 with --plot)")
        v.add_argument("--wide", action="store_true", help="table: every column (default: what fits 80 columns)")
        if kind == "opportunities":
            v.add_argument("--run", default="", metavar="ID", help="a backtest run's opportunities (default: live)")
        if kind == "pnl":
            v.add_argument(
                "--bucket", choices=("day", "hour", "minute"), default=None,
                help="period (default from the span: minute under 2 h, hour under 3 days, else day)",
            )  # fmt: skip
        if kind == "latency":
            v.add_argument("--exact", action="store_true", help="exact quantiles from the raw tables with FINAL")
        if kind == "prices":
            v.add_argument("--no-cex", action="store_true", help="pools only, no CEX quotes")
        if kind == "dead-letters":
            v.add_argument("--counts", action="store_true", help="count by flow, stage and reason instead")
        if kind in _PLOT:
            v.add_argument("--plot", metavar="FILE.png", help="also draw a chart into FILE.png")
        add_dsn(v)
        v.set_defaults(func=run)


def parse_time(text: str | None, now: datetime | None = None) -> int | None:
    """ISO time or age (``30m``, ``6h``, ``7d``) -> ns since epoch; None stays None.

    Raises:
        ConfigError: neither form.
    """
    if text is None:
        return None
    now = now or datetime.now(UTC)
    m = _RELATIVE.match(text.strip())
    if m:
        when = now - timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    else:
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError as exc:
            msg = f"--since/--until: expected an ISO time (2025-08-22T10:00) or an age (30m, 6h, 7d), got {text!r}"
            raise ConfigError(msg) from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1e9)


def _short(value: Any) -> Any:
    """Shorten long hex ids for the terminal table (CSV and JSON keep them whole)."""
    if isinstance(value, str) and len(value) > 20:
        parts = value.replace(",", "/").split("/")
        if all(p.startswith("0x") or len(p) == 64 for p in parts):
            return "/".join(f"{p[:6]}…{p[-4:]}" for p in parts)
    return value


def _cell(value: Any, table: bool = False) -> Any:
    """A value as printed: times to the millisecond (the second in a narrow table); floats whole in CSV and JSON,
    and in a table to 3 decimals, or 4 significant digits below 1 (a price of 0.0004258 stays readable)."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds" if table else "milliseconds")
    if isinstance(value, float) and table:
        return round(value, 3) if abs(value) >= 1 or value == 0 else float(f"{value:.4g}")
    return value


def emit(columns: list[str], rows: list[tuple], fmt: str, title: str, keep: Sequence[str] | None = None) -> None:
    """Write rows to stdout as a rich table, CSV or JSON lines; a table shows only the ``keep`` columns (in their
    order) when given (CSV and JSON keep every column; see :func:`_cell` for how values print)."""
    if fmt == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(columns)
        w.writerows([[_cell(v) for v in r] for r in rows])
        return
    if fmt == "json":
        for r in rows:
            print(json.dumps({c: _cell(v) for c, v in zip(columns, r, strict=True)}, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    shown = [i for i, c in enumerate(columns) if c in keep] if keep else list(range(len(columns)))
    if keep:
        shown.sort(key=lambda i: list(keep).index(columns[i]))
    t = Table(title=title)
    for i in shown:
        t.add_column(columns[i], overflow="fold", justify="right" if _numeric(rows, i) else "left")
    for r in rows:
        t.add_row(*["" if r[i] is None else str(_short(_cell(r[i], table=True))) for i in shown])
    Console().print(t)


def _numeric(rows: list[tuple], i: int) -> bool:
    return bool(rows) and all(isinstance(r[i], int | float) and not isinstance(r[i], bool) for r in rows[:50])


def run(args: argparse.Namespace) -> int:
    """Query the store and print (and plot) the result."""
    from ops.cli.db import default_store_dsn, open_store
    from sinks import history

    plot = getattr(args, "plot", None)
    limit = args.limit if args.limit is not None else (PLOT_LIMIT if plot else 1000)
    if limit <= 0:
        msg = "--limit must be a positive number of rows"
        raise ConfigError(msg)
    venues = _two_venues(args.venue) if args.kind == "spreads" and args.venue else None
    f = history.Filters(
        parse_time(args.since),
        parse_time(args.until),
        getattr(args, "strategy", None),
        getattr(args, "pair", None),
        limit,
        venue=None if args.kind == "spreads" else getattr(args, "venue", None),
        flow=getattr(args, "flow", None),
    )
    f = replace(f, run_id=getattr(args, "run", ""))
    dsn = args.dsn or default_store_dsn()
    extra: Any = None
    bucket: str | None = None
    kind = args.kind
    with open_store(dsn, f"pulsearb history {kind}") as client:
        db = args.database
        if kind == "pnl":
            bucket = args.bucket or history.bucket_for_span(history.pnl_span(client, db, f, time.time_ns()))
            result = history.pnl(client, db, f, bucket)
        elif kind == "latency":
            result = history.latency(client, db, f, exact=args.exact)
            extra = history.latency_series(client, db, f) if plot else None
        elif kind == "prices":
            result = history.prices(client, db, f, cex=not args.no_cex)
        elif kind == "spreads":
            result = history.spreads(client, db, f, venues)
            if plot:
                pairs = {r[1] for r in result.rows}
                extra = {p: history.opportunities(client, db, replace(f, pair=p)) for p in pairs}
        elif kind == "dead-letters":
            counts = args.counts
            result = (history.dead_letter_counts if counts else history.dead_letters)(client, db, f)
            kind = "dead-letter-counts" if counts else kind
        else:
            result = getattr(history, kind)(client, db, f)
    keep = None if args.wide else NARROW.get(kind)
    emit(result.columns, result.rows, args.format, f"{args.kind} ({len(result.rows)} rows)", keep)
    if not result.rows and args.format == "table":
        print(_empty_hint(args.kind), file=sys.stderr)
    if plot:
        _plot(kind, result, extra, plot, bucket)
        print(f"chart: {plot}", file=sys.stderr)
    return 0


def _two_venues(text: str) -> tuple[str, str]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) != 2 or parts[0].lower() == parts[1].lower():
        msg = f"--venue: spreads compare two venues, give them as A,B (UNISWAP_V2,SUSHISWAP), got {text!r}"
        raise ConfigError(msg)
    return parts[0], parts[1]


def _plot(kind: str, result: Any, extra: Any, path: str, bucket: str | None) -> None:
    from ops.cli import history_plot

    if kind == "pnl":
        history_plot.plot_pnl(result, path, bucket or "day")
    elif kind == "latency":
        history_plot.plot_latency(result, extra, path)
    elif kind == "prices":
        history_plot.plot_prices(result, path)
    elif kind == "spreads":
        history_plot.plot_spreads(result, extra or {}, path)
    elif kind == "swaps":
        history_plot.plot_counts(result, "time", "venue", path, "Pool swaps per period and venue")
    elif kind == "dead-letters":
        history_plot.plot_counts(result, "received", "flow", path, "Dead letters per period and flow")
    else:
        history_plot.plot_reasons(result, path)


def _empty_hint(kind: str) -> str:
    if kind in ("prices", "spreads", "swaps"):
        return (
            "no market rows archived in this window (market_pool_sync/state, market_quote, market_pool_swap): "
            "widen --since/--until, or check the filters"
        )
    if kind == "dead-letters":
        return "no dead letters archived in this window: nothing was rejected"
    if kind in ("pnl", "executions"):
        return (
            "no executions archived in this window (arb.execution is empty): `history opportunities` shows detections"
        )
    return "nothing archived in this window: widen --since/--until or check the store with `pulsearb db status`"
