"""The replace-or-cancel policy on anvil with mining paused: a stuck transaction is sped up, then cancelled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from flows.execution.chain import Chain
from flows.execution.config import ExecutionConfig
from flows.execution.executor import Executor
from flows.execution.ledger import Ledger
from flows.execution.signer import Signer
from ops.chain.deploy import deploy
from ops.chain.loop import ANVIL_KEYS
from ops.chain.market import Trader
from ops.stack import process
from ops.stack.chain import chain_spec
from tests.execution.conftest import Env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def anvil_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    port = process.free_port()
    pid = process.start(chain_spec(port), tmp_path_factory.mktemp("anvil"))
    try:
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}"))
        signer, trader = Signer.from_key(ANVIL_KEYS[0]), Signer.from_key(ANVIL_KEYS[1])
        deployment = deploy(w3, signer, trader=trader.address)
        yield Env(w3, deployment, ANVIL_KEYS[0], signer, Trader(w3, trader, deployment))
    finally:
        process.stop_pid(pid)


def test_stuck_transaction_is_replaced_then_cancelled(anvil_env: Env, tmp_path: Path) -> None:
    env = anvil_env
    env.dislocate()
    opp = env.opportunity(validity_ms=60_000)
    chain = Chain(env.w3)
    cfg = ExecutionConfig(
        executor=env.deployment.executor, receipt_timeout_s=0.3, receipt_poll_ms=5, abandon_after_s=30
    )
    ledger = Ledger(tmp_path / "l.sqlite")
    try:
        executor = Executor(chain, env.signer, ledger, cfg, gas_price_cap_wei=10**11)
        executor.check()
        env.w3.provider.make_request("evm_setAutomine", [False])
        try:
            assert executor.submit(opp, chain.head(), 1, {}) is None
            kinds: list[str] = []
            while len(kinds) < 3:
                assert executor.poll() == []
                kinds = [a.kind for a in ledger.execution(opp.id).attempts]
            assert kinds == ["execute", "execute", "cancel"]  # sped up while valid, then cancelled
            attempts = ledger.execution(opp.id).attempts
            assert attempts[1].max_fee_per_gas > attempts[0].max_fee_per_gas
            assert attempts[2].max_priority_fee_per_gas > attempts[1].max_priority_fee_per_gas
            env.w3.provider.make_request("evm_mine", [])
        finally:
            env.w3.provider.make_request("evm_setAutomine", [True])
        done = []
        while not done:
            done = executor.poll()
        [final] = done
        assert final.status == "replaced" and final.failure
        assert final.tx_hash == attempts[2].tx_hash and final.gas_used == 21_000
        assert env.w3.eth.get_transaction_count(env.signer.address) == ledger.execution(opp.id).nonce + 1
    finally:
        ledger.close()
