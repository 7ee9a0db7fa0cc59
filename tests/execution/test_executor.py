"""The executor on anvil (genuine Uniswap pools): simulate, send, realized profit to the wei, reverts, nonce resync,
restarts, V2/V3 routes in every capital mode."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from flows.execution.chain import Chain, Simulated
from flows.execution.errors import ExecutionReverted
from flows.execution.ledger import Ledger
from flows.execution.records import outcome
from tests.execution.conftest import Env, make_executor


def _head(env: Env):
    return Chain(env.w3).head()


def _until_final(executor, limit: int = 200):
    for _ in range(limit):
        done = executor.poll()
        if done:
            return done
    raise AssertionError("no final outcome")


def test_mined_profit_equals_prediction_to_the_wei(env: Env, ledger: Ledger) -> None:
    env.dislocate()
    opp = env.opportunity()
    executor = make_executor(env, ledger)
    before = env.balance(env.usdc, env.deployment.executor)
    assert executor.submit(opp, _head(env), 1, {"decision_ns": 1}) is None
    entry = ledger.execution(opp.id)
    assert entry is not None and entry.nonce is not None and len(entry.attempts) == 1  # persisted before sending
    [done] = _until_final(executor)
    assert done.status == "mined" and done.revert_reason is None and not done.failure
    assert done.realized_amount_out == opp.amount_out
    assert done.realized_profit == opp.amount_out - opp.amount_in == int(done.context["predicted_profit"])
    assert env.balance(env.usdc, env.deployment.executor) - before == done.realized_profit
    assert done.gas_used > 100_000 and done.effective_gas_price > 0
    assert {"decision_ns", "exec_sent_ns", "exec_accepted_ns", "exec_receipt_ns"} <= set(done.context["trace"])
    assert outcome(done).pnl < done.realized_profit  # gas is charged in USDC


def test_simulation_revert_sends_nothing(env: Env, ledger: Ledger) -> None:
    env.dislocate()
    opp = env.opportunity()
    env.dislocate(usdc=52_000, venue=302)  # the other venue catches up: the opportunity is gone
    executor = make_executor(env, ledger)
    nonce = env.w3.eth.get_transaction_count(env.signer.address)
    done = executor.submit(opp, _head(env), 1, {})
    assert done is not None and done.status == "failed" and done.tx_hash is None
    assert done.revert_reason == "simulation: PROFIT_TOO_LOW" and not done.failure
    assert env.w3.eth.get_transaction_count(env.signer.address) == nonce


def test_onchain_revert_is_recorded_with_reason(env: Env, ledger: Ledger, monkeypatch) -> None:
    """A transaction that passed simulation but reverts when mined (here: simulation skipped, the pools moved)."""
    env.dislocate()
    opp = env.opportunity()
    env.dislocate(usdc=52_000, venue=302)
    executor = make_executor(env, ledger)
    # Stands in for a front-runner: the simulation saw the old pools, the transaction meets the new ones.
    monkeypatch.setattr(executor.chain, "simulate", lambda plan, sender: Simulated(opp.amount_out, opp.gross_profit))
    assert executor.submit(opp, _head(env), 1, {}) is None
    [done] = _until_final(executor)
    assert done.status == "reverted" and done.failure
    assert done.revert_reason == "PROFIT_TOO_LOW"
    assert done.tx_hash is not None and done.gas_used > 0 and done.realized_profit == 0
    assert outcome(done).pnl < 0  # the gas was paid


def test_dry_run_simulates_only(env: Env, ledger: Ledger) -> None:
    env.dislocate()
    opp = env.opportunity()
    executor = make_executor(env, ledger, mode="dry_run")
    assert executor.sender.lower() == env.signer.address.lower()  # the owner, read from the contract
    nonce = env.w3.eth.get_transaction_count(env.signer.address)
    done = executor.submit(opp, _head(env), 1, {})
    assert done is not None and done.status == "dry_run" and done.tx_hash is None
    assert done.realized_profit == opp.amount_out - opp.amount_in and done.realized_amount_out == opp.amount_out
    assert env.w3.eth.get_transaction_count(env.signer.address) == nonce


def test_nonce_too_low_resyncs_and_resends(env: Env, ledger: Ledger) -> None:
    env.dislocate()
    opp = env.opportunity()
    executor = make_executor(env, ledger)
    executor.nonces.allocate()
    executor.nonces.release(executor.nonces.peek - 1)  # the manager now holds the chain's nonce...
    env.w3.eth.send_raw_transaction(  # ...and another tool uses it behind its back
        env.signer.sign(
            {
                "type": 2,
                "chainId": env.deployment.chain_id,
                "nonce": executor.nonces.peek,
                "to": env.signer.address,
                "value": 0,
                "data": b"",
                "gas": 21_000,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 10**9,
            }
        ).raw
    )
    assert executor.submit(opp, _head(env), 1, {}) is None
    assert executor.nonces.resyncs == 1
    [done] = _until_final(executor)
    assert done.status == "mined" and done.realized_profit == opp.amount_out - opp.amount_in


def test_restart_finishes_what_was_sent_and_never_resends(env: Env, tmp_path: Path) -> None:
    env.dislocate()
    opp = env.opportunity()
    first = Ledger(tmp_path / "l.sqlite")
    executor = make_executor(env, first)
    assert executor.submit(opp, _head(env), 1, {}) is None  # sent; the process "dies" before any receipt
    first.close()
    again = Ledger(tmp_path / "l.sqlite")
    try:
        restarted = make_executor(env, again)
        [done] = restarted.recover()
        assert done.status == "mined" and done.realized_profit == opp.amount_out - opp.amount_in
        assert again.execution(opp.id) is not None  # the row stays: the id is never sent again
        assert not restarted.tracked
    finally:
        again.close()


def test_revert_translation_is_uniform(env: Env) -> None:
    chain = Chain(env.w3)
    try:
        chain.call({"to": env.w3.to_checksum_address(env.deployment.executor), "data": "0x3ccfd60b"})
    except ExecutionReverted as exc:  # the node's revert (web3's ContractLogicError), translated at the seam
        assert exc.tx_hash is None and isinstance(exc.reason, str)
    else:
        raise AssertionError("expected a revert")


def test_context_survives_the_ledger(env: Env, ledger: Ledger) -> None:
    env.dislocate()
    opp = env.opportunity()
    executor = make_executor(env, ledger)
    executor.submit(opp, _head(env), 1, {"risk_in_ns": 5})
    stored = ledger.execution(opp.id)
    assert stored is not None
    assert stored.context["plan"]["min_profit"] == str(opp.gas_cost + 1)
    assert replace(stored, state="x").opportunity_id == opp.id


@pytest.mark.parametrize("capital", ["own", "flash_swap", "flash_loan"])
def test_a_v2_v3_opportunity_from_the_strategy_executes_in_every_capital_mode(
    env: Env, ledger: Ledger, capital: str
) -> None:
    """cross_dex between a genuine V2 pair and a genuine V3 pool: the opportunity names each hop's kind, the
    executor plans the mixed route, and the mined profit is the prediction (net of the lender's fee for a loan)."""
    env.dislocate(usdc=80_000, venue=300)
    opp = env.opportunity(pools=[env.pool(300), env.pool(301)])
    assert sorted(opp.kinds) == ["v2", "v3"] and opp.venues in ((300, 301), (301, 300))
    executor = make_executor(env, ledger, capital=capital)
    lender_before = env.balance(env.usdc, env.deployment.flash_lender)
    before = env.balance(env.usdc, env.deployment.executor)
    assert executor.submit(opp, _head(env), 1, {}) is None
    [done] = _until_final(executor)
    fee = env.balance(env.usdc, env.deployment.flash_lender) - lender_before
    assert (fee > 0) == (capital == "flash_loan")
    assert done.status == "mined" and not done.failure, done.revert_reason
    assert done.realized_profit == opp.gross_profit - fee == int(done.context["predicted_profit"])
    assert done.realized_amount_out == opp.amount_out
    assert env.balance(env.usdc, env.deployment.executor) - before == done.realized_profit
    assert ledger.execution(opp.id).attempts[0].kind == {"own": "execute"}.get(capital, capital)
