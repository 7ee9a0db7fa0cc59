"""``pulsearb history opportunities|decisions|executions|pnl|latency``: archived history as table, CSV, JSON or PNG."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from flows.errors import ConfigError

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def register(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    """Add the ``history`` group."""
    from ops.cli.db import add_dsn

    p = sub.add_parser(name, help=help_text, description=help_text)
    verbs = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    helps = {
        "opportunities": "detected opportunities, newest first",
        "decisions": "risk decisions, newest first",
        "executions": "execution outcomes, newest first",
        "pnl": "realized PnL per period, strategy and pair (one execution per opportunity id)",
        "latency": "per-hop latency quantiles (ms) from the trace maps",
    }
    for kind, text in helps.items():
        v = verbs.add_parser(kind, help=text, description=text)
        v.add_argument("--since", help="start: ISO time (2025-08-22T10:00, UTC unless given) or age (30m, 6h, 7d)")
        v.add_argument("--until", help="end (exclusive), same forms as --since")
        v.add_argument("--strategy", help="only this strategy")
        v.add_argument("--pair", help="only this token pair (as archived: sorted addresses joined by '/')")
        v.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output (default table)")
        v.add_argument("--limit", type=int, default=1000, help="most rows (default 1000)")
        if kind == "pnl":
            v.add_argument("--bucket", choices=("day", "hour", "minute"), default="day", help="period (default day)")
        if kind == "latency":
            v.add_argument("--exact", action="store_true", help="exact quantiles from the raw tables with FINAL")
        if kind in ("pnl", "latency"):
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


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, float):
        return round(value, 3)
    return value


def emit(columns: list[str], rows: list[tuple], fmt: str, title: str) -> None:
    """Write rows to stdout as a rich table, CSV or JSON lines."""
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

    t = Table(title=title)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*["" if v is None else str(_short(_cell(v))) for v in r])
    Console().print(t)


def run(args: argparse.Namespace) -> int:
    """Query the store and print (and plot) the result."""
    from ops.cli.db import default_store_dsn, open_store
    from sinks import history

    if args.limit <= 0:
        msg = "--limit must be a positive number of rows"
        raise ConfigError(msg)
    f = history.Filters(parse_time(args.since), parse_time(args.until), args.strategy, args.pair, args.limit)
    dsn = args.dsn or default_store_dsn()
    with open_store(dsn, f"pulsearb history {args.kind}") as client:
        db = args.database
        if args.kind == "pnl":
            result = history.pnl(client, db, f, args.bucket)
        elif args.kind == "latency":
            result = history.latency(client, db, f, exact=args.exact)
            series = history.latency_series(client, db, f) if args.plot else None
        else:
            result = getattr(history, args.kind)(client, db, f)
    emit(result.columns, result.rows, args.format, f"{args.kind} ({len(result.rows)} rows)")
    if not result.rows and args.format == "table":
        print(_empty_hint(args.kind), file=sys.stderr)
    if getattr(args, "plot", None):
        from ops.cli.history_plot import plot_latency, plot_pnl

        if args.kind == "pnl":
            plot_pnl(result, args.plot, args.bucket)
        else:
            plot_latency(result, series, args.plot)
        print(f"chart: {args.plot}", file=sys.stderr)
    return 0


def _empty_hint(kind: str) -> str:
    if kind in ("pnl", "executions"):
        return (
            "no executions archived in this window (arb.execution is empty): `history opportunities` shows detections"
        )
    return "nothing archived in this window: widen --since/--until or check the store with `pulsearb db status`"
