"""The local market deployed by ops.simulator.chain.deploy on anvil (genuine Uniswap V2 and V3), reverted after each
test.

One anvil and one deployment per test module (with WBTC, so three-token cycles exist); every test starts from an
``evm_snapshot`` and is reverted to it. The executor is owned by a fresh key (the test's signing key); a second key
trades to move prices. Opportunities are found by the real strategies (``cross_dex.evaluate``) on the pools' states
read from the chain (:mod:`ops.simulator.chain.pools`: V2 reserves, V3 price, liquidity and tick map), so what the
executor is asked to do is exactly what the detector would emit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from flows.execution.chain import Chain
from flows.execution.config import ExecutionConfig
from flows.execution.executor import Executor
from flows.execution.ledger import Ledger
from flows.execution.signer import Signer
from flows.opportunity import Opportunity
from flows.pools import PoolState
from flows.strategies import cross_dex
from flows.strategies.params import StrategyParams
from ops.simulator.chain.deploy import Deployment, PairInfo, deploy
from ops.simulator.chain.market import Trader
from ops.simulator.chain.pools import read_states
from ops.simulator.chain.tx import contract
from tests.conftest import AnvilNode
from tests.risk.factories import make_limits

USDC_UNIT = 10**6
WBTC_PRICE_USDC = 60_000


@dataclass
class Env:
    """The deployed market, the keys and the node."""

    w3: Web3
    deployment: Deployment
    key: str
    signer: Signer
    trader: Trader
    node: AnvilNode | None = None

    @property
    def usdc(self) -> str:
        return self.deployment.tokens["USDC"].address

    def pool(self, venue: int, a: str = "USDC", b: str = "WETH") -> PairInfo:
        """The pool of two token symbols on a venue."""
        return self.deployment.pair(venue, a, b)

    def states(self, pools: Sequence[PairInfo] | None = None, sequence: int = 1) -> list[PoolState]:
        """The pools' states now (default: the two V2 USDC/WETH pairs)."""
        chosen = pools if pools is not None else [self.pool(300), self.pool(302)]
        return read_states(self.w3, chosen, sequence=sequence)

    def params(self, **over) -> StrategyParams:
        base = {
            "flow": "test",
            "chain_id": self.deployment.chain_id,
            "native_token": self.deployment.native_token,
            "base_tokens": (self.usdc,),
            "gas_units": 150_000,
            "gas_price_wei": 2 * 10**9,
            "max_age_ms": 10**9,
            "max_age_blocks": 10**9,
        }
        return StrategyParams(**(base | over))

    def dislocate(self, usdc: int = 50_000, venue: int = 300) -> None:
        """Buy WETH with ``usdc`` on one venue: its WETH gets dearer than on the others."""
        self.trader.swap(self.pool(venue), self.usdc, usdc * USDC_UNIT)

    def opportunity(self, sequence: int = 1, pools: Sequence[PairInfo] | None = None, **params) -> Opportunity:
        """The strategy's opportunity on the pools' current state (exactly one expected)."""
        found = cross_dex.evaluate(self.states(pools, sequence), self.params(**params), time.time_ns())
        assert len(found) == 1, found
        return found[0]

    def balance(self, token: str, who: str) -> int:
        return contract(self.w3, "TestToken", token).functions.balanceOf(Web3.to_checksum_address(who)).call()


def fresh_signer(node: AnvilNode) -> tuple[str, Signer]:
    """A new funded account: (its key, its signer)."""
    key = "0x" + Account.create().key.hex().removeprefix("0x")
    signer = Signer.from_key(key)
    node.fund(signer.address)
    return key, signer


@pytest.fixture(scope="module")
def _env(anvil: AnvilNode) -> Env:
    key, signer = fresh_signer(anvil)
    _, trader_signer = fresh_signer(anvil)
    deployment = deploy(anvil.w3, signer, trader=trader_signer.address, wbtc_price_usdc=WBTC_PRICE_USDC)
    return Env(anvil.w3, deployment, key, signer, Trader(anvil.w3, trader_signer, deployment), anvil)


@pytest.fixture
def env(_env: Env, anvil: AnvilNode) -> Iterator[Env]:
    """The deployment, reverted to its initial state after the test."""
    snapshot = anvil.rpc("evm_snapshot")
    _env.trader.tx._nonce = _env.w3.eth.get_transaction_count(_env.trader.address, "pending")
    _env.trader._approved.clear()  # approvals made during a test are reverted with it
    try:
        yield _env
    finally:
        anvil.rpc("evm_setAutomine", [True])
        anvil.rpc("evm_revert", [snapshot])


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger(tmp_path / "ledger.sqlite")
    try:
        yield led
    finally:
        led.close()


def make_executor(env: Env, ledger: Ledger, kill_switch=lambda: False, **config) -> Executor:
    """A checked executor on the anvil chain."""
    settings = {
        "executor": env.deployment.executor,
        "flash_lender": env.deployment.flash_lender,
        "chain_id": env.deployment.chain_id,
        "receipt_poll_ms": 1,
    }
    cfg = ExecutionConfig(**(settings | config))
    executor = Executor(
        Chain(env.w3),
        env.signer if cfg.mode == "live" else None,
        ledger,
        cfg,
        make_limits().max_gas_price_wei,
        kill_switch,
    )
    executor.check()
    return executor
