"""The local market does not wait for pulsearb, and a competing searcher can take a dislocation first.

On anvil with the genuine contracts (the execution tests' deployment, reverted after each test), with the real
executor (flows/execution) and the real market parts (ops.simulator.chain.drive, ops.simulator.chain.compete): what a
run of ``pulsearb up`` reports comes from these outcomes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from flows.execution.chain import Chain
from flows.execution.ledger import Ledger
from flows.execution.outcome import EXACT, MIN_PROFIT, Finished, classify
from flows.execution.records import execution_record
from ops.simulator.chain.compete import Competitor
from ops.simulator.chain.deploy import Deployment
from ops.simulator.chain.drive import MarketDriver
from ops.simulator.chain.market import Trader
from ops.simulator.chain.traders import fund
from schemas.serde import from_i256, from_u256
from tests.execution.conftest import WBTC_PRICE_USDC, Env, fresh_signer, make_executor

pytestmark = pytest.mark.integration

USDC = 10**6
FLAT = {"ETH_USD": [(0, 2_000.0), (10**10, 2_000.0)], "BTC_USD": [(0, float(WBTC_PRICE_USDC)), (10**10, 60_000.0)]}
"""Bars at the deployment's opening prices: the driver only keeps the pools there."""


class StuckChain(Chain):
    """The real chain adapter, except that a send waits until :attr:`release` is set (an executor stuck between
    its simulation and its broadcast, as a slow signer or a paused process would be)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.entered = threading.Event()
        self.release = threading.Event()

    def send(self, raw: bytes, tx_hash: str | None = None) -> str:
        self.entered.set()
        assert self.release.wait(60), "never released"
        return super().send(raw, tx_hash)


def _wait(predicate: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _final(executor, timeout_s: float = 60.0) -> Finished:
    done: list[Finished] = []
    _wait(lambda: bool(done.extend(executor.poll()) or done), "the execution's outcome", timeout_s)
    [finished] = done
    return finished


def _wbtc_only(d: Deployment) -> Deployment:
    """The deployment as the driver sees it here: only the WBTC pools (the USDC/WETH dislocation stays put)."""
    wbtc = d.tokens["WBTC"].address
    return replace(
        d,
        pairs=[p for p in d.pairs if wbtc in p.tokens],
        v3_pools=[p for p in d.v3_pools if wbtc in p.tokens],
    )


@pytest.fixture
def second_trader(env: Env) -> Trader:
    """Another funded trader (the env's trader is the market driver's)."""
    assert env.node is not None
    _, signer = fresh_signer(env.node)
    fund(env.w3, env.signer, env.deployment, [signer.address])
    return Trader(env.w3, signer, env.deployment)


@pytest.fixture
def driver(env: Env) -> Iterator[MarketDriver]:
    d = MarketDriver(env.w3, env.trader, _wbtc_only(env.deployment), FLAT, block_time_s=0.3, seed=3, lag_s=0.0)
    try:
        yield d.start()
    finally:
        d.stop()


def test_blocks_are_mined_while_an_executor_is_stuck_between_simulating_and_sending(
    env: Env, ledger: Ledger, driver: MarketDriver, second_trader: Trader
) -> None:
    # A dislocation on USDC/WETH (the driver keeps only the WBTC pools at their price), mined by the driver.
    second_trader.swap(env.pool(300), env.usdc, 50_000 * USDC)
    opp = env.opportunity()
    executor = make_executor(env, ledger)
    stuck = StuckChain(env.w3)
    executor.chain = stuck
    submitted: list[Finished | None] = []
    worker = threading.Thread(target=lambda: submitted.append(executor.submit(opp, stuck.head(), 0, {})))
    worker.start()
    try:
        assert stuck.entered.wait(30), "the executor did not get past its simulation"
        stuck_at = env.w3.eth.block_number
        _wait(lambda: env.w3.eth.block_number >= stuck_at + 3, "three blocks while the executor is stuck", 30)
    finally:
        stuck.release.set()
        worker.join(30)
    assert submitted == [None]  # sent: in flight
    finished = _final(executor)
    # Nothing touched its pools meanwhile: it is mined, blocks later, exactly as predicted.
    assert finished.status == "mined" and finished.block_number is not None
    assert finished.block_number > stuck_at + 3
    assert classify(finished.status, finished.revert_reason, opp.gross_profit, finished.realized_profit) == EXACT


def test_a_competitor_takes_the_dislocation_first_and_pulsearbs_trade_reverts_by_min_profit(
    env: Env, ledger: Ledger, second_trader: Trader
) -> None:
    assert env.node is not None
    _, signer = fresh_signer(env.node)
    # It sees the same two pools pulsearb trades here, so it takes the very cycle pulsearb sized.
    usdc_weth = replace(env.deployment, pairs=[env.pool(300), env.pool(302)], v3_pools=[])
    competitor = Competitor(
        env.w3, signer, usdc_weth, [("cross_dex", env.params())], probability=1.0, seed=1, poll_s=0.002
    ).start()
    try:
        env.node.rpc("evm_setAutomine", [False])
        second_trader.send_swap(env.pool(300), env.usdc, 50_000 * USDC)
        env.node.rpc("evm_mine")  # the dislocation's block
        opp = env.opportunity()
        _wait(lambda: competitor.stats.sent == 1, "the competitor's back-run")
        executor = make_executor(env, ledger)
        nonce = env.w3.eth.get_transaction_count(env.signer.address)
        # pulsearb simulates on the same block (the competitor's transaction is only pending) and sends.
        assert executor.submit(opp, executor.chain.head(), 0, {}) is None
        env.node.rpc("evm_mine")  # both in one block, ordered by priority fee: the competitor's 2 gwei first
        finished = _final(executor)
        _wait(lambda: competitor.stats.mined == 1, "the competitor's capture")
    finally:
        competitor.stop()
    assert (finished.status, finished.revert_reason, finished.realized_profit) == ("reverted", "PROFIT_TOO_LOW", 0)
    assert classify(finished.status, finished.revert_reason, opp.gross_profit, 0) == MIN_PROFIT
    record = execution_record(finished)  # what arb.execution carries: the gas lost, counted
    assert from_u256(record["gas_cost_wei"]) == finished.gas_cost_wei > 0
    assert from_i256(record["predicted_profit"]) == opp.gross_profit and from_i256(record["realized_profit"]) == 0
    assert env.w3.eth.get_transaction_count(env.signer.address) == nonce + 1  # one transaction, never a second
    c = competitor.stats
    assert (c.dislocations, c.sent, c.mined, c.reverted) == (1, 1, 1, 0)
    assert c.realized[env.usdc] > 0 and c.gas_cost_wei > 0
