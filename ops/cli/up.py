"""``pulsearb up``: the main job on embedded defaults, with live progress and a final report.

It starts the local stack (broker, store; the chain too when a risk_execution spec exists and
``$PULSEARB_DEPLOYMENT`` names an executor deployment, else risk_execution decides without executing), a local relay
replaying the market, and every spec in flows/specs under the deploy manager's supervision (risk_execution gets
``--rpc-url``, ``--signals-socket`` and ``--state-dir``); it shows live counts and ends with a report read from
ClickHouse. Ctrl-C stops the replay, then every flow in pipeline order (each drains what the one
before it produced), then the stack; the report still prints, and the exit code is 130.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from flows.errors import ConfigError
from ops.paths import state_dir

if TYPE_CHECKING:
    from ops.pipeline import Pipeline

SCENARIOS = ("polygon-eth-btc",)
DEPLOYMENT_ENV = "PULSEARB_DEPLOYMENT"  # executor and pools on the local chain (`python -m ops.chain.deploy`)
STAGES = (
    ("market.pool_sync", "pool updates on Kafka"),
    ("arb.opportunity", "opportunities"),
    ("arb.decision", "risk decisions"),
    ("arb.execution", "executions"),
    ("dlq.relay", "dead frames"),
)


def register(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    """Add the ``up`` command."""
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of market to replay (wall time, default 60)")
    p.add_argument("--speed", type=float, default=30.0, help="market time runs this many times faster (default 30)")
    p.add_argument("--scenario", default=SCENARIOS[0], choices=SCENARIOS, help="which local market to replay")
    p.add_argument("--seed", type=int, default=7, help="seed of the market's noise and shocks")
    p.add_argument("--keep-stack", action="store_true", help="leave broker and chain running afterwards")
    p.set_defaults(func=run)


class _Rates:
    """Per-second rates from successive counts."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, int]] = {}
        self.rate: dict[str, float] = {}

    def update(self, key: str, count: int) -> None:
        now = time.monotonic()
        t0, c0 = self._last.get(key, (now, count))
        if now - t0 >= 1.0 or key not in self._last:
            self.rate[key] = (count - c0) / (now - t0) if now > t0 else 0.0
            self._last[key] = (now, count)


def _pnl(pipeline: Pipeline) -> str:
    """Realized PnL (USD, display) that risk_execution flows report on their metrics endpoints."""
    from ops.deploy.metrics import scrape

    values = [
        m["pnl_usd"]
        for f in pipeline.flows
        if f.plan.spec.kind == "risk_execution"
        for m in (scrape(port, 0.2) for port in f.plan.metrics_ports)
        if m and "pnl_usd" in m
    ]
    return f"{sum(values):,.2f}" if values else "-"


def _table(pipeline: Pipeline, total: int, rates: _Rates) -> Table:
    progress = pipeline.progress
    t = Table(title=f"pulsearb up  {progress.elapsed_s:6.1f} s", expand=False)
    t.add_column("stage")
    t.add_column("count", justify="right")
    t.add_column("per s", justify="right")
    rates.update("frames", progress.sent)
    t.add_row("frames sent to the relay", f"{progress.sent} / {total}", f"{rates.rate.get('frames', 0.0):,.0f}")
    for topic, label in STAGES:
        n = progress.topics.get(topic, 0)
        rates.update(topic, n)
        t.add_row(f"{label} ({topic})", str(n), f"{rates.rate.get(topic, 0.0):,.0f}")
    t.add_row("realized PnL (USD)", _pnl(pipeline), "")
    restarts = sum(f.restarts for f in pipeline.flows)
    if restarts:
        t.add_row("flow restarts", str(restarts), "")
    return t


def _realized(dsn: str) -> str:
    """Realized PnL of the run's executions, one per opportunity id (the history query, replay-safe)."""
    from flows.errors import PulsearbError

    try:
        from sinks.clickhouse import session
        from sinks.history import Filters, pnl

        with session(dsn) as client:
            result = pnl(client, "pulsearb", Filters(limit=1_000_000))
    except (ImportError, PulsearbError) as exc:
        return f"realized PnL: not available ({exc})"
    col = {name: i for i, name in enumerate(result.columns)}
    executions = sum(int(r[col["executions"]]) for r in result.rows)
    mined = sum(int(r[col["mined"]]) for r in result.rows)
    usd = sum(float(r[col["realized_usd"]] or 0) for r in result.rows)
    return (
        f"realized PnL: {usd:,.2f} USD (display) over {executions} executions ({mined} mined); "
        "per day and pair: [bold]pulsearb history pnl[/], per hop: [bold]pulsearb history latency[/]"
    )


