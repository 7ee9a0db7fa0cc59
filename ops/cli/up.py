"""``pulsearb up``: the main job on embedded defaults, with live progress and a final report.

It starts the local stack and runs every spec in flows/specs under the deploy manager's supervision
(:class:`ops.simulator.pipeline.Pipeline`), fed by a local relay, in one of two scenarios:

- ``chain`` (default): anvil with a market of genuine Uniswap V2 and V3 pools deployed on it
  (:mod:`ops.simulator.chain.scenario`): pool prices follow the real Coinbase ETH-USD and BTC-USD minute bars with
  per-venue
  lag and occasional large trades, one block per ``--block-time`` that never waits for pulsearb; ordinary traders
  swap at random and a competing searcher back-runs dislocations with probability ``--competition``. The chain
  collector seeds and follows every pool's exact state (``market.pool_state``), the chain watcher sends the
  pools' Swap logs as PoolSwap frames on the relay (what AlphaPulse sends), the specs are bound to the
  deployment (:mod:`ops.simulator.chain.bind`), and risk_execution executes accepted arbitrages on chain; the report
  splits what happened to each (:mod:`ops.simulator.report`).
- ``synthetic``: the PoolSync frames of a market model replayed into the relay (:mod:`ops.simulator.market.model`); no
  chain, so risk_execution decides without executing.

``--snapshot FILE`` replaces the chain scenario's market with a market snapshot deployed on genuine contracts with
exactly its state (:mod:`ops.simulator.chain.snapshot_scenario`): the collector reads the pools from the chain, and the
run ends once every opportunity is decided and executed (or after ``--duration``); the report adds each execution and,
when the file has ``expected``, what was captured against the real bot.

It shows live counts and ends with a report read from ClickHouse (:mod:`ops.simulator.report`; also written to
``<state>/up/report.json``). Ctrl-C stops the market, then every flow in pipeline order (each drains what the one
before it produced), then the stack; the report still prints, and the exit code is 130.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from base.errors import ConfigError
from base.paths import state_dir

if TYPE_CHECKING:
    from pathlib import Path

    from flows.spec import FlowSpec
    from ops.control.tally import TallyView
    from ops.simulator.chain.scenario import ChainScenario
    from ops.simulator.chain.snapshot_scenario import SnapshotScenario
    from ops.simulator.market.snapshot import Snapshot
    from ops.simulator.pipeline import Pipeline
    from ops.simulator.report import Competition

    Scenario = ChainScenario | SnapshotScenario

SCENARIOS = ("chain", "synthetic")
STAGES = (
    ("market.pool_state", "pool states (collector)"),
    ("market.pool_swap", "pool swaps (chain watcher)"),
    ("market.pool_sync", "pool updates (PoolSync)"),
    ("arb.opportunity", "opportunities"),
    ("dlq.relay", "dead frames"),
)
FEEDS = frozenset({"market.pool_state", "market.pool_swap", "market.pool_sync"})  # shown once this run has them
SETTLE_S = 30.0  # longest wait, after the market stops, for the last detections to be decided and executed
MARKET_TOPICS = ("market.pool_sync", "market.pool_swap", "market.quote", "market.trade", "market.gas_price")
"""What the bridge writes (one record per relay frame)."""


def register(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    """Add the ``up`` command."""
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--duration", type=float, default=60.0, help="seconds the market runs (wall time, default 60)")
    p.add_argument("--speed", type=float, default=30.0, help="market time runs this many times faster (default 30)")
    p.add_argument(
        "--scenario",
        default=SCENARIOS[0],
        choices=SCENARIOS,
        help="chain: a market on a local anvil, executed on chain (default); synthetic: replayed pool updates, "
        "no chain, decide-only",
    )
    p.add_argument("--seed", type=int, default=7, help="seed of the market's noise and shocks")
    p.add_argument("--block-time", type=float, default=1.0, help="chain scenario: wall seconds per market block")
    p.add_argument(
        "--competition",
        type=float,
        default=0.3,
        help="chain scenario: probability a competing searcher back-runs a dislocation first (default 0.3; 0: none)",
    )
    p.add_argument(
        "--traders",
        type=int,
        default=3,
        help="chain scenario: ordinary trader accounts swapping at random between and within blocks (0-3, default 3)",
    )
    p.add_argument(
        "--exchange",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also feed Coinbase quotes and trades (for cex_dex; default on)",
    )
    p.add_argument("--keep-stack", action="store_true", help="leave broker and chain running afterwards")
    p.add_argument(
        "--snapshot",
        metavar="FILE",
        help="deploy this market snapshot (JSON, docs/snapshots.md) on genuine contracts with exactly its state and "
        "run on it; ends once its opportunities are executed (or after --duration)",
    )
    p.set_defaults(func=run)


class _Rates:
    """Per-second rates from successive counts."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, int]] = {}
        self.rate: dict[str, float] = {}

    def update(self, key: str, count: int) -> float:
        now = time.monotonic()
        t0, c0 = self._last.get(key, (now, count))
        if now - t0 >= 1.0 or key not in self._last:
            self.rate[key] = (count - c0) / (now - t0) if now > t0 else 0.0
            self._last[key] = (now, count)
        return self.rate.get(key, 0.0)


