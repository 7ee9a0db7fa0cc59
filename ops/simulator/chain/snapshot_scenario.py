"""The snapshot scenario of ``pulsearb up --snapshot FILE``: a market snapshot replayed on genuine contracts.

The same interface :class:`ops.simulator.chain.scenario.ChainScenario` offers ``pulsearb up`` (prepare, flow_env, start,
check, stop_market, stop, frames, deployment), plus :meth:`SnapshotScenario.finished` (the run's natural end) and
:meth:`SnapshotScenario.comparison` (what was captured against the real bot):

1. :meth:`~SnapshotScenario.prepare` deploys the snapshot on the stack's anvil with exactly its state
   (:mod:`ops.simulator.chain.snapshot_deploy`), writes the deployment file (``<state>/chain/deployment.json``) and
   binds the
   specs of flows/specs to it (:func:`bind_snapshot_specs`): the collector follows the snapshot's factories and
   pools (state comes from the chain, as ``market.pool_state``), the detectors see its tokens, risk_execution has
   limits for each of them and trades with flash swaps. The bridge and cex_dex are left out: a snapshot has no
   relay frames and no exchange.
2. Nothing moves the market: the only transactions after the deployment are the executor's.
3. The run ends (:meth:`~SnapshotScenario.finished`) once the collector published every pool, every opportunity is
   decided and every accepted one executed, and nothing new came for :data:`QUIET_S` (an arbitrage mined makes new
   pool states, which may make new opportunities), or after ``--duration``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from web3 import Web3

from base.errors import StackError
from flows.execution.config import DEPLOYMENT_ENV
from flows.execution.signer import KEY_ENV, Signer
from flows.spec import FlowSpec, load_spec
from ops.simulator.chain.bind import collector_factories
from ops.simulator.chain.deploy import ANVIL_KEYS, Deployment
from ops.simulator.chain.snapshot_deploy import (
    SnapshotDeployment,
    deploy_snapshot,
    describe,
    native_symbol,
    profit_symbol,
)
from ops.simulator.market.snapshot import Snapshot

if TYPE_CHECKING:
    from ops.simulator.pipeline import Pipeline

QUIET_S = 3.0
"""Seconds with no new pool state, opportunity, decision or execution before a settled snapshot run ends."""
GAS_PRICE_WEI = 1_000_000_000
"""Gas price the detectors assume: the executor's 1 gwei tip (anvil's base fee falls to ~0 on a quiet chain)."""
UNLIMITED = 2**128 - 1
"""Notional, exposure and daily-loss limit of every token: none in practice (flash swaps need no capital, and
nothing but the executor trades on this chain)."""
EXECUTION_GAS_LIMIT = 1_500_000
"""Gas limit of an execution: a V3 leg may cross many initialized ticks of a real tick map."""
STATE_TOPIC = "market.pool_state"


def _strategy(spec: FlowSpec) -> str:
    return spec.strategy.name or ""


def detector_params(deployed: SnapshotDeployment) -> dict[str, Any]:
    """The ``strategy.params`` entries a detector gets on a snapshot (each replaces the spec's whole entry).

    Profits are measured in ``expected.profit_token`` where a cycle holds it, then WETH, then the file's order;
    gas is priced in WETH (else the profit token) at :data:`GAS_PRICE_WEI`; decimals from the file, USD prices
    from its tokens' ``usd`` (display only; none when the file gives none).
    """
    snap, d = deployed.snapshot, deployed.deployment
    order = [profit_symbol(snap), "WETH", *(t.symbol for t in snap.tokens)]
    base = list(dict.fromkeys(deployed.address(s) for s in order if s in d.tokens))
    v2_venues = {deployed.venues[p.venue]: p.fee_bps for p in snap.pools if not p.is_v3}
    return {
        "chain_id": d.chain_id,
        "native_token": deployed.address(native_symbol(snap)),
        "base_tokens": base,
        "gas_price_wei": GAS_PRICE_WEI,
        "gas_price_scale": [1, 1],
        "venue_fees_bps": v2_venues,
        "token_decimals": {deployed.address(t.symbol): t.decimals for t in snap.tokens},
        "usd_prices": {deployed.address(t.symbol): t.usd for t in snap.tokens if t.usd is not None},
        "validity_ms": 60_000,
    }


def risk_overlay(deployed: SnapshotDeployment) -> tuple[dict[str, Any], dict[str, Any]]:
    """``risk.limits`` and ``risk.execution`` entries on a snapshot: every token configured (1 raw unit of net
    profit is enough; notional, exposure and daily loss :data:`UNLIMITED`), one trade in flight, quotes up to a
    minute old (nothing else moves the chain), flash swaps."""
    tokens = [t.address for t in deployed.deployment.tokens.values()]
    limits = {
        "min_net_profit": dict.fromkeys(tokens, 1),
        "max_notional": dict.fromkeys(tokens, UNLIMITED),
        "max_exposure": dict.fromkeys(tokens, UNLIMITED),
        "daily_loss_limit": dict.fromkeys(tokens, UNLIMITED),
        "max_in_flight": 1,
        "max_quote_age_ms": 60_000,
    }
    execution = {"mode": "live", "capital": "flash_swap", "gas_limit": EXECUTION_GAS_LIMIT}
    return limits, execution


def collector_overlay(deployed: SnapshotDeployment) -> dict[str, Any]:
    """The ``collector`` entries on a snapshot: the chain, one factory per venue (not discovering: only the
    snapshot's pools are followed), every pool, a 200 ms poll."""
    return {
        "chain_id": deployed.deployment.chain_id,
        "factories": collector_factories(deployed.deployment),
        "pools": [p.address for p in deployed.pools],
        "poll_interval_ms": 200,
    }


def runs_on_snapshot(spec: FlowSpec) -> bool:
    """Whether a spec runs on a snapshot: not the bridge (no relay frames) nor cex_dex (no exchange)."""
    return spec.kind != "bridge" and not (spec.kind == "detector" and _strategy(spec) == "cex_dex")


def bind_snapshot_specs(specs: Sequence[FlowSpec], deployed: SnapshotDeployment, out_dir: Path) -> list[FlowSpec]:
    """The specs that run on a snapshot (:func:`runs_on_snapshot`), bound to its deployment and written to
    ``out_dir`` (each with a header naming its source).

    Raises:
        SpecError: a bound spec is invalid (names the written file).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    limits, execution = risk_overlay(deployed)
    bound = []
    for spec in specs:
        if not runs_on_snapshot(spec):
            continue
        data = yaml.safe_load(spec.path.read_text())
        if spec.kind == "collector":
            data["collector"] = {**data.get("collector", {}), **collector_overlay(deployed)}
        elif spec.kind == "detector":
            data["strategy"]["params"] = {**data["strategy"].get("params", {}), **detector_params(deployed)}
        elif spec.kind == "risk_execution":
            risk = data.setdefault("risk", {})
            risk["limits"] = {**risk.get("limits", {}), **limits}
            risk["execution"] = {**risk.get("execution", {}), **execution}
        else:
            bound.append(spec)
            continue
        path = out_dir / spec.path.name
        header = (
            f"# {spec.path} bound to the snapshot {deployed.snapshot.name} on chain {deployed.deployment.chain_id} "
            "by ops/simulator/chain/snapshot_scenario.py (generated)\n"
        )
        path.write_text(header + yaml.safe_dump(data, sort_keys=False, width=120))
        bound.append(load_spec(path))
    return bound


class SnapshotScenario:
    """A snapshot's market around one ``pulsearb up --snapshot FILE`` run.

    Args:
        rpc_url: the stack's anvil.
        state_dir: ``$PULSEARB_HOME``; the deployment and the bound specs go to ``<state_dir>/chain``.
        snapshot: the validated snapshot (:func:`ops.simulator.chain.snapshot_deploy.load_deployable`).
        source: where it was read from (for display).
    """

    driver = None  # no market driver: nothing but the executor trades
    frames = 0  # no relay frames: state comes from the chain through the collector

    def __init__(self, rpc_url: str, state_dir: Path, snapshot: Snapshot, source: str = "") -> None:
        self.rpc_url = rpc_url
        self.dir = state_dir / "chain"
        self.snapshot = snapshot
        self.source = source or snapshot.name
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        self.owner = Signer.from_key(ANVIL_KEYS[0])
        self.deployed: SnapshotDeployment | None = None
        self._last: tuple[int, ...] = ()
        self._since = time.monotonic()

    @property
    def deployment(self) -> Deployment | None:
        """The deployed addresses (None before :meth:`prepare`)."""
        return self.deployed.deployment if self.deployed else None

    @property
    def deployment_file(self) -> Path:
        """Where the deployment is written."""
        return self.dir / "deployment.json"

    def opening_prices(self) -> dict[str, float]:
        """USD per whole token, where the file gives one."""
        return {t.symbol: t.usd for t in self.snapshot.tokens if t.usd is not None}

    def prepare(self, specs: Sequence[FlowSpec]) -> list[FlowSpec]:
        """Deploy the snapshot and return the specs that run on it, bound to it.

        Raises:
            StackError: the node does not answer, a transaction failed, or a pool differs from the file.
            SpecError: a bound spec is invalid.
        """
        if not self.w3.is_connected():
            msg = f"no JSON-RPC node answers at {self.rpc_url}: restart the stack (`pulsearb stack down`, then up)"
            raise StackError(msg)
        self.deployed = deploy_snapshot(self.w3, self.owner, self.snapshot)
        self.deployed.write(self.deployment_file)
        return bind_snapshot_specs(specs, self.deployed, self.dir / "specs")

    def describe(self) -> str:
        """One line: what was deployed, and where the bound specs are."""
        assert self.deployed is not None, "prepare() first"
        return f"{describe(self.deployed)}; from {self.source}; specs bound in {self.dir / 'specs'}"

    @property
    def flow_env(self) -> dict[str, dict[str, str]]:
        """Environment of the risk_execution flows: the executor owner's key and the deployment file."""
        return {"risk_execution": {KEY_ENV: ANVIL_KEYS[0], DEPLOYMENT_ENV: str(self.deployment_file)}}

    def start(
        self,
        relay_socket: str,
        *,
        exchange_s: float = 0.0,
        on_frame: Callable[[Any], None] | None = None,
    ) -> None:
        """Nothing to start (the collector reads the chain); the arguments are the chain scenario's."""
        self._last, self._since = (), time.monotonic()

    def finished(self, pipeline: Pipeline) -> bool:
        """True once every pool's state is on Kafka, every opportunity is decided and every accepted one executed,
        and nothing new came for :data:`QUIET_S`."""
        progress = pipeline.poll(("arb.opportunity", STATE_TOPIC))
        states = progress.topics.get(STATE_TOPIC, 0)
        tally = progress.tally
        now = (states, tally.opportunities, tally.decisions, tally.executions)
        if now != self._last:
            self._last, self._since = now, time.monotonic()
            return False
        settled = tally.undecided == 0 and tally.unexecuted == 0
        return states >= len(self.snapshot.pools) and settled and time.monotonic() - self._since >= QUIET_S

    def check(self) -> None:
        """Nothing runs beside the flows: no error to report."""

    def stop_market(self) -> None:
        """No market to stop."""

    def stop(self) -> None:
        """Nothing to stop."""

    def comparison(self, executions: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
        """What was captured against the real bot, when the file has ``expected``; None otherwise.

        ``realized_gross_profit`` sums the realized profit (before gas) of the mined executions that start in the
        bot's profit token, raw units; ``captured_at_least_bot`` compares it with ``bot_gross_profit``.
        """
        expected = self.snapshot.extra.get("expected")
        if not isinstance(expected, dict) or "bot_gross_profit" not in expected:
            return None
        token = profit_symbol(self.snapshot)
        bot = int(expected["bot_gross_profit"])
        mined = [e for e in executions if e["status"] == "mined" and e["start_token"] == token]
        realized = sum(int(e["realized_profit"]) for e in mined)
        return {
            "snapshot": self.snapshot.name,
            "profit_token": token,
            "bot_gross_profit": str(bot),
            "realized_gross_profit": str(realized),
            "mined": len(mined),
            "captured_at_least_bot": realized >= bot,
            "bot_route": expected.get("route", ""),
        }

    def render_comparison(self, comparison: Mapping[str, Any], console: Any) -> None:
        """Print the comparison with the bot in two lines."""
        decimals = self.snapshot.token(comparison["profit_token"]).decimals
        token = comparison["profit_token"]

        def whole(raw: str) -> str:
            sign, n = ("-" if int(raw) < 0 else ""), abs(int(raw))
            units = f"{n // 10**decimals:,}" + (f".{n % 10**decimals:0{decimals}d}" if decimals else "")
            return f"{sign}{units} {token}"

        ok = "yes" if comparison["captured_at_least_bot"] else "[red]no[/]"
        console.print(
            f"snapshot {comparison['snapshot']}: realized gross profit {int(comparison['realized_gross_profit']):,} "
            f"({whole(comparison['realized_gross_profit'])}) over {comparison['mined']} mined; the real bot "
            f"{int(comparison['bot_gross_profit']):,} ({whole(comparison['bot_gross_profit'])}, "
            f"{comparison['bot_route']})\ncaptured >= bot: {ok}"
        )
