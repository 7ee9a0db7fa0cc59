"""Execution drills on anvil: risk_execution killed -9 right after a send (drill b), and an RPC node that loses a
reply, is slow, is down, refuses connections, or fails simulations (drill c). The chain is the judge: one
transaction and one ``Arbitrage`` event per opportunity id, nonces without a gap, nothing left waiting in the pool.

One loop for the module (bridge -> detector -> risk_execution on anvil, :mod:`tests.reliability.chainloop`); the
executor reaches anvil only through :class:`~tests.reliability.rpc_proxy.RpcProxy`. The tests run in order, each
leaving the chain as the next expects; the last one opens the breaker and checks the whole chain.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.execution.ledger import read_summary
from ops.simulator.chain.loop import TopicReader
from ops.simulator.stack.stack import StackInfo
from tests.reliability.chainloop import Drill, ProxiedLoop, arbitrage_events, create_topics, owner_transactions

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTAGE_S = 3.0
SEND = "eth_sendRawTransaction"
RECEIPT = "eth_getTransactionReceipt"
RPC_LABEL = 'endpoint="rpc"'


@pytest.fixture(scope="module")
def drill(own_broker: StackInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    boot = own_broker.bootstrap or ""
    create_topics(boot)
    chain = ProxiedLoop(boot, tmp_path_factory.mktemp("execution-drill"))
    running = None
    try:
        chain.start()
        running = Drill(
            chain,
            TopicReader(boot, "arb.opportunity"),
            TopicReader(boot, "arb.decision"),
            TopicReader(boot, "arb.execution"),
        )
        yield running
    finally:
        if running is not None:
            running.close()
        codes = chain.stop()
    assert all(code == 0 for code in codes.values()), codes


def _ledger(drill: Drill) -> Path:
    return drill.chain.state_dir / "risk_execution" / "rl_risk_execution.sqlite"


def _kill_while_sending(drill: Drill, make_block) -> str:
    """Hold the node's reply to the executor's send, kill -9 the flow while it waits for it; return the id sent."""
    proxy = drill.proxy
    proxy.hold([SEND])
    drill.opportunity(make_block())
    # Its decision is produced with the step's output, after the send returns: wait for the send, not for it.
    assert proxy.held.wait(60), "the executor never sent the accepted opportunity"
    drill.chain.risk.kill()
    proxy.restore()
    with contextlib.closing(sqlite3.connect(_ledger(drill))) as db:
        rows = db.execute("SELECT opportunity_id, state FROM executions WHERE state != 'final'").fetchall()
    [(oid, state)] = rows
    assert state == "sending", "killed between the ledger row (written before the broadcast) and its confirmation"
    return oid


def test_kill_9_right_after_a_send_sends_nothing_twice(drill: Drill) -> None:
    chain = drill.chain
    # 1. The node mined it at once (automine): after the restart the flow finds the receipt.
    nonce = drill.nonce("pending")
    mined_while_down = _kill_while_sending(drill, lambda: drill.swap(50_000))
    assert drill.nonce() == nonce + 1, "the held send reached the node"
    chain.start_risk()
    assert drill.execution(mined_while_down)["status"] == "mined"

    # 2. The transaction still waits in the node's pool at the restart: the flow follows it, it does not re-sign.
    chain.rpc("evm_setAutomine", [False])
    try:
        pending = _kill_while_sending(drill, lambda: drill.swap_and_mine(40_000))
        assert drill.nonce("pending") == drill.nonce() + 1, "the held send waits in the pool"
        before = len(drill.decisions.read())
        chain.start_risk()
        drill.wait_started(before)
        chain.rpc("evm_mine")
    finally:
        chain.rpc("evm_setAutomine", [True])
    assert drill.execution(pending)["status"] == "mined"

    txs = owner_transactions(drill.w3, chain.owner.address, chain.deployment.executor)
    per_id = Counter(t.opportunity_id for t in txs if t.opportunity_id)
    events = arbitrage_events(drill.w3, chain.deployment.executor)
    records = [r for r in drill.executions.read() if r["opportunity_id"] in (mined_while_down, pending)]
    executions = read_summary(_ledger(drill))["executions"]
    decided = {r["opportunity_id"] for r in drill.decisions.read()}
    print(
        f"opportunities={len(drill.opportunities.read())} decisions={len(decided)} "
        f"transactions_sent={sum(per_id.values())} duplicates={sum(n - 1 for n in per_id.values())} "
        f"arbitrage_events={sum(events.values())} ledger_executions={executions}"
    )
    for oid in (mined_while_down, pending):
        assert per_id[oid] == 1 and events[oid] == 1, oid
        assert len({r["tx_hash"] for r in records if r["opportunity_id"] == oid}) == 1  # replays repeat one outcome
    assert [t.nonce for t in txs] == list(range(len(txs))), "nonces without a gap or a repeat"
    assert drill.nonce("pending") == drill.nonce() == len(txs), "nothing left waiting in the pool"


def test_a_send_whose_reply_is_lost_is_followed_not_resent(drill: Drill) -> None:
    nonce = drill.nonce("pending")
    drill.proxy.lose_reply([SEND])
    try:
        opp = drill.opportunity(drill.swap(45_000))
        execution = drill.execution(opp["id"])
    finally:
        drill.proxy.restore()
    assert execution["status"] == "mined", execution
    assert drill.proxy.count(method=SEND, outcome="reply_lost") == 1
    assert drill.nonce("pending") == drill.nonce() == nonce + 1
    assert arbitrage_events(drill.w3, drill.chain.deployment.executor)[opp["id"]] == 1


def test_a_slow_node_delays_execution_but_sends_once(drill: Drill) -> None:
    nonce = drill.nonce("pending")
    since = time.monotonic()
    drill.proxy.delay(0.3)  # every reply 300 ms late
    try:
        opp = drill.opportunity(drill.swap(45_000))
        execution = drill.execution(opp["id"])
    finally:
        drill.proxy.restore()
    requests = drill.proxy.methods(since)
    print(f"slow node: requests {dict(requests)}")
    assert execution["status"] == "mined", execution
    assert requests[SEND] == 1
    assert drill.nonce("pending") == drill.nonce() == nonce + 1


def test_node_down_with_a_transaction_in_flight(drill: Drill) -> None:
    chain = drill.chain
    chain.rpc("evm_setAutomine", [False])
    try:
        in_flight = drill.opportunity(drill.swap_and_mine(50_000))
        deadline = time.monotonic() + 60
        while drill.nonce("pending") == drill.nonce() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert drill.nonce("pending") == drill.nonce() + 1, "the executor did not send"
        down_at = time.monotonic()
        drill.proxy.drop()  # the node is down for the executor (the watcher still sees the chain)
        during = drill.opportunity(drill.swap_and_mine(30_000))  # this block also mines the transaction in flight
        rejected = drill.decision(during["id"])
        rpc_up_during = drill.wait_metric("pulsearb_endpoint_up", 0.0, RPC_LABEL)
        time.sleep(max(0.0, down_at + OUTAGE_S - time.monotonic()))
        attempts = drill.proxy.methods(down_at)
    finally:
        drill.proxy.restore()
        chain.rpc("evm_setAutomine", [True])
    execution = drill.execution(in_flight["id"])
    assert rpc_up_during == 0.0, "pulsearb_endpoint_up{endpoint=rpc} must show the outage (PulsearbRpcUnreachable)"
    assert drill.wait_metric("pulsearb_endpoint_up", 1.0, RPC_LABEL) == 1.0
    print(f"node down {OUTAGE_S:g} s with one transaction in flight: requests {dict(attempts)}")
    assert (rejected["accepted"], rejected["reason"]) == (False, "chain_unavailable")
    assert execution["status"] == "mined", execution
    assert attempts[SEND] == 0, "nothing is sent while the node is down"
    # Receipt polls back off while the node does not answer: at the configured 50 ms interval a 3 s outage would
    # be 60 requests; doubling delays make it a handful.
    assert attempts[RECEIPT] <= 12, f"{attempts[RECEIPT]} receipt requests in {OUTAGE_S:g} s: a tight loop"


def test_refused_connections_reject_as_chain_unavailable(drill: Drill) -> None:
    nonce = drill.nonce("pending")
    drill.proxy.refuse()  # nothing listens: connection refused
    try:
        opp = drill.opportunity(drill.swap(20_000))
        decision = drill.decision(opp["id"])
    finally:
        drill.proxy.restore()
    assert (decision["accepted"], decision["reason"]) == (False, "chain_unavailable")
    assert "not reachable" in decision["observed_value"]
    assert drill.nonce("pending") == drill.nonce() == nonce


def test_failing_simulations_open_the_breaker(drill: Drill) -> None:
    nonce = drill.nonce("pending")
    drill.proxy.drop(["eth_call"])  # the node answers reads of blocks, but its eth_call never completes
    try:
        failed = []
        for usdc in (30_000, 35_000):  # max_consecutive_failures: 2
            opp = drill.opportunity(drill.swap(usdc))
            accepted = drill.decision(opp["id"])
            assert accepted["accepted"], accepted
            failed.append(drill.execution(opp["id"]))
        after = drill.opportunity(drill.swap(25_000))
        decision = drill.decision(after["id"])
    finally:
        drill.proxy.restore()
    assert [(e["status"], "not reachable" in (e["revert_reason"] or "")) for e in failed] == [("failed", True)] * 2
    assert (decision["accepted"], decision["reason"]) == (False, "circuit_open")
    assert drill.wait_metric("pulsearb_circuit_breaker_open", 1.0) == 1.0
    assert read_summary(_ledger(drill))["risk_state"]["consecutive_failures"] == 2
    assert drill.nonce("pending") == drill.nonce() == nonce, "nothing was sent"


def test_the_chain_shows_one_transaction_per_opportunity(drill: Drill) -> None:
    chain = drill.chain
    txs = owner_transactions(drill.w3, chain.owner.address, chain.deployment.executor)
    per_id = Counter(t.opportunity_id for t in txs if t.opportunity_id)
    events = arbitrage_events(drill.w3, chain.deployment.executor)
    decided = {r["opportunity_id"] for r in drill.decisions.read()}
    accepted = {r["opportunity_id"] for r in drill.decisions.read() if r["accepted"]}
    statuses = Counter(r["status"] for r in {r["opportunity_id"]: r for r in drill.executions.read()}.values())
    print(
        f"opportunities={len({r['id'] for r in drill.opportunities.read()})} decisions={len(decided)} "
        f"accepted={len(accepted)} transactions_sent={sum(per_id.values())} "
        f"duplicates={sum(n - 1 for n in per_id.values())} arbitrage_events={sum(events.values())} "
        f"outcomes={dict(statuses)}"
    )
    assert all(n == 1 for n in per_id.values()), per_id
    assert all(n == 1 for n in events.values()), events
    assert set(events) <= set(per_id) <= accepted
    assert [t.nonce for t in txs] == list(range(len(txs)))
    assert drill.nonce("pending") == drill.nonce() == len(txs)