def _table(pipeline: Pipeline, chain: Scenario | None, total: int | None, rates: _Rates) -> Table:
    progress = pipeline.progress
    tally = progress.tally
    t = Table(title=f"pulsearb up  {progress.elapsed_s:6.1f} s", expand=False)
    t.add_column("stage")
    t.add_column("count", justify="right")
    t.add_column("per s", justify="right")
    t.add_column("detail")
    if chain is not None and chain.driver is not None:
        s = chain.driver.stats
        prices = "  ".join(f"{sym} {usd:,.2f}" for sym, usd in s.prices.items())
        minutes, secs = divmod(int(s.market_s), 60)
        reverted = f" ({s.swaps_reverted} reverted: a pool moved first)" if s.swaps_reverted else ""
        detail = f"market {minutes:02d}:{secs:02d}  {prices}  market swaps {s.swaps}{reverted}, large trades {s.shocks}"
        if s.late_s > chain.driver.block_time_s / 2:
            detail += f"; a block came up to {s.late_s:.1f} s late (machine load; the chain never waits)"
        traders = getattr(chain, "traders", None)
        if traders is not None:
            detail += f"; traders' swaps {traders.stats.swaps} ({traders.stats.priority} paying above the executor)"
        t.add_row("market blocks", str(s.blocks), "", detail)
    frames = f"{progress.sent:,}" + (f" / {total:,}" if total else "")
    source = "Swap logs from the chain watcher, Coinbase quotes and trades" if chain else "replayed market"
    if chain is not None and chain.driver is None:  # a snapshot: state comes from the chain through the collector
        source = "none: the collector reads the pools from the chain"
    t.add_row("frames to the relay", frames, f"{rates.update('frames', progress.sent):,.0f}", source)
    for topic, label in STAGES:
        n = progress.topics.get(topic, 0)
        if topic in FEEDS and not n:
            continue  # a feed this scenario does not have (or not yet)
        t.add_row(label, f"{n:,}", f"{rates.update(topic, n):,.0f}", topic)
    top = ", ".join(f"{r} {n}" for r, n in sorted(tally.reasons.items(), key=lambda kv: -kv[1])[:3])
    t.add_row(
        "decisions",
        f"{tally.decisions:,}",
        f"{rates.update('decisions', tally.decisions):,.0f}",
        f"accepted {tally.accepted}, rejected {tally.rejected}" + (f" ({top})" if top else ""),
    )
    mined = tally.statuses.get("mined", 0)
    t.add_row(
        "executions", f"{tally.executions:,}", "", _outcomes(tally) if chain is not None else "decide-only (no chain)"
    )
    symbols = {t.address: sym for sym, t in chain.deployment.tokens.items()} if chain and chain.deployment else {}
    pnl = "  ".join(f"{p.realized:,} {symbols.get(p.token, 'raw')} units" for p in tally.pnl) or "-"
    exact = f"realized == predicted {tally.exact}/{mined}"
    t.add_row("realized PnL", f"{tally.realized_usd:,.2f} USD", "", f"{pnl}; {exact}")
    competitor = getattr(chain, "competitor", None)
    if competitor is not None and competitor.probability > 0:
        c = competitor.stats
        taken = c.mined + mined
        share = f"; pulsearb's share of mined arbitrages {mined / taken:.0%}" if taken else ""
        detail = (
            f"p={competitor.probability:g}: found {c.dislocations} dislocations, sent {c.sent}, mined {c.mined}, "
            f"reverted {c.reverted}{share}"
        )
        t.add_row("competing searcher", str(c.mined), "", detail)
    restarts = sum(f.restarts for f in pipeline.flows)
    if restarts:
        t.add_row("flow restarts", str(restarts), "", "")
    return t


