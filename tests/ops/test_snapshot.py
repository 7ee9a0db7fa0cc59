"""Market snapshot files (ops/simulator/market/snapshot.py): the committed ones rebuild from the real fixtures and
load; bad files report every problem with its JSON path."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from base.errors import ConfigError
from flows.amm.cycle import optimal_input
from flows.amm.v2 import Hop
from ops.simulator.market.snapshot import load_snapshot, parse_snapshot, snapshot_to_json
from ops.simulator.market.snapshots import build

SNAPSHOTS = sorted(Path(build.HERE).glob("*.json"))


def test_committed_snapshots_are_built_from_the_fixtures() -> None:
    assert build.main(["--check"]) == 0
    assert {p.name for p in SNAPSHOTS} == set(build.build())


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.stem)
def test_snapshots_load_and_round_trip(path: Path) -> None:
    snap = load_snapshot(path)
    assert parse_snapshot(snapshot_to_json(snap)) == snap


@pytest.mark.parametrize("path", [p for p in SNAPSHOTS if p.stem.startswith("eth_")], ids=lambda p: p.stem)
def test_the_real_arbitrages_are_there_to_be_found(path: Path) -> None:
    """The best cycle through the snapshot's pools earns at least what the real bot earned (gross, before gas)."""
    snap = load_snapshot(path)
    bot = int(snap.extra["expected"]["bot_gross_profit"])
    best = 0
    for order in itertools.permutations(snap.pools):
        token, hops = "WETH", []
        for p in order:
            if token not in (p.token0, p.token1):
                break
            forward = token == p.token0
            hops.append(Hop(p.reserve0, p.reserve1, p.fee_bps) if forward else Hop(p.reserve1, p.reserve0, p.fee_bps))
            token = p.token1 if forward else p.token0
        else:
            if token == "WETH":
                best = max(best, optimal_input(hops).net)
    assert best >= bot > 0


def test_every_problem_is_reported_with_its_path() -> None:
    bad = {
        "name": "",
        "tokens": [{"symbol": "A", "decimals": 18}, {"symbol": "B", "decimals": "x"}],
        "pools": [
            {"venue": "v", "kind": "uniswap_v2", "token0": "A", "token1": "C", "reserve0": "0", "reserve1": 5},
            {"venue": "v", "kind": "uniswap_v3", "fee": 3000, "token0": "A", "token1": "B",
             "sqrt_price_x96": str(2**96), "tick": 7, "liquidity": "10", "ticks": [{"index": 61, "liquidity_net": 10}]},
            {"venue": "v", "kind": "curve"},
        ],
    }  # fmt: skip
    with pytest.raises(ConfigError) as err:
        parse_snapshot(bad, "s.json")
    lines = str(err.value).splitlines()
    for expected in (
        "s.json: name:",
        "s.json: tokens[1].decimals:",
        "s.json: pools[0].token1:",
        "s.json: pools[0].reserve0:",
        "s.json: pools[1].tick: 7 is not the tick of sqrt_price_x96 (0)",
        "s.json: pools[1].ticks[0].index: 61 is not a multiple of the tick spacing 60",
        "s.json: pools[1].ticks: liquidity nets must sum to 0",
        "s.json: pools[2].kind:",
    ):
        assert any(line.startswith(expected) for line in lines), (expected, lines)


def test_unreadable_and_invalid_json_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the snapshot"):
        load_snapshot(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",\n "tokens": [}\n')
    with pytest.raises(ConfigError, match=r"broken.json:2: not valid JSON"):
        load_snapshot(broken)
    assert json.loads(SNAPSHOTS[0].read_text())["name"]
