"""An in-process chain (eth-tester) with the local market deployed by ops.chain.deploy, reverted after each test.

The executor is owned by a fresh key (the test's signing key); a second key trades to move prices. Opportunities
are found by the real strategy (``cross_dex.evaluate``) on the pairs' on-chain reserves, so what the executor is
asked to do is exactly what the detector would emit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from web3 import EthereumTesterProvider, Web3

from flows.execution.chain import Chain
from flows.execution.config import ExecutionConfig
from flows.execution.executor import Executor
from flows.execution.ledger import Ledger
from flows.execution.signer import Signer
from flows.opportunity import Opportunity
from flows.pools import PoolState
from flows.strategies import cross_dex
from flows.strategies.params import StrategyParams
from ops.chain.deploy import Deployment, deploy
from ops.chain.market import Trader
from tests.risk.factories import make_limits

USDC_UNIT = 10**6


@dataclass
class Env:
    """The deployed market and the keys."""

    w3: Web3
    deployment: Deployment
    key: str
    signer: Signer
    trader: Trader

    @property
    def usdc(self) -> str:
        return self.deployment.tokens["USDC"].address

    def states(self, sequence: int = 1) -> list[PoolState]:
        """Current on-chain reserves of both pairs as pool states (fresh timestamps)."""
        now = time.time_ns()
        block = self.w3.eth.block_number
        out = []
        for pair in self.deployment.pairs:
            r0, r1 = self.trader.reserves(pair)
            out.append(
                PoolState(
                    pair.address,
                    pair.venue,
                    pair.token0,
                    pair.token1,
                    pair.token0_decimals,
                    pair.token1_decimals,
                    r0,
                    r1,
                    pair.fee_bps,
                    block,
                    4,
                    sequence,
                    now,
                )
            )
        return out

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
            "venue_fees_bps": {p.venue: p.fee_bps for p in self.deployment.pairs},
        }
        return StrategyParams(**(base | over))

    def dislocate(self, usdc: int = 50_000, venue: int = 300) -> None:
        """Buy WETH with ``usdc`` on one venue: its WETH gets dearer than on the other."""
        self.trader.swap(self.deployment.pair(venue), self.usdc, usdc * USDC_UNIT)

    def opportunity(self, sequence: int = 1, **params) -> Opportunity:
        """The strategy's opportunity on the current reserves (exactly one expected)."""
        found = cross_dex.evaluate(self.states(sequence), self.params(**params), time.time_ns())
        assert len(found) == 1, found
        return found[0]

    def balance(self, token: str, who: str) -> int:
        from ops.chain.tx import contract

        return contract(self.w3, "TestToken", token).functions.balanceOf(Web3.to_checksum_address(who)).call()


@pytest.fixture(scope="session")
def _env() -> Env:
    w3 = Web3(EthereumTesterProvider())
    key = "0x" + Account.create().key.hex().removeprefix("0x")
    signer = Signer.from_key(key)
    trader_signer = Signer.from_key(Account.create().key.hex())
    for who in (signer.address, trader_signer.address):
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": who, "value": 1_000 * 10**18})
    deployment = deploy(w3, signer, trader=trader_signer.address)
    return Env(w3, deployment, key, signer, Trader(w3, trader_signer, deployment))


@pytest.fixture
def env(_env: Env) -> Iterator[Env]:
    """The deployment, reverted to its initial state after the test."""
    snapshot = _env.w3.testing.snapshot()
    _env.trader.tx._nonce = _env.w3.eth.get_transaction_count(_env.trader.address, "pending")
    try:
        yield _env
    finally:
        _env.w3.testing.revert(snapshot)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger(tmp_path / "ledger.sqlite")
    try:
        yield led
    finally:
        led.close()


def make_executor(env: Env, ledger: Ledger, kill_switch=lambda: False, **config) -> Executor:
    """A checked executor on the eth-tester chain."""
    cfg = ExecutionConfig(
        executor=env.deployment.executor, chain_id=env.deployment.chain_id, receipt_poll_ms=1, **config
    )
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
