"""``pulsearb backtest``: replay archived market records through a detector spec, store and compare what it finds.

    pulsearb backtest --spec flows/specs/cross_dex.yaml --since 2025-08-07T00:00 --until 2025-08-08T00:00 \\
        [--set strategy.params.min_net_profit=5000000 ...] [--variant 'PATH=V;PATH=V' ...] \\
        [--sweep 'strategy.params.max_age_blocks=[1, 2, 5]'] [--run-id NAME] [--no-write] [--format table|json]

The archive's ``market.*`` rows of the spec's input topics are read once (deduplicated, in event order) and
replayed through every variant (:mod:`flows.builders.replay`: the detector's own step functions). Each variant's
opportunities are stored in ``arb_opportunity`` under its own run id (live rows have none), and a summary prints:
opportunities and predicted profit by strategy and pair, one row per variant when there are several.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from base.errors import ConfigError
from flows.backtest import Summary, Tally, Variant, summarize, variants, whole_tokens
from flows.opportunity import Opportunity
from flows.opportunity import to_record as opportunity_record

PROGRESS_MIN_ROWS = 20_000
"""Show a progress bar (on a terminal) from this many archived rows on."""
WIDTH = 80
"""The summary tables fit this many columns."""


def register(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    """Add the ``backtest`` command."""
    from ops.cli.db import add_dsn

    p = sub.add_parser(name, help=help_text, description=__doc__.split("\n\n")[0])
    p.add_argument("--spec", required=True, type=Path, help="a detector spec (flows/specs/cross_dex.yaml)")
    p.add_argument("--since", help="first event time: ISO time (2025-08-22T10:00, UTC unless given) or age (7d)")
    p.add_argument("--until", help="end of the range (exclusive), same forms as --since (default: everything)")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a spec field for every run, VALUE as YAML (strategy.params.min_net_profit=5000000); repeatable",
    )
    p.add_argument(
        "--variant",
        dest="variants",
        action="append",
        default=[],
        metavar="PATH=VALUE[;PATH=VALUE]",
        help="one more run with these overrides on top of --set; repeatable (a comparison table is printed)",
    )
    p.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="PATH=[V1, V2]",
        help="one more run per value (several sweeps: every combination)",
    )
    p.add_argument("--run-id", help="run id of the stored opportunities (default bt-YYMMDDhhmmss UTC; variants: .N)")
    p.add_argument("--no-write", action="store_true", help="do not store the opportunities, only summarize")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output (default table)")
    p.add_argument("--window-rows", type=int, default=50_000, help=argparse.SUPPRESS)
    add_dsn(p)
    p.set_defaults(func=run)


def _load(spec_path: Path, runs: list[Variant]) -> list[Any]:
    """The spec of every run, each through the spec loader and the detector's own checks."""
    from flows.builders.replay import Replay
    from flows.spec import load_spec

    replays = []
    for v in runs:
        spec = load_spec(spec_path, v.overrides)
        if spec.kind != "detector":
            msg = f"{spec_path}: a backtest replays a detector spec (kind: detector), got kind {spec.kind!r}"
            raise ConfigError(msg)
        replays.append(Replay(spec))
    return replays


def run_ids(base: str | None, runs: list[Variant], now: datetime | None = None) -> list[str]:
    """Run id of each run: ``base`` (default ``bt-YYMMDDhhmmss``, UTC) alone, or ``base.0`` (the spec), ``base.1``..."""
    base = base or "bt-" + (now or datetime.now(UTC)).strftime("%y%m%d%H%M%S")
    if not base.strip():
        msg = "--run-id must not be empty: '' is the live rows' run id"
        raise ConfigError(msg)
    return [base] if len(runs) == 1 else [f"{base}.{i}" for i in range(len(runs))]


def _progress(total: int) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if total < PROGRESS_MIN_ROWS or not console.is_terminal:
        return None
    return Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def replay_archive(
    client: Any, db: str, replays: list[Any], since_ns: int, until_ns: int, window_rows: int = 50_000
) -> tuple[int, list[list[Opportunity]]]:
    """Read the archive once and feed every record to every replay; return (records read, opportunities per run)."""
    from schemas.serde import schema_topic
    from sinks.backtest import ranges, read_records

    spec = replays[0].steps.spec
    topics = list(dict.fromkeys(schema_topic(t) for t in (spec.inputs.topics or ("market.pool_sync",))))
    found = ranges(client, db, topics, since_ns, until_ns)
    total = sum(r.rows for r in found)
    found_opps: list[list[Opportunity]] = [[] for _ in replays]
    feeds = [(r.feed, out.extend) for r, out in zip(replays, found_opps, strict=True)]
    bar = _progress(total)
    task = bar.add_task("replay", total=total) if bar is not None else None
    read = 0
    if bar is not None:
        bar.start()
    try:
        for window in read_records(client, db, topics, since_ns, until_ns, window_rows=window_rows, found=found):
            for topic, record in window:
                for feed, keep in feeds:
                    keep(feed(topic, record))
            read += len(window)
            if bar is not None:
                bar.update(task, completed=read)
        for replay, out in zip(replays, found_opps, strict=True):
            out.extend(replay.finish())  # the end of the input: what a key still holds (clock.hold_ms)
    finally:
        if bar is not None:
            bar.stop()
    return read, found_opps


def _short(address: str, tail: bool = True) -> str:
    if not (address.startswith("0x") and len(address) > 12):
        return address
    return f"{address[:6]}…{address[-4:]}" if tail else f"{address[:6]}…"


def _pair(pair: str) -> str:
    return "/".join(_short(t, tail=False) for t in pair.split("/"))


