"""``pulsearb validate --pools`` against pools it did not deploy: genuine Uniswap V2 pairs and V3 pools made here
with ops/simulator/chain/uniswap.py (no deployment file names them), a price gap made with a plain swap, then dry runs
that must predict eth_call exactly, live trades whose realized profit must equal the prediction to the wei, and every
lying input (wrong chain, an account, a token, the executor, an imitation pair, a copy of the genuine code) ending
in one line with nothing sent."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from math import isqrt
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from flows.amm.cycle import optimal_input
from flows.amm.v2 import Hop, get_amount_out
from flows.amm.v3.tick_math import MAX_TICK, MIN_TICK
from flows.execution.signer import Signer
from ops.simulator.chain.deploy import Deployment
from ops.simulator.chain.tx import TxSender, contract
from ops.simulator.chain.uniswap import (
    TokenSpec,
    create_v2_pair,
    create_v3_pool,
    deploy_minter,
    deploy_tokens,
    deploy_v2_factory,
    deploy_v3_factory,
    genuine,
    load_genuine,
    read_v2_reserves,
    seed_v2_pair,
    seed_v3_pool,
)
from ops.simulator.stack import process
from ops.simulator.stack.chain import chain_spec
from ops.validation.steps import POOL_STEPS
from tests.validation.conftest import Node, new_key, run_validate

pytestmark = pytest.mark.integration

NAMES = [s.name for s in POOL_STEPS]
USDC, WETH, WBTC = 10**6, 10**18, 10**8
POOL_USDC, POOL_WETH = 2_000_000 * USDC, 1_000 * WETH


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@dataclass
class Market:
    """Genuine pools made by a market maker's key; an executor owned by another key, in a deployment file that
    names no pool."""

    node: Node
    tx: TxSender
    minter: str
    tokens: dict[str, str]
    owner_key: str
    executor: str
    executor_file: Path

    @property
    def w3(self) -> Web3:
        return self.node.w3

    @property
    def owner(self) -> str:
        return Signer.from_key(self.owner_key).address

    def v2_pair(self, a: str, b: str, reserve_a: int, reserve_b: int) -> str:
        """A genuine pair of tokens ``a``/``b`` (symbols) on a fresh genuine UniswapV2Factory."""
        factory = deploy_v2_factory(self.tx)
        pair, sent = create_v2_pair(self.tx, factory, self.tokens[a], self.tokens[b])
        self.tx.wait([sent])
        t0, t1 = (a, b) if int(self.tokens[a], 16) < int(self.tokens[b], 16) else (b, a)
        r0, r1 = (reserve_a, reserve_b) if t0 == a else (reserve_b, reserve_a)
        self.tx.wait(seed_v2_pair(self.tx, pair, self.tokens[t0], self.tokens[t1], r0, r1))
        return pair

    def v3_pool(self, a: str, b: str, reserve_a: int, reserve_b: int, fee: int = 500) -> str:
        """A genuine pool on a fresh genuine UniswapV3Factory at the price ``reserve_b / reserve_a``, with one
        full-range position as deep as a V2 pair of those reserves."""
        factory = deploy_v3_factory(self.tx)
        t0, t1 = (a, b) if int(self.tokens[a], 16) < int(self.tokens[b], 16) else (b, a)
        r0, r1 = (reserve_a, reserve_b) if t0 == a else (reserve_b, reserve_a)
        pool, sent = create_v3_pool(self.tx, factory, self.tokens[t0], self.tokens[t1], fee, isqrt(r1 * 2**192 // r0))
        self.tx.wait(sent)
        spacing = {500: 10, 3000: 60}[fee]
        lower, upper = -(-MIN_TICK // spacing) * spacing, MAX_TICK // spacing * spacing
        liquidity = isqrt(r0 * r1)
        self.tx.wait(seed_v3_pool(self.tx, self.minter, pool, {lower: liquidity, upper: -liquidity}))
        return pool

    def swap_v2(self, pair: str, symbol: str, amount: int) -> None:
        """Sell ``amount`` of a token into a genuine pair (transfer, then ``swap`` for the formula's output)."""
        token_in = self.tokens[symbol]
        p = genuine(self.w3, "UniswapV2Pair", pair)
        zero_for_one = p.functions.token0().call().lower() == token_in
        r0, r1 = read_v2_reserves(self.w3, pair)
        out = get_amount_out(amount, *((r0, r1) if zero_for_one else (r1, r0)), 30)
        self.tx.wait([self.tx.call(contract(self.w3, "TestToken", token_in), "transfer", p.address, amount)])
        self.tx.wait(
            [
                self.tx.call(
                    p, "swap", 0 if zero_for_one else out, out if zero_for_one else 0, self.tx.signer.address, b""
                )
            ]
        )

    def balance(self, symbol: str, who: str) -> int:
        token = contract(self.w3, "TestToken", self.tokens[symbol])
        return int(token.functions.balanceOf(Web3.to_checksum_address(who)).call())

    def validate(self, capsys, monkeypatch, *argv: str, key: str | None = None):
        """``pulsearb validate --rpc URL ARGV`` with the executor owner's key."""
        return run_validate(capsys, monkeypatch, key or self.owner_key, "--rpc", self.node.url, *argv)


@pytest.fixture(scope="module")
def market(node: Node, tmp_path_factory: pytest.TempPathFactory) -> Market:
    maker = Signer.from_key(new_key())
    node.fund(maker.address, 10_000 * 10**18)
    tx = TxSender(node.w3, maker)
    specs = [
        TokenSpec("USDC", "USD Coin", 6),
        TokenSpec("WETH", "Wrapped Ether", 18),
        TokenSpec("WBTC", "Wrapped BTC", 8),
    ]
    tokens = deploy_tokens(tx, specs)
    minter = deploy_minter(tx)
    sent = []
    for address in tokens.values():
        token = contract(node.w3, "TestToken", address)
        sent += [
            tx.call(token, "mint", maker.address, 10**36),
            tx.call(token, "mint", Web3.to_checksum_address(minter), 10**36),
        ]
    tx.wait(sent)
    owner_key = new_key()
    owner = Signer.from_key(owner_key)
    node.fund(owner.address)
    owner_tx = TxSender(node.w3, owner)
    executor, s = owner_tx.deploy("ArbExecutor")
    owner_tx.wait([s])
    path = tmp_path_factory.mktemp("executor") / "executor.json"
    Deployment(node.w3.eth.chain_id, owner.address.lower(), executor.lower(), "", 0, "", {}, {}).write(path)
    return Market(node, tx, minter, tokens, owner_key, executor.lower(), path)


def test_dry_run_on_foreign_v2_pairs_predicts_eth_call_exactly(market: Market, capsys, monkeypatch) -> None:
    a = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    b = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    market.swap_v2(a, "USDC", 40_000 * USDC)  # WETH is now dearer on a: buy it on b, sell it on a
    nonce, block = market.node.nonce(market.owner), market.w3.eth.block_number
    run = market.validate(
        capsys, monkeypatch, "--pools", f"{a},{b}", "--deployment", str(market.executor_file), "--format", "json"
    )
    assert run.code == 0, run.err
    report = run.json()
    assert report["mode"] == "pools" and report["dry_run_only"] is True
    assert [s["name"] for s in report["steps"]] == NAMES
    assert run.steps() == dict.fromkeys(NAMES[:6], "PASS") | {"live": "SKIP", "cleanup": "SKIP"}
    figures = report["figures"]
    # the prediction is the closed-form optimum of the two genuine pairs at the block read
    usdc = market.tokens["USDC"]
    block_read = figures["block_read"]
    ra, rb = read_v2_reserves(market.w3, a, block_read), read_v2_reserves(market.w3, b, block_read)
    usdc_is_0 = int(usdc, 16) < int(market.tokens["WETH"], 16)
    (a_usdc, a_weth), (b_usdc, b_weth) = [(r[0], r[1]) if usdc_is_0 else (r[1], r[0]) for r in (ra, rb)]
    expected = optimal_input([Hop(b_usdc, b_weth, 30), Hop(a_weth, a_usdc, 30)])
    assert figures["token_in"] == usdc and figures["pools"] == [a, b]
    assert (figures["amount_in"], figures["predicted_profit"]) == (expected.amount_in, expected.profit)
    assert figures["simulated_profit"] == figures["predicted_profit"] > 0
    detect = next(s for s in report["steps"] if s["name"] == "detect")
    assert detect["data"]["route"] == [b, a] and detect["data"]["profitable"] is True
    pools = next(s for s in report["steps"] if s["name"] == "pools")
    assert [p["kind"] for p in pools["data"]["pools"]] == ["v2", "v2"]
    # a dry run sends nothing
    assert market.node.nonce(market.owner) == nonce and market.w3.eth.block_number == block


def test_mixed_v2_v3_live_realizes_the_prediction_to_the_wei(market: Market, capsys, monkeypatch) -> None:
    a = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    c = market.v3_pool("USDC", "WETH", POOL_USDC, POOL_WETH)
    executor = market.executor
    for token_in, first_kind in (("USDC", "v3"), ("WETH", "v2")):  # the flash swap starts on each kind once
        market.swap_v2(a, "USDC", 40_000 * USDC)
        owner_before = market.balance(token_in, market.owner)
        executor_before = market.balance(token_in, executor)
        nonce = market.node.nonce(market.owner)
        argv = ["--pools", f"{a},{c}", "--deployment", str(market.executor_file), "--live", "--format", "json"]
        run = market.validate(capsys, monkeypatch, *argv, "--token-in", market.tokens[token_in])
        assert run.code == 0, run.err
        assert set(run.steps().values()) == {"PASS"}
        report = run.json()
        figures = report["figures"]
        assert figures["realized_profit"] == figures["predicted_profit"] == figures["simulated_profit"] > 0
        assert figures["realized_amount_out"] == figures["predicted_amount_out"]
        detect = next(s for s in report["steps"] if s["name"] == "detect")
        route_kinds = ["v3" if p == c else "v2" for p in detect["data"]["route"]]
        assert route_kinds[0] == first_kind
        receipt = market.w3.eth.get_transaction_receipt(figures["tx_hash"])
        assert receipt["status"] == 1 and receipt["gasUsed"] == figures["gas_used"]
        # flash swap: the executor lent nothing and ends where it began; the owner got exactly the profit
        assert market.balance(token_in, executor) == executor_before
        assert market.balance(token_in, market.owner) - owner_before == figures["realized_profit"]
        assert market.node.nonce(market.owner) == nonce + 2  # the trade and the withdrawal


def test_triangle_of_v2_and_v3_pools(market: Market, capsys, monkeypatch) -> None:
    usdc_weth = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    weth_wbtc = market.v2_pair("WETH", "WBTC", POOL_WETH, 50 * WBTC)
    wbtc_usdc = market.v3_pool("WBTC", "USDC", 50 * WBTC, POOL_USDC, fee=3000)
    market.swap_v2(usdc_weth, "USDC", 60_000 * USDC)
    pools = f"{usdc_weth},{weth_wbtc},{wbtc_usdc}"
    argv = ["--pools", pools, "--deployment", str(market.executor_file), "--token-in", market.tokens["USDC"]]
    run = market.validate(capsys, monkeypatch, *argv, "--format", "json")
    assert run.code == 0, run.err
    figures = run.json()["figures"]
    assert figures["simulated_profit"] == figures["predicted_profit"] > 0
    run = market.validate(capsys, monkeypatch, *argv, "--live", "--format", "json")
    assert run.code == 0, run.err
    figures = run.json()["figures"]
    assert figures["realized_profit"] == figures["predicted_profit"] > 0
    path = next(s for s in run.json()["steps"] if s["name"] == "detect")["data"]["path"]
    assert len(path) == 4 and path[0] == path[-1] == market.tokens["USDC"]


def test_pools_in_line_pass_the_mechanics_and_refuse_to_trade(market: Market, capsys, monkeypatch) -> None:
    a = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    c = market.v3_pool("USDC", "WETH", POOL_USDC, POOL_WETH)
    nonce = market.node.nonce(market.owner)
    argv = ["--pools", f"{c},{a}", "--deployment", str(market.executor_file)]
    run = market.validate(capsys, monkeypatch, *argv)
    assert run.code == 0, run.out + run.err
    assert "no profitable cycle at block" in run.out and "every input loses" in run.out
    assert "reverts PROFIT_TOO_LOW, as predicted for a cycle that loses" in run.out
    run = market.validate(capsys, monkeypatch, *argv, "--format", "json")
    figures = run.json()["figures"]
    assert figures["predicted_profit"] < 0 and figures["amount_in"] > 0 and figures["optimal_profit"] == 0
    assert figures["simulated_revert"] == "PROFIT_TOO_LOW"
    run = market.validate(capsys, monkeypatch, *argv, "--live")
    assert run.code == 1
    assert one_line(run.err).startswith("pulsearb validate: FAIL at live: nothing to trade live: at block ")
    assert market.node.nonce(market.owner) == nonce


def test_deploy_executor_alone_and_reuse_its_file(market: Market, capsys, monkeypatch, tmp_path) -> None:
    a = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    b = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    market.swap_v2(b, "WETH", 20 * WETH)
    key = new_key()
    owner = Signer.from_key(key).address
    market.node.fund(owner)
    out = tmp_path / "alone.json"
    run = market.validate(capsys, monkeypatch, "--pools", f"{a},{b}", "--deploy-executor", "--out", str(out), key=key)
    assert run.code == 0, run.out + run.err
    assert market.node.nonce(owner) == 1  # the executor's creation, nothing else
    written = Deployment.read(out)
    assert written.executor != market.executor and written.pools == [] and written.deployer == owner.lower()
    assert market.w3.eth.get_code(Web3.to_checksum_address(written.executor))
    run = market.validate(capsys, monkeypatch, "--pools", f"{a},{b}", "--deployment", str(out), "--live", key=key)
    assert run.code == 0, run.out + run.err
    assert "= predicted, to the wei" in run.out
    run = market.validate(capsys, monkeypatch, "--deployment", str(out), key=key)  # no pools: not for attach mode
    assert run.code == 1
    assert "names an executor and no pools (as --deploy-executor writes): use it with --pools" in one_line(run.err)


@pytest.fixture(scope="module")
def impostors(market: Market) -> dict[str, str]:
    """Addresses that are not genuine pools, each made the way a real one would be."""
    tx, w3, t = market.tx, market.w3, market.tokens
    # PulsePair: Uniswap V2's interface and math, other code (contracts/artifacts), from its own factory
    factory, s = tx.deploy("PulseFactory")
    tx.wait([s])
    pulse_factory = contract(w3, "PulseFactory", factory)
    tx.wait(
        [
            tx.call(
                pulse_factory,
                "createPair",
                Web3.to_checksum_address(t["USDC"]),
                Web3.to_checksum_address(t["WETH"]),
                30,
                gas=6_000_000,
            )
        ]
    )
    pulse_pair = (
        pulse_factory.functions.getPair(Web3.to_checksum_address(t["USDC"]), Web3.to_checksum_address(t["WETH"]))
        .call()
        .lower()
    )
    # the genuine UniswapV2Pair's code, deployed outside any factory and initialized by its deployer
    copy, s = tx.deploy_artifact(load_genuine("UniswapV2Pair"))
    tx.wait([s])
    tx.wait(
        [
            tx.call(
                genuine(w3, "UniswapV2Pair", copy),
                "initialize",
                Web3.to_checksum_address(t["USDC"]),
                Web3.to_checksum_address(t["WETH"]),
            )
        ]
    )
    return {
        "account": Account.create().address.lower(),
        "token": t["USDC"],
        "executor": market.executor,
        "pulse_pair": pulse_pair,
        "copy": copy.lower(),
    }


@pytest.mark.parametrize(
    ("what", "says"),
    [
        ("account", "has no code on chain 31337: an account or nothing, not a pool; fix --pools"),
        ("token", "is an ERC-20 token (USDC), not a pool: it does not answer token0(); fix --pools"),
        ("executor", "does not answer token0()/token1(): not a Uniswap V2 pair or V3 pool (a contract of"),
        (
            "pulse_pair",
            "answers token0()/token1()/getReserves() like a Uniswap V2 pair, but it is not the genuine UniswapV2Pair "
            "of @uniswap/v2-core@1.0.1 (code is",
        ),
        ("copy", "runs the genuine UniswapV2Pair of @uniswap/v2-core@1.0.1, but its factory() 0x"),
    ],
)
def test_a_pool_address_that_is_not_a_genuine_pool(
    market: Market, impostors: dict[str, str], capsys, monkeypatch, what: str, says: str
) -> None:
    good = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    nonce = market.node.nonce(market.owner)
    bad = impostors[what]
    run = market.validate(
        capsys, monkeypatch, "--pools", f"{good},{bad}", "--deployment", str(market.executor_file), "--live"
    )
    assert run.code == 1
    line = one_line(run.err)
    assert line.startswith(f"pulsearb validate: FAIL at pools: {bad} ") and says in line, line
    assert market.node.nonce(market.owner) == nonce
    if what == "copy":
        assert line.endswith("has no code: a copy deployed outside a Uniswap factory")


def test_pools_from_another_factory_or_of_another_pair(market: Market, capsys, monkeypatch) -> None:
    a = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    b = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    other = market.v2_pair("WETH", "WBTC", POOL_WETH, 50 * WBTC)
    factory_b = genuine(market.w3, "UniswapV2Pair", b).functions.factory().call().lower()
    nonce = market.node.nonce(market.owner)
    base = ["--deployment", str(market.executor_file), "--live"]
    run = market.validate(capsys, monkeypatch, "--pools", f"{a},{b}", "--factory", factory_b, *base)
    assert run.code == 1
    assert f"FAIL at pools: {a} was created by factory 0x" in one_line(run.err)
    assert f"which is not one of --factory {factory_b}" in run.err
    run = market.validate(capsys, monkeypatch, "--pools", f"{a},{other}", *base)
    assert run.code == 1
    assert "the two pools do not hold the same token pair, so they make no cycle" in one_line(run.err)
    run = market.validate(capsys, monkeypatch, "--pools", f"{a},{b}", "--token-in", market.tokens["WBTC"], *base)
    assert run.code == 1
    assert f"--token-in {market.tokens['WBTC']} is not a token of the cycle" in one_line(run.err)
    assert market.node.nonce(market.owner) == nonce


def test_wrong_chain_is_refused_before_anything(market: Market, capsys, monkeypatch, tmp_path) -> None:
    a = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    b = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    nonce = market.node.nonce(market.owner)
    pools = ["--pools", f"{a},{b}", "--live"]
    run = market.validate(
        capsys, monkeypatch, *pools, "--deployment", str(market.executor_file), "--chain-id", "11155111"
    )
    assert run.code == 1
    assert (
        "FAIL at chain: deployment file" in one_line(run.err)
        and "is for chain 31337, but --chain-id is 11155111" in run.err
    )
    run = market.validate(capsys, monkeypatch, *pools, "--deploy-executor", "--chain-id", "11155111")
    assert run.code == 1
    assert "FAIL at chain: wrong chain: the node at http://127.0.0.1:" in one_line(run.err)
    assert "is chain 31337, expected 11155111 (--chain-id)" in run.err
    mainnet = tmp_path / "mainnet.json"
    mainnet.write_text(json.dumps({**json.loads(market.executor_file.read_text()), "chain_id": 1}))
    run = market.validate(capsys, monkeypatch, *pools, "--deployment", str(mainnet))
    assert run.code == 1
    assert "is chain 31337, expected 1 (the deployment file" in one_line(run.err)
    assert market.node.nonce(market.owner) == nonce


def test_bad_pools_options_are_one_line(market: Market, capsys, monkeypatch) -> None:
    monkeypatch.delenv("PULSEARB_DEPLOYMENT", raising=False)
    a = "0x" + "11" * 20
    cases = [
        (["--pools", f"{a},0x1234"], "--pools: '0x1234' is not an address (0x and 40 hex digits)"),
        (["--pools", a, "--deploy-executor"], "--pools takes the 2 or 3 pools of one cycle, got 1"),
        (["--pools", f"{a},{a}", "--deploy-executor"], "--pools names a pool twice"),
        (["--pools", f"{a},{'0x' + '22' * 20}"], "--pools needs exactly one executor"),
        (["--deploy", "--live"], "--live, --deploy-executor, --factory, --token-in and --capital go with --pools"),
        (
            ["--pools", f"{a},{'0x' + '22' * 20}", "--deploy-executor", "--live", "--dry-run-only"],
            "give at most one of --live and --dry-run-only",
        ),
    ]
    for argv, says in cases:
        run = market.validate(capsys, monkeypatch, *argv)
        assert run.code == 2, argv
        assert says in one_line(run.err), run.err


def test_executor_missing_foreign_or_not_the_keys(market: Market, capsys, monkeypatch, tmp_path) -> None:
    a = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    b = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    market.swap_v2(a, "USDC", 40_000 * USDC)
    data = json.loads(market.executor_file.read_text())
    cases = [
        (Account.create().address.lower(), "FAIL at executor: no contract at the executor address"),
        (a, "FAIL at executor: the executor " + a + " is not contracts/artifacts/ArbExecutor.json: code is"),
    ]
    nonce = market.node.nonce(market.owner)
    for executor, says in cases:
        forged = tmp_path / "forged.json"
        forged.write_text(json.dumps({**data, "executor": executor}))
        run = market.validate(capsys, monkeypatch, "--pools", f"{a},{b}", "--deployment", str(forged), "--live")
        assert run.code == 1
        assert says in one_line(run.err), run.err
    stranger = new_key()
    market.node.fund(Signer.from_key(stranger).address)
    argv = ("--pools", f"{a},{b}", "--deployment", str(market.executor_file))
    run = market.validate(capsys, monkeypatch, *argv, "--live", key=stranger)
    assert run.code == 1
    assert f"is owned by {market.owner.lower()}, not by the key's address" in one_line(run.err)
    # capital own: the executor must hold the input (it holds none of the pools' tokens)
    run = market.validate(capsys, monkeypatch, *argv, "--capital", "own")
    assert run.code == 1
    assert "FAIL at detect: the executor holds 0 USDC, the trade needs" in one_line(run.err)
    assert "or use --capital flash_swap" in run.err
    assert market.node.nonce(market.owner) == nonce


def test_capital_own_trades_the_executors_balance(market: Market, capsys, monkeypatch) -> None:
    a = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    c = market.v3_pool("USDC", "WETH", POOL_USDC, POOL_WETH)
    market.swap_v2(a, "USDC", 40_000 * USDC)
    usdc = contract(market.w3, "TestToken", market.tokens["USDC"])
    market.tx.wait([market.tx.call(usdc, "transfer", Web3.to_checksum_address(market.executor), 100_000 * USDC)])
    before = market.balance("USDC", market.executor)
    argv = ["--pools", f"{a},{c}", "--deployment", str(market.executor_file), "--capital", "own", "--live"]
    run = market.validate(capsys, monkeypatch, *argv, "--format", "json")
    assert run.code == 0, run.err
    figures = run.json()["figures"]
    assert figures["realized_profit"] == figures["predicted_profit"] > 0
    assert "eth_call of execute: profit" in run.err  # the own-capital entry point
    assert market.balance("USDC", market.executor) == before  # the profit was withdrawn, the capital stays


def test_pools_on_a_fork_leave_the_forked_chain_untouched(market: Market, capsys, monkeypatch, tmp_path) -> None:
    """``anvil --fork-url`` of the node holding the pools (as docs/validation.md does with a mainnet endpoint)."""
    a = market.v2_pair("USDC", "WETH", POOL_USDC, POOL_WETH)
    c = market.v3_pool("USDC", "WETH", POOL_USDC, POOL_WETH)
    market.swap_v2(a, "USDC", 40_000 * USDC)
    spec = chain_spec(process.free_port())
    argv = [*spec.argv, "--fork-url", market.node.url]
    pid = process.start(dataclasses.replace(spec, argv=argv), tmp_path)
    try:
        fork_url = f"http://127.0.0.1:{argv[argv.index('--port') + 1]}"
        block, nonce = market.w3.eth.block_number, market.node.nonce(market.owner)
        run = run_validate(
            capsys,
            monkeypatch,
            market.owner_key,
            "--rpc",
            fork_url,
            "--pools",
            f"{a},{c}",
            "--deployment",
            str(market.executor_file),
            "--live",
            "--format",
            "json",
        )
        assert run.code == 0, run.err
        figures = run.json()["figures"]
        assert figures["realized_profit"] == figures["predicted_profit"] > 0
        assert market.w3.eth.block_number == block and market.node.nonce(market.owner) == nonce
    finally:
        process.stop_pid(pid)