def _flows_table(pipeline: Pipeline, codes: dict[str, int | None]) -> Table:
    t = Table(title="flows")
    for col in ("flow", "kind", "processes", "restarts", "exit", "logs"):
        t.add_column(col)
    for f in pipeline.flows:
        code = codes.get(f.name)
        t.add_row(f.name, f.plan.spec.kind, str(f.plan.processes), str(f.restarts), str(code), str(f.plan.log_dir))
    return t


def run(args: argparse.Namespace) -> int:
    """Start the stack, deploy every spec, replay the market, report."""
    from rich.live import Live

    from flows.spec import load_specs
    from ops.market import model
    from ops.pipeline import Pipeline
    from ops.report import collect, render
    from ops.stack import stack

    if args.duration <= 0 or args.speed <= 0:
        msg = "--duration and --speed must be positive numbers of seconds / a positive factor"
        raise ConfigError(msg)
    console = Console()
    home = state_dir()
    specs = load_specs()
    console.print(f"[bold]pulsearb up[/]: {len(specs)} flows ({', '.join(s.name for s in specs)}), state in {home}")
    stop = threading.Event()

    def interrupt(*_: object) -> None:
        if stop.is_set():
            console.print("already stopping: flows are draining what they have read")
        stop.set()

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    pipeline: Pipeline | None = None
    codes: dict[str, int | None] = {}
    try:
        execute = any(s.kind == "risk_execution" for s in specs) and bool(os.environ.get(DEPLOYMENT_ENV))
        info = stack.up(home, chain=execute)
        console.print(f"broker {info.bootstrap}  store {info.store_dsn}  chain {info.rpc_url or '-'}")
        if any(s.kind == "risk_execution" for s in specs) and not execute:
            console.print(f"risk_execution decides only: set {DEPLOYMENT_ENV} to an executor deployment to execute")
        blocks = model.approx_blocks(args.duration, args.speed)
        events = [(e.offset_ns, e.frame) for e in model.generate(blocks, seed=args.seed)]
        pipeline = Pipeline(info, home, specs)
        if not stop.is_set():
            pipeline.start()
            console.print(f"flows running under {pipeline.root} (`pulsearb flows list --root {pipeline.root}`)")
        feeder = threading.Thread(
            target=pipeline.feed, args=(events, args.speed), kwargs={"should_stop": stop.is_set}, daemon=True
        )
        if not stop.is_set():
            feeder.start()
        rates = _Rates()
        with Live(_table(pipeline, len(events), rates), console=console, refresh_per_second=4) as live:
            while feeder.is_alive():
                pipeline.check_alive()
                live.update(_table(pipeline, len(events), rates), refresh=False)
                pipeline.poll()
                time.sleep(0.25)
            if not stop.is_set():
                deadline = time.monotonic() + 30
                while not stop.is_set() and time.monotonic() < deadline:
                    if pipeline.wait_for("market.pool_sync", pipeline.progress.sent, timeout_s=0.5):
                        break
            pipeline.poll()
            live.update(_table(pipeline, len(events), rates))
        console.print("stopping flows (each drains its input first) ...")
    finally:
        if pipeline is not None:
            codes = pipeline.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if not args.keep_stack:
            stack.down(home)
    report = collect(info.store_dsn)
    render(report, pipeline.progress.sent, console, info.store_dsn)
    console.print(_realized(info.store_dsn))
    console.print(_flows_table(pipeline, codes))
    failed = {k: v for k, v in codes.items() if v not in (0, None)}
    if failed:
        console.print(f"[red]flows exited with errors: {failed}; logs in {pipeline.root / 'flows'}[/]")
        return 1
    if stop.is_set():
        console.print("interrupted: the replay was cut short; every flow stopped cleanly")
        return 130
    return 0
