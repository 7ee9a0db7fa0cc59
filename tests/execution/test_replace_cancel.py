"""The replace-or-cancel policy and the kill switch on anvil with mining paused.

A stuck transaction is sped up, then cancelled; with the kill switch on, nothing more leaves the executor (no
replacement, no cancellation, no re-broadcast after a restart), counted on the node itself: its transaction pool
and the sender's pending nonce.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.execution.chain import Chain
from flows.execution.errors import ChainUnavailable
from flows.execution.ledger import Ledger
from flows.risk.kill_switch import KillSwitch
from tests.conftest import AnvilNode
from tests.execution.conftest import Env, make_executor

pytestmark = pytest.mark.integration

POLICY = {"receipt_timeout_s": 0.3, "receipt_poll_ms": 5, "abandon_after_s": 30}


def _pool(anvil: AnvilNode) -> int:
    """Transactions waiting in the node's pool."""
    status = anvil.rpc("txpool_status")
    return int(status["pending"], 16) + int(status["queued"], 16)


def test_stuck_transaction_is_replaced_then_cancelled(env: Env, anvil: AnvilNode, ledger: Ledger) -> None:
    env.dislocate()
    opp = env.opportunity(validity_ms=60_000)
    chain = Chain(env.w3)
    executor = make_executor(env, ledger, **POLICY)
    anvil.rpc("evm_setAutomine", [False])
    assert executor.submit(opp, chain.head(), 1, {}) is None
    kinds: list[str] = []
    while len(kinds) < 3:
        assert executor.poll() == []
        kinds = [a.kind for a in ledger.execution(opp.id).attempts]
    assert kinds == ["flash_swap", "flash_swap", "cancel"]  # sped up while valid, then cancelled
    attempts = ledger.execution(opp.id).attempts
    assert attempts[1].max_fee_per_gas > attempts[0].max_fee_per_gas
    assert attempts[2].max_priority_fee_per_gas > attempts[1].max_priority_fee_per_gas
    anvil.rpc("evm_mine")
    anvil.rpc("evm_setAutomine", [True])
    done = []
    while not done:
        done = executor.poll()
    [final] = done
    assert final.status == "replaced" and final.failure
    assert final.tx_hash == attempts[2].tx_hash and final.gas_used == 21_000
    assert env.w3.eth.get_transaction_count(env.signer.address) == ledger.execution(opp.id).nonce + 1


def test_kill_switch_stops_replacements_and_cancellations(
    env: Env, anvil: AnvilNode, ledger: Ledger, tmp_path: Path
) -> None:
    switch = KillSwitch(tmp_path)
    env.dislocate()
    opp = env.opportunity(validity_ms=60_000)
    chain = Chain(env.w3)
    executor = make_executor(env, ledger, switch.is_on, **POLICY)
    anvil.rpc("evm_setAutomine", [False])
    assert executor.submit(opp, chain.head(), 1, {}) is None
    assert _pool(anvil) == 1
    pending = env.w3.eth.get_transaction_count(env.signer.address, "pending")

    switch.set(True, reason="test")
    # Three receipt timeouts: without the switch the policy would have sent a replacement and a cancellation.
    deadline = executor.clock() + 3 * int(POLICY["receipt_timeout_s"] * 1e9)
    while executor.clock() < deadline:
        assert executor.poll() == []
    assert _pool(anvil) == 1  # the stuck transaction alone: nothing more reached the node
    assert env.w3.eth.get_transaction_count(env.signer.address, "pending") == pending
    assert [a.kind for a in ledger.execution(opp.id).attempts] == ["flash_swap"]
    # A new opportunity (another id, same pools) is not sent either: it ends as aborted, with no nonce taken.
    done = executor.submit(env.opportunity(sequence=2, validity_ms=60_000), chain.head(), 1, {})
    assert done is not None and done.status == "aborted" and done.tx_hash is None and done.entry.nonce is None
    assert _pool(anvil) == 1

    switch.set(False)  # the gate was the only thing holding them: the policy goes on at once
    while len(ledger.execution(opp.id).attempts) < 2:
        assert executor.poll() == []
    assert _pool(anvil) == 1  # a replacement takes the stuck transaction's place (same nonce)
    assert env.w3.eth.get_transaction_count(env.signer.address, "pending") == pending


def test_kill_switch_stops_the_rebroadcast_after_a_restart(
    env: Env, anvil: AnvilNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signed transaction the node never saw (the process died in send) is not re-broadcast while the switch
    is on, although it is still valid."""
    switch = KillSwitch(tmp_path)
    env.dislocate()
    opp = env.opportunity(validity_ms=60_000)
    first = Ledger(tmp_path / "l.sqlite")
    executor = make_executor(env, first, switch.is_on, **POLICY)

    def lost(raw: bytes, tx_hash: str | None = None) -> str:
        raise ChainUnavailable("connection reset")

    monkeypatch.setattr(executor.chain, "send", lost)
    anvil.rpc("evm_setAutomine", [False])
    assert executor.submit(opp, Chain(env.w3).head(), 1, {}) is None
    first.close()
    assert _pool(anvil) == 0

    switch.set(True)
    again = Ledger(tmp_path / "l.sqlite")
    try:
        restarted = make_executor(env, again, switch.is_on, **POLICY)
        assert restarted.recover() == []
        assert _pool(anvil) == 0  # not re-broadcast
        switch.set(False)
        restarted = make_executor(env, again, switch.is_on, **POLICY)
        restarted.recover()
        assert _pool(anvil) == 1  # with the switch off the same restart does send it
    finally:
        again.close()


def test_a_switch_turned_on_during_the_ledger_write_stops_the_send(
    env: Env, anvil: AnvilNode, ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The switch is read again after the ledger's fsync, right before the send: one turned on in between wins."""
    switch = KillSwitch(tmp_path)
    env.dislocate()
    opp = env.opportunity(validity_ms=60_000)
    executor = make_executor(env, ledger, switch.is_on, **POLICY)
    write = ledger.write_execution

    def write_then_switch(entry, now_ns, state=None):
        write(entry, now_ns, state)
        switch.set(True, reason="turned on while the row was being written")

    monkeypatch.setattr(ledger, "write_execution", write_then_switch)
    anvil.rpc("evm_setAutomine", [False])
    done = executor.submit(opp, Chain(env.w3).head(), 1, {})
    assert done is not None and done.status == "aborted" and done.tx_hash is None
    assert _pool(anvil) == 0
    assert ledger.execution(opp.id).attempts == ()  # the row is back to what it was before the signed attempt