def _outcomes(tally: TallyView) -> str:
    """The executions so far, split as the report splits them (:func:`flows.execution.outcome.classify`)."""
    from flows.execution.outcome import ABOVE, BELOW, EXACT, MIN_PROFIT, OUTCOMES, REVERTED, SKIPPED

    o = tally.outcomes
    parts = [
        f"mined {o.get(EXACT, 0)} exact, {o.get(BELOW, 0)} below prediction"
        + (f", {o[ABOVE]} above" if o.get(ABOVE) else ""),
        f"reverted by minProfit {o.get(MIN_PROFIT, 0)}" + (f" (+{o[REVERTED]} other)" if o.get(REVERTED) else ""),
        f"skipped after simulation {o.get(SKIPPED, 0)}",
    ]
    other = ", ".join(f"{k} {v}" for k, v in o.items() if k not in OUTCOMES)
    lost = f"; gas lost on reverts {tally.gas_lost_wei / 10**18:.6f} ETH" if tally.gas_lost_wei else ""
    return ", ".join(parts) + (f", {other}" if other else "") + lost


def _flows_table(pipeline: Pipeline, codes: dict[str, int | None]) -> Table:
    t = Table(title="flows")
    for col in ("flow", "kind", "processes", "restarts", "exit", "logs"):
        t.add_column(col)
    for f in pipeline.flows:
        code = codes.get(f.name)
        t.add_row(f.name, f.plan.spec.kind, str(f.plan.processes), str(f.restarts), str(code), str(f.plan.log_dir))
    return t


def _settle(pipeline: Pipeline, chain: Scenario, stop: threading.Event, redraw: Callable[[], None]) -> None:
    """After the market stopped: wait until every frame is on Kafka and every detection decided and executed.

    The end is when every frame sent to the relay is on its topic, every opportunity has its decision and every
    accepted one its outcome, and nothing new came for a second (an arbitrage mined late makes new Swap frames and
    collector states, which may make new opportunities), or after :data:`SETTLE_S`.
    """
    deadline = time.monotonic() + SETTLE_S
    last: tuple[int, int] | None = None
    quiet_since = time.monotonic()
    while not stop.is_set() and time.monotonic() < deadline:
        frames = pipeline.progress.sent = chain.frames
        on_kafka = _bridged(pipeline)
        now = (frames, pipeline.progress.tally.opportunities)
        if now != last:
            last, quiet_since = now, time.monotonic()
        if on_kafka >= frames and pipeline.settled(executing=True) and time.monotonic() - quiet_since >= 1.0:
            return
        redraw()
        time.sleep(0.1)


def _bridged(pipeline: Pipeline) -> int:
    """Records the bridge wrote to the market topics so far."""
    return sum(pipeline.poll(MARKET_TOPICS).topics.get(t, 0) for t in MARKET_TOPICS)


