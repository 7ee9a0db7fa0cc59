"""The genuine Uniswap contracts from npm, deployed on anvil with an exact recorded state
(ops/simulator/chain/uniswap.py).

The strongest check of the V3 rebuild: the real WBTC/WETH 0.3 % pool (mainnet block 24,407,242, all 458
initialized ticks) is rebuilt on a genuine UniswapV3Pool, and the genuine QuoterV2 on it reproduces the 40 real
on-chain Quoter results recorded at that block, to the wei, as does pulsearb's own V3 math.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak

from flows.amm.v2 import get_amount_out
from flows.amm.v3 import load_state_file
from flows.execution.signer import Signer
from ops.simulator.chain.tx import TxSender, contract
from ops.simulator.chain.uniswap import (
    V2_PAIR_INIT_CODE_HASH,
    V3_POOL_INIT_CODE_HASH,
    TokenSpec,
    active_liquidity,
    create_v2_pair,
    create_v3_pool,
    deploy_minter,
    deploy_periphery,
    deploy_tokens,
    deploy_v2_factory,
    deploy_v3_factory,
    genuine,
    load_genuine,
    positions_from_ticks,
    quote_exact_input,
    read_v2_reserves,
    read_v3_slot,
    read_v3_tick_net,
    seed_v2_pair,
    seed_v3_pool,
    token_order,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "ethereum"
STATE_FILE = DATA / "v3_wbtc_weth_state.json"
QUOTES = json.loads((DATA / "v3_wbtc_weth_quotes.json").read_text())
# Real V2 reserves: the Uniswap V2 WBTC/WETH pair at block 17,600,000 (degenbot fixture, tests/data/ethereum).
V2_STATE = json.loads((DATA / "degenbot" / "uniswap_v2_wbtc_weth_block_17600000.state.json").read_text())

pytestmark = pytest.mark.integration


def test_artifacts_are_mainnets_contracts() -> None:
    """The npm creation code hashes are mainnet's init code hashes (so pair/pool addresses and the periphery agree)."""
    assert "0x" + keccak(hexstr=load_genuine("UniswapV2Pair").bytecode).hex() == V2_PAIR_INIT_CODE_HASH
    assert "0x" + keccak(hexstr=load_genuine("UniswapV3Pool").bytecode).hex() == V3_POOL_INIT_CODE_HASH


def test_positions_telescope_to_the_tick_map() -> None:
    ticks = load_state_file(STATE_FILE).ticks
    nets: dict[int, int] = {}
    for p in positions_from_ticks(ticks):
        nets[p.tick_lower] = nets.get(p.tick_lower, 0) + p.liquidity
        nets[p.tick_upper] = nets.get(p.tick_upper, 0) - p.liquidity
    assert {t: n for t, n in nets.items() if n} == dict(ticks)
    with pytest.raises(ValueError, match="not 0"):
        positions_from_ticks({0: 5, 60: -4})
    with pytest.raises(ValueError, match="< 0"):
        positions_from_ticks({0: -5, 60: 5})


def test_token_order_follows_every_pool() -> None:
    assert token_order([("WBTC", "WETH"), ("USDC", "WETH")], ["WETH", "USDC", "WBTC"]) in (
        ["USDC", "WBTC", "WETH"],
        ["WBTC", "USDC", "WETH"],
    )
    with pytest.raises(Exception, match="contradict"):
        token_order([("A", "B"), ("B", "A")], ["A", "B"])


@pytest.fixture(scope="module")
def deployer(anvil) -> TxSender:
    key = "0x" + Account.create().key.hex().removeprefix("0x")
    signer = Signer.from_key(key)
    anvil.fund(signer.address)
    return TxSender(anvil.w3, signer)


