"""``pulsearb up --snapshot FILE`` as a user runs it: real mainnet states deployed on genuine contracts, the whole
pipeline (collector, detectors, risk, execution, archive) on them, and the report's executions and comparison.

One run per snapshot (module fixture, ~20 s each on a quiet machine) on free ports with ``PULSEARB_HOME`` in a
temporary directory: a two-venue V2 arbitrage (cross_dex), the three-pool V2 cycle (triangular) and a real V3 tick
map beside a V2 pair (a mixed V2/V3 cycle).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ops.simulator.market.snapshot import load_snapshot
from ops.simulator.market.snapshots import build
from tests.up.test_up_chain import _env, _history, _ours

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(build.HERE)
EXECUTION_KEYS = {"status", "strategy", "start_token", "predicted_profit", "realized_profit", "tx_hash"}


@dataclass(frozen=True, slots=True)
class Run:
    home: Path
    proc: subprocess.CompletedProcess
    report: dict[str, Any]
    deployment: dict[str, Any]
    opportunities: list[dict[str, Any]]


def _up(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ops", "up", *args],
        cwd=ROOT,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


DAI, TRIANGLE, V3 = "eth_12483198_dai_weth", "eth_11017338_xsp_xfi_weth", "wbtc_weth_v3_vs_v2"
RUNS: dict[str, Run] = {}


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Run]:
    """``up(name)``: the run on snapshot ``name``, made once per module."""

    def run(name: str) -> Run:
        if name not in RUNS:
            home = tmp_path_factory.mktemp(f"up-{name}")
            proc = _up(home, "--snapshot", str(SNAPSHOTS / f"{name}.json"), "--duration", "90")
            print(proc.stdout[-6000:], proc.stderr[-3000:])
            assert proc.returncode == 0, proc.stderr[-3000:]
            report = json.loads((home / "up" / "report.json").read_text())
            deployment = json.loads((home / "chain" / "deployment.json").read_text())
            RUNS[name] = Run(home, proc, report, deployment, _history(_env(home), "opportunities"))
        return RUNS[name]

    return run


def _mined(run: Run) -> list[dict[str, Any]]:
    return [e for e in run.report["executions"] if e["status"] == "mined"]


@pytest.mark.parametrize("name", [DAI, TRIANGLE, V3])
def test_the_arbitrage_is_mined_exactly_as_predicted(up: Callable[[str], Run], name: str) -> None:
    run = up(name)
    executions = run.report["executions"]
    assert executions and all(set(e) >= EXECUTION_KEYS for e in executions)
    [mined] = _mined(run)  # one trade takes the whole dislocation; later views of it are skipped, never sent
    assert int(mined["realized_profit"]) == int(mined["predicted_profit"]) > 0
    assert mined["tx_hash"].startswith("0x") and mined["start_token"] == "WETH"
    assert {e["status"] for e in executions} <= {"mined", "skipped"}
    assert all(e["tx_hash"] is None for e in executions if e["status"] == "skipped")
    assert run.report["mined"] == run.report["exact"] == 1
    assert run.report["rows"]["arb_execution"] == len(executions)
    assert (
        "executions (profits before gas" in run.proc.stdout and f"{int(mined['realized_profit']):,}" in run.proc.stdout
    )


@pytest.mark.parametrize("name", [DAI, TRIANGLE])
def test_at_least_the_real_bots_profit_is_captured(up: Callable[[str], Run], name: str) -> None:
    run = up(name)
    snap = load_snapshot(SNAPSHOTS / f"{name}.json")
    bot = int(snap.extra["expected"]["bot_gross_profit"])
    [mined] = _mined(run)
    comparison = run.report["snapshot"]
    assert comparison["bot_gross_profit"] == str(bot) and comparison["profit_token"] == "WETH"
    assert comparison["realized_gross_profit"] == mined["realized_profit"]
    assert int(mined["realized_profit"]) >= bot and comparison["captured_at_least_bot"] is True
    assert "captured >= bot: yes" in run.proc.stdout
    # the route the bot took: two venues of one pair, or the three pools of the triangle
    strategy = "triangular" if len(snap.pools) == 3 else "cross_dex"
    assert mined["strategy"] == strategy and len(mined["path"]) == len(snap.pools) + 1


def test_the_v3_snapshot_is_a_mixed_cycle(up: Callable[[str], Run]) -> None:
    run = up(V3)
    assert run.report["snapshot"] == {"snapshot": V3}  # no real bot to compare with: states of different blocks
    [mined] = _mined(run)
    [opportunity] = [o for o in run.opportunities if o["id"] == mined["opportunity_id"]]
    [v3] = run.deployment["v3_pools"]
    [v2] = run.deployment["pairs"]
    assert sorted(opportunity["pools"].split(",")) == sorted([v3["address"], v2["address"]])
    assert mined["strategy"] == "cross_dex" and mined["path"] == ["WETH", "WBTC", "WETH"]
    assert sorted(mined["kinds"]) == ["v2", "v3"]


@pytest.mark.parametrize("name", [DAI, TRIANGLE, V3])
def test_everything_it_started_is_stopped(up: Callable[[str], Run], name: str) -> None:
    run = up(name)
    assert not (run.home / "stack.json").exists()
    assert not _ours(run.home), "no process of the run is left (flows, anvil, broker)"
    assert "Traceback" not in run.proc.stderr


def test_a_bad_snapshot_fails_one_line_per_problem_and_deploys_nothing(tmp_path: Path) -> None:
    data = json.loads((SNAPSHOTS / "eth_12483198_dai_weth.json").read_text())
    data["pools"][0]["reserve0"] = "-5"
    data["pools"][1]["token1"] = "USDC"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    home = tmp_path / "home"
    proc = _up(home, "--snapshot", str(bad))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        f"pulsearb: error: {bad}: pools[0].reserve0: expected 1 <= value <= {2**112 - 1}, got -5",
        f"pulsearb: error: {bad}: pools[1].token1: expected a symbol from tokens, got 'USDC'",
    ]
    assert not (home / "chain").exists() and not (home / "stack.json").exists() and not (home / "store").exists()

    data = json.loads((SNAPSHOTS / "eth_12483198_dai_weth.json").read_text())
    data["pools"][1]["fee_bps"] = 25  # valid JSON, but no genuine pair charges 25 bps
    bad.write_text(json.dumps(data))
    proc = _up(home, "--snapshot", str(bad))
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"pulsearb: error: {bad}: pools[1].fee_bps: 25 bps cannot be a genuine UniswapV2Pair")
    assert not (home / "chain").exists()