def _deploy_market(
    args: argparse.Namespace,
    home: Path,
    rpc_url: str,
    specs: list[FlowSpec],
    console: Console,
    snapshot: Snapshot | None = None,
) -> tuple[Scenario, list[FlowSpec]]:
    """Deploy the chain scenario's market (or the snapshot); return it and the specs bound to it."""
    if snapshot is not None:
        from ops.simulator.chain.snapshot_scenario import SnapshotScenario

        scenario = SnapshotScenario(rpc_url, home, snapshot, args.snapshot)
        bound = scenario.prepare(specs)
        console.print(scenario.describe())
        return scenario, bound
    from ops.simulator.chain.scenario import ChainScenario

    chain = ChainScenario(
        rpc_url,
        home,
        speed=args.speed,
        block_time_s=args.block_time,
        seed=args.seed,
        competition=args.competition,
        traders=args.traders,
    )
    bound = chain.prepare(specs)
    d = chain.deployment
    assert d is not None and chain.competitor is not None
    console.print(
        f"deployed on chain {d.chain_id}: executor {d.executor}, {len(d.pairs)} V2 pairs on venues "
        f"{sorted({p.venue for p in d.pairs})} and {len(d.v3_pools)} V3 pools on venue "
        f"{sorted({p.venue for p in d.v3_pools})}; competing searcher's executor {chain.competitor.executor} "
        f"(p={args.competition:g}), {args.traders} traders; specs bound in {chain.dir / 'specs'}"
    )
    return chain, bound


def _ordering(pipeline: Pipeline) -> dict[str, dict[str, int] | None]:
    """Per detector, how its input's event order held (read from its metrics before it stops): late partners a
    held trigger waited for (``held``), those that came after it had been evaluated (``missed``), and pool or CEX
    events folded out of order (``out_of_order``); None for a detector whose metrics did not answer. With no miss and
    nothing out of order, a backtest of the run's archive finds exactly what the detector found (``clock.hold_ms``).
    Read after the market settled, before the flows drain."""
    from ops.control.metrics import by_label, exposition

    found: dict[str, dict[str, int] | None] = {}
    for f in pipeline.flows:
        if f.plan.spec.kind != "detector":
            continue
        counts: dict[str, int] | None = {"held": 0, "missed": 0, "out_of_order": 0}
        for port in f.plan.metrics_ports:
            text = exposition(port)
            if text is None or counts is None:  # a process that did not answer: unknown, not zero
                counts = None
                continue
            caught = by_label(text, "pulsearb_join_stragglers_total", "caught")
            counts["held"] += int(caught.get("yes", 0))
            counts["missed"] += int(caught.get("no", 0))
            counts["out_of_order"] += int(sum(by_label(text, "pulsearb_event_order_late_total", "kind").values()))
        found[f.name] = counts
    return found


