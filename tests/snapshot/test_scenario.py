"""The snapshot scenario's bindings (ops/simulator/chain/snapshot_scenario.py), without a chain: which flows run on a
snapshot,
and that each bound spec passes its own builder's validation with the snapshot's addresses; the comparison with
the real bot."""

from __future__ import annotations

from pathlib import Path

from flows.builders.risk_execution import load_config
from flows.collector.config import parse_config
from flows.spec import load_specs
from flows.spec.problems import yaml_lines
from flows.strategies.params import params_from_mapping
from ops.simulator.chain.deploy import Deployment, PairInfo, TokenInfo
from ops.simulator.chain.snapshot_deploy import SnapshotDeployment, venue_ids
from ops.simulator.chain.snapshot_scenario import UNLIMITED, SnapshotScenario, bind_snapshot_specs
from ops.simulator.market.snapshot import load_snapshot
from ops.simulator.market.snapshots import build

V3_FILE = Path(build.HERE) / "wbtc_weth_v3_vs_v2.json"
DAI_FILE = Path(build.HERE) / "eth_12483198_dai_weth.json"


def _fake(path: Path) -> SnapshotDeployment:
    """A deployment record with made-up addresses (what deploy_snapshot returns, without a chain)."""
    snap = load_snapshot(path)
    tokens = {t.symbol: TokenInfo(t.symbol, "0x" + f"{i + 1:040x}", t.decimals) for i, t in enumerate(snap.tokens)}
    venues = venue_ids(snap)
    factories = {v: "0x" + f"{0xF000 + v:040x}" for v in venues.values()}
    pools = []
    for i, p in enumerate(snap.pools):
        t0, t1 = tokens[p.token0], tokens[p.token1]
        kind = ("v3", p.fee, p.tick_spacing) if p.is_v3 else ("v2", 0, 0)
        fee_bps = p.fee // 100 if p.is_v3 else p.fee_bps
        address = "0x" + f"{0xA000 + i:040x}"
        pools.append(
            PairInfo(address, venues[p.venue], fee_bps, t0.address, t1.address, t0.decimals, t1.decimals, *kind)
        )
    deployment = Deployment(
        chain_id=31337,
        deployer="0x" + "ab" * 20,
        executor="0x" + "ee" * 20,
        flash_lender="",
        flash_fee_bps=0,
        native_token=tokens["WETH"].address,
        tokens=tokens,
        factories=factories,
        pairs=[p for p in pools if p.kind == "v2"],
        v3_pools=[p for p in pools if p.kind == "v3"],
    )
    return SnapshotDeployment(snap, deployment, venues, tuple(pools))


def test_the_flows_that_run_are_bound_to_the_snapshot(tmp_path: Path) -> None:
    d = _fake(V3_FILE)
    specs = {s.name: s for s in bind_snapshot_specs(load_specs(), d, tmp_path)}
    assert sorted(specs) == ["archive", "collector", "cross_dex", "risk_execution", "triangular"]  # no relay, no CEX
    weth, wbtc = d.address("WETH"), d.address("WBTC")

    collector = specs["collector"]
    config, problems = parse_config(collector.collector, collector.path, yaml_lines(collector.path))
    assert problems == [] and config is not None
    assert config.chain_id == 31337 and set(config.pools) == {p.address for p in d.pools}
    assert {(f.address, f.kind, f.venue, f.discover) for f in config.factories} == {
        (d.deployment.factories[301], "v3", 301, False),
        (d.deployment.factories[300], "v2", 300, False),
    }

    for name in ("cross_dex", "triangular"):
        params = params_from_mapping(name, specs[name].strategy.params)
        assert params.native_token == weth and params.base_tokens[0] == weth
        assert dict(params.token_decimals) == {wbtc: 8, weth: 18}
        assert dict(params.venue_fees_bps) == {300: 30}
        assert dict(params.usd_prices) == {}  # the file gives no USD price
        assert params.chain_id == 31337 and params.gas_price_scale == (1, 1)

    limits, execution = load_config(specs["risk_execution"])
    for token in (weth, wbtc):
        assert limits.min_net_profit.get(token) == 1 and limits.max_notional.get(token) == UNLIMITED
    assert limits.max_notional.get("0x" + "99" * 20) is None  # no other token is configured
    assert execution.capital == "flash_swap" and execution.mode == "live"
    assert all(p.parent == tmp_path for p in (s.path for s in specs.values() if s.name != "archive"))


def test_the_comparison_with_the_real_bot() -> None:
    scenario = SnapshotScenario("http://127.0.0.1:1", Path("/nonexistent"), load_snapshot(DAI_FILE))
    bot = 22137247799616742
    mined = {"status": "mined", "start_token": "WETH", "realized_profit": str(bot)}
    other = [
        {"status": "skipped", "start_token": "WETH", "realized_profit": "0"},
        {"status": "mined", "start_token": "DAI", "realized_profit": str(10**30)},  # not the bot's token
    ]
    ok = scenario.comparison([mined, *other])
    assert ok is not None
    assert (ok["realized_gross_profit"], ok["bot_gross_profit"], ok["mined"]) == (str(bot), str(bot), 1)
    assert ok["captured_at_least_bot"] is True
    short = scenario.comparison([mined | {"realized_profit": str(bot - 1)}])
    assert short is not None and short["captured_at_least_bot"] is False
    assert SnapshotScenario("http://127.0.0.1:1", Path("/x"), load_snapshot(V3_FILE)).comparison([mined]) is None