def test_genuine_v2_pair_holds_exact_reserves_and_swaps_by_the_formula(anvil, deployer: TxSender) -> None:
    tx = deployer
    tokens = deploy_tokens(tx, [TokenSpec("WBTC", "Wrapped BTC", 8), TokenSpec("WETH", "Wrapped Ether", 18)])
    assert int(tokens["WBTC"], 16) < int(tokens["WETH"], 16)
    sent = [tx.call(contract(anvil.w3, "TestToken", tokens[s]), "mint", tx.signer.address, 10**40) for s in tokens]
    tx.wait(sent)
    factory = deploy_v2_factory(tx)
    pair, s = create_v2_pair(tx, factory, tokens["WETH"], tokens["WBTC"])
    tx.wait([s])
    assert (
        genuine(anvil.w3, "UniswapV2Factory", factory)
        .functions.getPair(anvil.w3.to_checksum_address(tokens["WBTC"]), anvil.w3.to_checksum_address(tokens["WETH"]))
        .call()
        .lower()
        == pair
    )
    r0, r1 = int(V2_STATE["reserves_token0"]), int(V2_STATE["reserves_token1"])
    tx.wait(seed_v2_pair(tx, pair, tokens["WBTC"], tokens["WETH"], r0, r1))
    assert read_v2_reserves(anvil.w3, pair) == (r0, r1)

    # A real swap through the genuine pair takes exactly get_amount_out(30 bps); one wei more fails the K check.
    amount_in = 3 * 10**8
    out = get_amount_out(amount_in, r0, r1, 30)
    p = genuine(anvil.w3, "UniswapV2Pair", pair)
    tx.wait([tx.call(contract(anvil.w3, "TestToken", tokens["WBTC"]), "transfer", p.address, amount_in)])
    with pytest.raises(Exception):  # noqa: B017 - web3 raises ContractLogicError on the K check ("UniswapV2: K")
        p.functions.swap(0, out + 1, tx.signer.address, b"").call({"from": tx.signer.address})
    tx.wait([tx.call(p, "swap", 0, out, tx.signer.address, b"")])
    assert read_v2_reserves(anvil.w3, pair) == (r0 + amount_in, r1 - out)


def test_genuine_v3_pool_rebuilt_from_a_real_state_quotes_like_mainnet(anvil, deployer: TxSender) -> None:
    tx = deployer
    state = load_state_file(STATE_FILE)
    tokens = deploy_tokens(tx, [TokenSpec("WBTC", "Wrapped BTC", 8), TokenSpec("WETH", "Wrapped Ether", 18)])
    minter = deploy_minter(tx)
    tx.wait(
        [
            tx.call(contract(anvil.w3, "TestToken", tokens[s]), "mint", anvil.w3.to_checksum_address(minter), 10**40)
            for s in tokens
        ]
    )
    factory = deploy_v3_factory(tx)
    quoter, _router = deploy_periphery(tx, factory, tokens["WETH"])
    pool, sent = create_v3_pool(tx, factory, tokens["WBTC"], tokens["WETH"], state.fee, state.sqrt_price_x96)
    tx.wait(sent)
    tx.wait(seed_v3_pool(tx, minter, pool, state.ticks))

    slot = read_v3_slot(anvil.w3, pool)
    assert (slot.sqrt_price_x96, slot.tick, slot.liquidity) == (state.sqrt_price_x96, state.tick, state.liquidity)
    assert active_liquidity(state.ticks, state.tick) == state.liquidity
    for tick in list(state.ticks)[:: max(1, len(state.ticks) // 40)]:
        assert read_v3_tick_net(anvil.w3, pool, tick) == state.ticks[tick]

    for q in QUOTES:
        token_in, token_out = (
            (tokens["WBTC"], tokens["WETH"]) if q["zero_for_one"] else (tokens["WETH"], tokens["WBTC"])
        )
        ours, _ = state.swap_exact_in(q["amount_in"], q["zero_for_one"])
        chain = quote_exact_input(anvil.w3, quoter, token_in, token_out, state.fee, q["amount_in"])
        assert chain == q["amount_out"] == ours, q