def _report(
    pipeline: Pipeline,
    chain: Scenario | None,
    dsn: str,
    scenario: str,
    console: Console,
    since_ns: int,
    ordering: dict[str, dict[str, int] | None] | None = None,
) -> None:
    """Read this run's report from the store (rows archived since ``since_ns``), print it, write it as JSON, and
    say how to query the history (which keeps earlier runs too)."""
    from ops.simulator.chain.snapshot_scenario import SnapshotScenario
    from ops.simulator.report import collect, render, write
    from ops.simulator.report_executions import render_executions

    symbols = {t.address: s for s, t in chain.deployment.tokens.items()} if chain and chain.deployment else {}
    report = collect(dsn, since_ns=since_ns, symbols=symbols)
    sent = pipeline.progress.sent
    source = (
        "chain watcher (Swap logs), exchange feed (Coinbase); pool states from the chain collector"
        if chain is not None
        else "market replay"
    )
    if isinstance(chain, SnapshotScenario):
        source = "none: the collector read the snapshot's pools from the chain (market.pool_state)"
    native_usd = chain.opening_prices().get("WETH") if chain is not None else None
    report.competition = _competition(chain)
    render(report, console, sent=sent, source=source, symbols=symbols, native_usd=native_usd)
    executions = report.executions
    render_executions(executions, console)
    extra: dict[str, object] = {}
    if isinstance(chain, SnapshotScenario):
        comparison = chain.comparison(executions)
        if comparison is not None:
            chain.render_comparison(comparison, console)
        extra["snapshot"] = comparison or {"snapshot": chain.snapshot.name}
    if ordering:
        extra["ordering"] = ordering
        console.print(
            "event order (clock.hold_ms): "
            + "; ".join(
                f"{name} {c['held']} late partners waited for, {c['missed']} missed, {c['out_of_order']} out of order"
                if c is not None
                else f"{name} unknown (its metrics did not answer)"
                for name, c in sorted(ordering.items())
            )
        )
    path = pipeline.root / "report.json"
    write(report, path, symbols, scenario=scenario, frames_sent=sent, **extra)
    home = f"PULSEARB_HOME={pipeline.state_dir} " if os.environ.get("PULSEARB_HOME") else ""
    console.print(
        f"query the history: [bold]{home}pulsearb history executions[/] | [bold]pulsearb history pnl[/] | "
        f"[bold]pulsearb history latency[/]  (store {dsn}; report {path})"
    )


def _competition(chain: Scenario | None) -> Competition | None:
    """The competing searcher's figures for the report (None when the market had none)."""
    from ops.simulator.report import Competition

    competitor = getattr(chain, "competitor", None)
    if chain is None or chain.deployment is None or competitor is None or competitor.probability <= 0:
        return None
    usd = {"USDC": 1.0} | chain.opening_prices()
    c = competitor.stats
    return Competition(
        probability=competitor.probability,
        dislocations=c.dislocations,
        sent=c.sent,
        mined=c.mined,
        reverted=c.reverted,
        realized=dict(c.realized),
        gas_cost_wei=c.gas_cost_wei,
        usd_per_unit={t.address: usd.get(s, 0.0) / 10**t.decimals for s, t in chain.deployment.tokens.items()},
    )


