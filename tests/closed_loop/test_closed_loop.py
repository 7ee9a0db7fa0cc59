"""Closed loop on anvil: swap -> (collector state | Swap log -> watcher -> relay -> bridge) -> detector ->
risk_execution -> chain.

The tests run in order on one loop (each leaves the chain as the next expects): an executed dislocation with
exact profit (the chain mines every transaction as it arrives and nothing else trades: realized == predicted holds
when nothing intervenes); a restart that replays the opportunity stream without a second transaction; the kill
switch; a quote made stale by blocks; a transaction front-run into a revert, recorded and counted by the breaker.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from flows.execution.ledger import read_summary
from flows.execution.logs import ARBITRAGE_TOPIC
from flows.execution.signer import Signer
from flows.signals import signal_id
from ops.cli import main as cli
from ops.simulator.chain.loop import ANVIL_KEYS
from ops.simulator.chain.tx import contract
from schemas.serde import from_i256, from_u256
from tests.closed_loop.conftest import Loop

pytestmark = pytest.mark.integration

USDC = 10**6
OWNER = Signer.from_key(ANVIL_KEYS[0]).address


def _swap(loop: Loop, venue: int, usdc: int) -> int:
    """Buy WETH with ``usdc`` USDC on ``venue``; return the swap's block."""
    chain = loop.chain
    sent = chain.trader.swap(chain.deployment.pair(venue), chain.deployment.tokens["USDC"].address, usdc * USDC)
    return chain.w3.eth.get_transaction_receipt(sent.tx_hash)["blockNumber"]


def _opportunity(loop: Loop, block: int) -> dict[str, Any]:
    recs = loop.opportunities.wait(lambda rs: any(r["block_number"] == block for r in rs), 60, f"opportunity @{block}")
    return next(r for r in recs if r["block_number"] == block)


def _one(reader, opp_id: str, what: str) -> dict[str, Any]:
    recs = reader.wait(lambda rs: any(r["opportunity_id"] == opp_id for r in rs), 60, f"{what} of {opp_id}")
    return next(r for r in recs if r["opportunity_id"] == opp_id)


def _settle(loop: Loop, quiet_s: float = 0.5) -> None:
    """Wait until every opportunity so far has its decision and nothing new arrived for ``quiet_s``."""
    deadline = time.monotonic() + 60
    last, since = (-1, -1), time.monotonic()
    while time.monotonic() < deadline:
        opps, decs = len(loop.opportunities.read()), len({r["opportunity_id"] for r in loop.decisions.read()})
        if (opps, decs) != last or opps != decs:
            last, since = (opps, decs), time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.05)
    raise AssertionError("the loop did not settle")


def _nonce(loop: Loop, block: str = "latest") -> int:
    return loop.chain.w3.eth.get_transaction_count(OWNER, block)


def _usdc_of_executor(loop: Loop) -> int:
    d = loop.chain.deployment
    token = contract(loop.chain.w3, "TestToken", d.tokens["USDC"].address)
    return token.functions.balanceOf(loop.chain.w3.to_checksum_address(d.executor)).call()


def _ledger(loop: Loop) -> dict[str, Any]:
    return read_summary(loop.chain.state_dir / "risk_execution" / "cl_risk_execution.sqlite")


def test_dislocation_is_executed_and_realizes_the_predicted_profit(loop: Loop) -> None:
    before = _usdc_of_executor(loop)
    opp = _opportunity(loop, _swap(loop, 300, 50_000))
    decision = _one(loop.decisions, opp["id"], "decision")
    assert (decision["accepted"], decision["reason"]) == (True, "accepted")
    execution = _one(loop.executions, opp["id"], "execution")
    assert execution["status"] == "mined", execution
    predicted = from_u256(opp["amount_out"]) - from_u256(opp["amount_in"])
    assert from_i256(execution["realized_profit"]) == from_i256(execution["predicted_profit"]) == predicted > 0
    assert from_u256(execution["realized_amount_out"]) == from_u256(opp["amount_out"])
    assert _usdc_of_executor(loop) - before == predicted  # the chain agrees, to the wei
    receipt = loop.chain.w3.eth.get_transaction_receipt(execution["tx_hash"])
    [event] = [lg for lg in receipt["logs"] if lg["topics"][0] == ARBITRAGE_TOPIC]
    assert int.from_bytes(bytes(event["data"])[96:128], "big") == predicted
    assert execution["gas_used"] == receipt["gasUsed"] and execution["block_number"] == receipt["blockNumber"]
    trace = execution["trace"]
    # The dislocation reached the detector as the watcher's Swap frame (relay, bridge) or as the collector's state
    # of its block, whichever came first; from there on every stage is stamped, in order.
    first = ("relay_ns", "bridge_in_ns") if "relay_ns" in trace else ("collector_ns",)
    stages = (
        *first,
        "detect_in_ns",
        "detect_out_ns",
        "risk_in_ns",
        "decision_ns",
        "exec_sent_ns",
        "exec_accepted_ns",
        "exec_receipt_ns",
    )
    assert [trace[s] for s in stages] == sorted(trace[s] for s in stages)
    # The accepted opportunity also went back to AlphaPulse's signals relay as an ArbitrageSignal.
    deadline = time.monotonic() + 10
    while not any(sg.signal_id == signal_id(opp["id"]) for sg in loop.signals) and time.monotonic() < deadline:
        time.sleep(0.05)
    [signal] = [sg for sg in loop.signals if sg.signal_id == signal_id(opp["id"])]
    assert (signal.chain_id, signal.token_in) == (31337, opp["token_in"])