def _profit(tally: Any) -> str:
    """Predicted net profit in whole start tokens (display; JSON output has the exact raw units)."""
    parts = [
        f"{whole_tokens(n, tally.decimals[t])} {_short(t, tail=False)}" for t, n in sorted(tally.net_profit.items())
    ]
    return "\n".join(parts) or "0"


def tables(runs: list[Variant], ids: list[str], summaries: list[Summary], title: str) -> list[Table]:
    """The summary tables (within 80 columns): one row per run, then opportunities by strategy and pair.

    With several runs the second table compares them: one column per run (``#N`` as numbered in the first),
    opportunities and net USD in each.
    """
    several = len(runs) > 1
    head = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for name, justify in (("#", "right"), ("variant", "left"), ("run id", "left")):
        head.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for name in ("opps", "pairs", "net USD", "gross USD"):
        head.add_column(name, justify="right")
    for i, (v, run_id, s) in enumerate(zip(runs, ids, summaries, strict=True)):
        t = s.total
        usd = (f"{t.net_profit_usd:,.2f}", f"{t.gross_profit_usd:,.2f}")
        head.add_row(str(i), v.name, run_id, f"{t.opportunities:,}", f"{len(s.by_pair):,}", *usd)
    if not any(s.by_pair for s in summaries):
        return [head]
    detail = Table(title="by strategy and pair: predicted net profit", title_justify="left", box=box.SIMPLE_HEAD)
    detail.add_column("strategy", overflow="fold")
    detail.add_column("pair", overflow="fold")
    keys = sorted(
        {k for s in summaries for k in s.by_pair}, key=lambda k: -summaries[0].by_pair.get(k, Tally()).net_profit_usd
    )
    if several:
        for i in range(len(runs)):
            detail.add_column(f"#{i} opps / USD", justify="right")
        for key in keys:
            cells = []
            for s in summaries:
                t = s.by_pair.get(key, Tally())
                cells.append(f"{t.opportunities:,} / {t.net_profit_usd:,.2f}")
            detail.add_row(key[0], _pair(key[1]), *cells)
        return [head, detail]
    detail.add_column("opps", justify="right")
    detail.add_column("net profit", justify="right")
    detail.add_column("net USD", justify="right")
    for key in keys:
        t = summaries[0].by_pair[key]
        detail.add_row(key[0], _pair(key[1]), f"{t.opportunities:,}", _profit(t), f"{t.net_profit_usd:,.2f}")
    return [head, detail]


def as_json(runs: list[Variant], ids: list[str], summaries: list[Summary], **extra: Any) -> dict[str, Any]:
    """The summary as one JSON object (profits exact, in raw units of each start token)."""

    def tally(t: Any) -> dict[str, Any]:
        return {
            "opportunities": t.opportunities,
            "net_profit": dict(sorted(t.net_profit.items())),
            "net_profit_usd": round(t.net_profit_usd, 6),
            "gross_profit_usd": round(t.gross_profit_usd, 6),
        }

    return extra | {
        "runs": [
            {"name": v.name, "run_id": run_id, "overrides": list(v.overrides)}
            | tally(s.total)
            | {"by_pair": [{"strategy": k[0], "pair": k[1]} | tally(t) for k, t in sorted(s.by_pair.items())]}
            for v, run_id, s in zip(runs, ids, summaries, strict=True)
        ]
    }


def _span(since_ns: int, until_ns: int) -> str:
    def fmt(ns: int) -> str:
        return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S")

    lo = "start" if since_ns <= 0 else fmt(since_ns)
    hi = "end" if until_ns >= 2**63 - 1 else fmt(until_ns)
    return f"{lo} .. {hi} UTC"


def run(args: argparse.Namespace) -> int:
    """Replay the archive through every variant, store the opportunities, print the summary."""
    from ops.cli.db import default_store_dsn, open_store
    from ops.cli.history import parse_time
    from sinks.backtest import check_writable, write_opportunities

    runs = variants(args.sets, args.variants, args.sweep)
    replays = _load(args.spec, runs)
    ids = run_ids(args.run_id, runs)
    since_ns = parse_time(args.since) or 0
    until_ns = parse_time(args.until) or 2**63 - 1
    if until_ns <= since_ns:
        msg = f"--until must be after --since (got {args.since!r} .. {args.until!r})"
        raise ConfigError(msg)
    dsn = args.dsn or default_store_dsn()
    started = time.perf_counter()
    with open_store(dsn, "pulsearb backtest") as client:
        if not args.no_write:
            check_writable(client, args.database)
        read, found = replay_archive(client, args.database, replays, since_ns, until_ns, args.window_rows)
        if not args.no_write:
            for run_id, opps in zip(ids, found, strict=True):
                write_opportunities(client, args.database, run_id, [opportunity_record(o) for o in opps])
    seconds = time.perf_counter() - started
    summaries = [summarize(opps) for opps in found]
    spec_name = replays[0].steps.spec.name
    if args.format == "json":
        extra = {
            "spec": spec_name,
            "records": read,
            "since_ns": since_ns,
            "until_ns": until_ns,
            "stored": not args.no_write,
        }
        print(json.dumps(as_json(runs, ids, summaries, **extra)))
        return 0
    title = f"backtest {spec_name}, {_span(since_ns, until_ns)}: {read:,} records"
    console = Console(width=min(WIDTH, Console().width))
    for table in tables(runs, ids, summaries, title):
        console.print(table)
    stored = "not stored (--no-write)" if args.no_write else "`pulsearb history opportunities --run RUN_ID` lists them"
    rate = f"{read / seconds:,.0f} records/s" if seconds > 0 and read else "no records"
    print(f"replayed in {seconds:.1f} s ({rate}); opportunities {stored}", file=sys.stderr)
    if not read:
        print(
            "nothing archived in this range: widen --since/--until or check the store (pulsearb db status)",
            file=sys.stderr,
        )
    return 0