def run(args: argparse.Namespace) -> int:
    """Start the stack, deploy every spec, run the market, report."""
    from rich.live import Live

    from flows.spec import load_specs
    from ops.cli.stack import store_line
    from ops.simulator.chain.snapshot_scenario import SnapshotScenario, runs_on_snapshot
    from ops.simulator.pipeline import Pipeline
    from ops.simulator.stack import stack
    from ops.simulator.stack.store import preferred_port

    if args.duration <= 0 or args.speed <= 0 or args.block_time <= 0:
        msg = "--duration, --speed and --block-time must be positive (seconds, a factor, seconds)"
        raise ConfigError(msg)
    if not 0.0 <= args.competition <= 1.0 or not 0 <= args.traders <= 3:
        msg = "--competition must be a probability within [0, 1] and --traders a count within 0..3"
        raise ConfigError(msg)
    snapshot: Snapshot | None = None
    if args.snapshot:
        from ops.simulator.chain.snapshot_deploy import load_deployable

        if args.scenario != "chain":
            msg = "--snapshot deploys on the local chain: leave --scenario at chain"
            raise ConfigError(msg)
        try:
            snapshot = load_deployable(args.snapshot)
        except ConfigError as exc:  # one line per problem, before anything starts
            for line in str(exc).splitlines():
                print(f"pulsearb: error: {line}", file=sys.stderr)
            return 2
    console = Console()
    home = state_dir()
    on_chain = args.scenario == "chain"
    # On the chain the collector is the detectors' source of pool state, bound to the local chain; with no chain
    # (synthetic) it would have nothing to read. A snapshot runs only what applies to it (no relay, no exchange).
    specs = [
        s for s in load_specs() if (runs_on_snapshot(s) if snapshot is not None else on_chain or s.kind != "collector")
    ]
    label = f"snapshot {snapshot.name}" if snapshot is not None else args.scenario
    console.print(
        f"[bold]pulsearb up[/] ({label}): {len(specs)} flows ({', '.join(s.name for s in specs)}), state in {home}"
    )
    stop = threading.Event()

    def interrupt(*_: object) -> None:
        if stop.is_set():
            console.print("already stopping: flows are draining what they have read")
        stop.set()

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    pipeline: Pipeline | None = None
    chain: Scenario | None = None
    codes: dict[str, int | None] = {}
    ordering: dict[str, dict[str, int] | None] = {}
    total: int | None = None
    started_ns = time.time_ns()  # the report counts what this run archived; the store keeps earlier runs
    try:
        info = stack.up(home, chain=on_chain, serve_store=True, store_port=preferred_port())
        console.print(f"broker {info.bootstrap}  chain {info.rpc_url or '-'}\nstore  {store_line(info)}")
        events: list[tuple[int, bytes]] = []
        if on_chain:
            chain, specs = _deploy_market(args, home, info.rpc_url or "", specs, console, snapshot)
        else:
            from ops.simulator.market import model

            blocks = model.approx_blocks(args.duration, args.speed)
            events = list(model.market_frames(blocks, seed=args.seed, cex=args.exchange))
            total = len(events)
        pipeline = Pipeline(info, home, specs, flow_env=chain.flow_env if chain else None)
        if not stop.is_set():
            pipeline.start()
            console.print(f"flows running under {pipeline.root} (`pulsearb flows list --root {pipeline.root}`)")
        feeder: threading.Thread | None = None
        if not stop.is_set():
            if chain is not None:
                chain.start(pipeline.relay_socket, exchange_s=args.duration if args.exchange else 0.0)
            else:
                feeder = threading.Thread(
                    target=pipeline.feed, args=(events, args.speed), kwargs={"should_stop": stop.is_set}, daemon=True
                )
                feeder.start()
        rates = _Rates()
        p = pipeline

        def draw() -> Table:
            if chain is not None:
                p.progress.sent = chain.frames
            return _table(p, chain, total, rates)

        started = time.monotonic()
        with Live(draw(), console=console, refresh_per_second=4) as live:
            while not stop.is_set():
                if feeder is not None and not feeder.is_alive():
                    break
                if chain is not None and time.monotonic() - started >= args.duration:
                    break
                if isinstance(chain, SnapshotScenario) and chain.finished(pipeline):
                    break  # every opportunity decided and executed
                pipeline.check_alive()
                if chain is not None:
                    chain.check()
                pipeline.poll()
                live.update(draw(), refresh=False)
                time.sleep(0.25)
            if chain is not None:
                chain.stop_market()
                _settle(pipeline, chain, stop, lambda: live.update(draw(), refresh=False))
            elif not stop.is_set():
                deadline = time.monotonic() + SETTLE_S
                while not stop.is_set() and time.monotonic() < deadline and _bridged(pipeline) < p.progress.sent:
                    pipeline.check_alive()
                    time.sleep(0.25)
            pipeline.poll()
            live.update(draw())
        ordering = _ordering(pipeline)
        console.print("\nstopping flows (each drains its input first) ...")
    finally:
        if chain is not None:
            chain.stop()
        if pipeline is not None:
            codes = pipeline.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if not args.keep_stack:
            stack.down(home)
    _report(pipeline, chain, info.store_dsn, args.scenario, console, started_ns, ordering)
    console.print(_flows_table(pipeline, codes))
    failed = {k: v for k, v in codes.items() if v not in (0, None)}
    if failed:
        console.print(f"[red]flows exited with errors: {failed}; logs in {pipeline.root / 'flows'}[/]")
        return 1
    if stop.is_set():
        console.print("interrupted: the replay was cut short; every flow stopped cleanly")
        return 130
    return 0
