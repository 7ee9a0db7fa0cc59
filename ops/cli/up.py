"""``pulsearb up``: the main job on embedded defaults, with live progress and a final report."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from flows.errors import ConfigError
from ops.paths import state_dir

if TYPE_CHECKING:
    from ops.pipeline import Progress

SCENARIOS = ("polygon-eth-btc",)


def register(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    """Add the ``up`` command."""
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of market to replay (wall time, default 60)")
    p.add_argument("--speed", type=float, default=30.0, help="market time runs this many times faster (default 30)")
    p.add_argument("--scenario", default=SCENARIOS[0], choices=SCENARIOS, help="which local market to replay")
    p.add_argument("--seed", type=int, default=7, help="seed of the market's noise and shocks")
    p.add_argument("--keep-stack", action="store_true", help="leave broker and chain running afterwards")
    p.set_defaults(func=run)


def _table(progress: Progress, total: int) -> Table:
    t = Table(title=f"pulsearb up  {progress.elapsed_s:6.1f} s", expand=False)
    t.add_column("stage")
    t.add_column("count", justify="right")
    t.add_column("rate /s", justify="right")
    rate = progress.sent / progress.elapsed_s if progress.elapsed_s > 0 else 0.0
    t.add_row("frames sent to relay", f"{progress.sent} / {total}", f"{rate:,.0f}")
    for topic, n in progress.topics.items():
        t.add_row(topic, str(n), "")
    return t


def run(args: argparse.Namespace) -> int:
    """Start the stack, deploy every spec, replay the market, report."""
    from rich.live import Live

    from ops.market import model
    from ops.pipeline import Pipeline
    from ops.report import collect, render
    from ops.stack import stack

    if args.duration <= 0 or args.speed <= 0:
        msg = "--duration and --speed must be positive numbers of seconds / a positive factor"
        raise ConfigError(msg)
    console = Console()
    home = state_dir()
    console.print(f"[bold]pulsearb up[/]: state in {home}")
    info = stack.up(home, chain=False)
    console.print(f"broker {info.bootstrap}  store {info.store_dsn}")
    blocks = model.approx_blocks(args.duration, args.speed)
    events = [(e.offset_ns, e.frame) for e in model.generate(blocks, seed=args.seed)]
    pipeline = Pipeline(info, home)
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        pipeline.start()
        feeder = threading.Thread(
            target=pipeline.feed, args=(events, args.speed), kwargs={"should_stop": stop.is_set}, daemon=True
        )
        feeder.start()
        with Live(_table(pipeline.progress, len(events)), console=console, refresh_per_second=4) as live:
            while feeder.is_alive():
                pipeline.check_alive()
                live.update(_table(pipeline.poll(), len(events)))
                time.sleep(0.25)
            pipeline.wait_for("market.pool_sync", pipeline.progress.sent, timeout_s=30)
            live.update(_table(pipeline.poll(), len(events)))
        console.print("stopping flows (each drains its input first) ...")
    finally:
        codes = pipeline.stop()
        signal.signal(signal.SIGINT, previous)
        if not args.keep_stack:
            stack.down(home)
    report = collect(info.store_dsn)
    render(report, pipeline.progress.sent, console, info.store_dsn)
    failed = {k: v for k, v in codes.items() if v not in (0, None)}
    if failed:
        console.print(f"[red]flows exited with errors: {failed}; logs in {home / 'logs'}[/]")
        return 1
    return 0
