"""The snapshot deployer (ops/simulator/chain/snapshot_deploy.py) on anvil: every committed snapshot is rebuilt on
genuine Uniswap contracts with exactly the file's state, read back call by call; what genuine contracts cannot hold is
refused, one line per problem, before anything is sent."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from eth_account import Account

from base.errors import ConfigError
from flows.amm.v3 import V3PoolState
from flows.execution.signer import Signer
from ops.simulator.chain.snapshot_deploy import (
    CUSTOM_VENUES,
    SnapshotDeployment,
    check_deployable,
    deploy_snapshot,
    venue_ids,
    verify_snapshot,
)
from ops.simulator.chain.tx import TxSender, contract
from ops.simulator.chain.uniswap import genuine, quote_exact_input, read_v2_reserves, read_v3_slot
from ops.simulator.market.snapshot import load_snapshot, parse_snapshot
from ops.simulator.market.snapshots import build

SNAPSHOTS = sorted(Path(build.HERE).glob("*.json"))
V3_FILE = Path(build.HERE) / "wbtc_weth_v3_vs_v2.json"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def signer(anvil) -> Signer:
    signer = Signer.from_key("0x" + Account.create().key.hex().removeprefix("0x"))
    anvil.fund(signer.address)
    return signer


@pytest.fixture(scope="module")
def deployed(anvil, signer: Signer) -> dict[str, SnapshotDeployment]:
    """Every committed snapshot, deployed one after the other on one chain."""
    return {p.stem: deploy_snapshot(anvil.w3, signer, load_snapshot(p)) for p in SNAPSHOTS}


@pytest.mark.parametrize("name", [p.stem for p in SNAPSHOTS])
def test_every_pool_holds_exactly_the_files_state(anvil, deployed: dict[str, SnapshotDeployment], name: str) -> None:
    d = deployed[name]
    w3 = anvil.w3
    cs = w3.to_checksum_address
    for pool, info in zip(d.snapshot.pools, d.pools, strict=True):
        # token0/token1 as the file says: the deployed addresses sort in the file's order
        assert (info.token0, info.token1) == (d.address(pool.token0), d.address(pool.token1))
        assert int(info.token0, 16) < int(info.token1, 16)
        if pool.is_v3:
            p = genuine(w3, "UniswapV3Pool", info.address)
            assert p.functions.fee().call() == pool.fee
            slot = read_v3_slot(w3, info.address)
            assert (slot.sqrt_price_x96, slot.tick, slot.liquidity) == (pool.sqrt_price_x96, pool.tick, pool.liquidity)
            nets = {t: p.functions.ticks(t).call()[1] for t in pool.ticks}
            assert nets == dict(pool.ticks)
            factory = genuine(w3, "UniswapV3Factory", d.deployment.factories[d.venues[pool.venue]])
            got = factory.functions.getPool(
                w3.to_checksum_address(info.token0), w3.to_checksum_address(info.token1), pool.fee
            )
            assert got.call().lower() == info.address
        else:
            assert read_v2_reserves(w3, info.address) == (pool.reserve0, pool.reserve1)
            factory = genuine(w3, "UniswapV2Factory", d.deployment.factories[d.venues[pool.venue]])
            got = factory.functions.getPair(cs(info.token0), cs(info.token1))
            assert got.call().lower() == info.address
    assert verify_snapshot(w3, d) == []
    # tokens were minted exactly as the pools needed: neither the deployer nor the V3 minter keeps any
    holders = [d.deployment.deployer, *([d.minter] if d.minter else [])]
    for token in d.deployment.tokens.values():
        t = contract(w3, "TestToken", token.address)
        assert [t.functions.balanceOf(w3.to_checksum_address(h)).call() for h in holders] == [0] * len(holders)
    assert w3.eth.get_code(w3.to_checksum_address(d.deployment.executor))


def test_v3_positions_were_paid_exactly_and_the_quoter_prices_like_pulsearb(anvil, deployed) -> None:
    d = deployed[V3_FILE.stem]
    w3 = anvil.w3
    [pool] = [p for p in d.snapshot.pools if p.is_v3]
    [info] = [p for p in d.pools if p.kind == "v3"]
    state = V3PoolState(
        sqrt_price_x96=pool.sqrt_price_x96,
        tick=pool.tick,
        liquidity=pool.liquidity,
        fee=pool.fee,
        tick_spacing=pool.tick_spacing,
        ticks=dict(pool.ticks),
    )
    for amount in (10**6, 5 * 10**8, 3 * 10**10):  # WBTC in, up to 300 WBTC (crosses initialized ticks)
        ours, _ = state.swap_exact_in(amount, True)
        assert quote_exact_input(w3, d.deployment.quoter, info.token0, info.token1, pool.fee, amount) == ours


def test_a_pool_that_moved_is_named_by_the_verification(anvil, signer: Signer) -> None:
    """The read-back can fail: after a real swap on one pair, verify_snapshot names that pool and only it."""
    snap = load_snapshot(Path(build.HERE) / "eth_12483198_dai_weth.json")
    d = deploy_snapshot(anvil.w3, signer, snap)
    tx = TxSender(anvil.w3, signer)
    pair = d.pools[0]
    tx.wait(
        [
            tx.call(
                contract(anvil.w3, "TestToken", pair.token0), "mint", anvil.w3.to_checksum_address(pair.address), 10**18
            )
        ]
    )
    tx.wait([tx.call(genuine(anvil.w3, "UniswapV2Pair", pair.address), "sync")])
    differences = verify_snapshot(anvil.w3, d)
    assert len(differences) == 1 and differences[0].startswith("pools[0] (sushiswap DAI/WETH at ")


def test_venue_names_become_venue_ids() -> None:
    snap = load_snapshot(Path(build.HERE) / "eth_11017338_xsp_xfi_weth.json")
    assert venue_ids(snap) == {"v2_fork": CUSTOM_VENUES}
    assert venue_ids(load_snapshot(V3_FILE)) == {"uniswap_v3": 301, "uniswap_v2": 300}
    assert venue_ids(load_snapshot(Path(build.HERE) / "eth_12483198_dai_weth.json")) == {
        "sushiswap": 302,
        "uniswap_v2": 300,
    }


def test_what_genuine_contracts_cannot_hold_is_refused_line_by_line() -> None:
    data = json.loads((Path(build.HERE) / "eth_12483198_dai_weth.json").read_text())
    bad = copy.deepcopy(data)
    bad["pools"][0]["fee_bps"] = 25  # a fork's fee: not a genuine pair
    bad["pools"][1]["venue"] = "sushiswap"  # the same pair twice on one factory
    v3 = json.loads(V3_FILE.read_text())["pools"][0] | {"venue": "sushiswap", "token0": "DAI", "token1": "WETH"}
    v3["sqrt_price_x96"], v3["tick"], v3["liquidity"], v3["ticks"] = str(2**96), 0, "0", []
    bad["pools"].append(v3)  # a V3 pool on a V2 venue
    bad["pools"].append(dict(data["pools"][0], token0="WETH", token1="DAI", venue="other"))  # WETH before DAI too
    bad["expected"]["profit_token"] = "USDC"
    with pytest.raises(ConfigError) as err:
        check_deployable(parse_snapshot(bad, "s.json"), "s.json")
    lines = str(err.value).splitlines()
    for start in (
        "s.json: pools[0].fee_bps: 25 bps cannot be a genuine UniswapV2Pair",
        "s.json: pools[1]: venue 'sushiswap' already has this pool's DAI/WETH pair (pools[0])",
        "s.json: pools[2].venue: 'sushiswap' already holds uniswap_v2 pools",
        "s.json: pools: the pools' token0/token1 orders contradict each other",
        "s.json: expected.profit_token: 'USDC' is not a symbol of tokens",
    ):
        assert sum(line.startswith(start) for line in lines) == 1, (start, lines)
    assert len(lines) == 5
    check_deployable(parse_snapshot(data))  # the committed file passes