def test_replaying_the_opportunity_stream_sends_no_second_transaction(loop: Loop) -> None:
    _settle(loop)
    nonce = _nonce(loop, "pending")
    decided = {r["opportunity_id"]: r for r in loop.decisions.read()}
    hashes = {r["tx_hash"] for r in loop.executions.read() if r["tx_hash"]}
    assert hashes, "the previous test executed something"
    count = len(loop.decisions.records)
    assert loop.chain.restart_risk() == 0  # a clean stop; the new process re-reads arb.opportunity from the start
    loop.decisions.wait(lambda rs: len(rs) >= count + len(decided), 60, "replayed decisions")
    time.sleep(0.5)
    replayed = loop.decisions.read()[count:]
    assert all(r == decided[r["opportunity_id"]] for r in replayed)  # the stored decisions, unchanged
    assert {r["tx_hash"] for r in loop.executions.read() if r["tx_hash"]} == hashes
    assert _nonce(loop, "pending") == nonce


def test_with_the_kill_switch_on_nothing_is_sent(loop: Loop) -> None:
    state = str(loop.chain.state_dir)
    assert cli(["kill-switch", "--state-dir", state, "on", "--reason", "closed-loop test"]) == 0
    try:
        nonce = _nonce(loop, "pending")
        opp = _opportunity(loop, _swap(loop, 300, 40_000))
        decision = _one(loop.decisions, opp["id"], "decision")
        assert (decision["accepted"], decision["reason"], decision["limit_value"]) == (False, "kill_switch", "off")
        time.sleep(0.5)
        assert _nonce(loop, "pending") == nonce
        assert not any(r["opportunity_id"] == opp["id"] for r in loop.executions.read())
    finally:
        assert cli(["kill-switch", "--state-dir", state, "off"]) == 0


def test_a_quote_too_old_in_blocks_is_rejected_with_its_reason(loop: Loop) -> None:
    chain, d = loop.chain, loop.chain.deployment
    chain.rpc("evm_setAutomine", [False])
    try:  # the swap and three more blocks in one call: whatever the feeds see of the swap is 3 blocks old
        chain.trader.send_swap(d.pair(300), d.tokens["USDC"].address, 30_000 * USDC)
        chain.rpc("anvil_mine", ["0x4"])
    finally:
        chain.rpc("evm_setAutomine", [True])
    block = chain.w3.eth.block_number - 3
    nonce = _nonce(loop, "pending")
    opp = _opportunity(loop, block)
    decision = _one(loop.decisions, opp["id"], "decision")
    assert (decision["accepted"], decision["reason"]) == (False, "quote_too_old_blocks")
    assert (decision["limit_value"], decision["observed_value"]) == ("2", "3")
    assert _nonce(loop, "pending") == nonce


def test_a_reverted_transaction_is_recorded_and_opens_the_breaker(loop: Loop) -> None:
    chain, d = loop.chain, loop.chain.deployment
    usdc = d.tokens["USDC"].address
    chain.rpc("evm_setAutomine", [False])
    try:
        chain.trader.send_swap(d.pair(300), usdc, 40_000 * USDC)
        chain.rpc("evm_mine")
        block = chain.w3.eth.block_number
        opp = _opportunity(loop, block)
        deadline = time.monotonic() + 60
        while _nonce(loop, "pending") == _nonce(loop) and time.monotonic() < deadline:
            time.sleep(0.02)  # until the executor's transaction waits in the pool
        assert _nonce(loop, "pending") > _nonce(loop), "the arbitrage was not sent"
        # A front-runner pays a higher tip and buys WETH on the cheap venue first: the arbitrage must revert.
        chain.trader.send_swap(d.pair(302), usdc, 250_000 * USDC, tip_wei=50 * 10**9)
        chain.rpc("evm_mine")
    finally:
        chain.rpc("evm_setAutomine", [True])
    execution = _one(loop.executions, opp["id"], "execution")
    assert (execution["status"], execution["revert_reason"]) == ("reverted", "PROFIT_TOO_LOW")
    assert execution["block_number"] == block + 1 and execution["gas_used"] > 0
    assert from_i256(execution["realized_profit"]) == 0
    risk = _ledger(loop)["risk_state"]
    assert risk["consecutive_failures"] == 1 and risk["breaker_opened_ns"] is not None
    # The front-run dislocated the venues the other way: that opportunity meets an open breaker.
    after = _opportunity(loop, block + 1)
    decision = _one(loop.decisions, after["id"], "decision")
    assert (decision["accepted"], decision["reason"]) == (False, "circuit_open")


def test_the_key_is_in_no_flow_log(loop: Loop) -> None:
    key = ANVIL_KEYS[0].removeprefix("0x")
    logs = list((loop.chain.state_dir / "logs").glob("*.log"))
    assert logs
    for path in logs:
        text = path.read_text(errors="replace").lower()
        assert key not in text and key[:16] not in text, path
