"""Risk + execution service on anvil: records, replays, kill switch, breaker, and no key anywhere."""

from __future__ import annotations

import logging
import traceback
from dataclasses import replace
from pathlib import Path

import pytest

from flows.execution.chain import Chain, Simulated
from flows.execution.errors import SignerError
from flows.execution.ledger import Ledger
from flows.execution.service import RiskExecution
from flows.execution.signer import KEY_ENV, Signer
from flows.risk.kill_switch import KillSwitch
from flows.risk.limits import TokenLimit
from schemas.serde import codec, from_i256, from_u256
from tests.execution.conftest import Env, make_executor
from tests.risk.factories import make_limits

DECISIONS, EXECUTIONS = codec("arb.decision"), codec("arb.execution")


def _service(env: Env, ledger: Ledger, tmp_path: Path, **limits) -> RiskExecution:
    limits = {"max_notional": TokenLimit({}, 10**15), "max_quote_age_blocks": 100} | limits
    svc = RiskExecution(
        limits=make_limits(**limits),
        kill_switch=KillSwitch(tmp_path),
        ledger=ledger,
        chain=Chain(env.w3),
        executor=make_executor(env, ledger, KillSwitch(tmp_path).is_on),
    )
    svc.pending = svc.start()
    return svc


def _drain(svc: RiskExecution, limit: int = 200) -> list:
    out = []
    for _ in range(limit):
        out.extend(svc.poll())
        if not svc.in_flight:
            return out
    raise AssertionError("still in flight")


def test_accept_execute_then_replay_sends_nothing(env: Env, tmp_path: Path, ledger: Ledger) -> None:
    svc = _service(env, ledger, tmp_path)
    env.dislocate()
    opp = env.opportunity()
    emits = svc.on_opportunity(opp, 1) + _drain(svc)
    decision = DECISIONS.decode(emits[0].value)
    assert (decision["accepted"], decision["reason"], decision["opportunity_id"]) == (True, "accepted", opp.id)
    [execution] = [EXECUTIONS.decode(e.value) for e in emits if e.kind == "execution"]
    assert execution["status"] == "mined"
    assert from_i256(execution["realized_profit"]) == from_i256(execution["predicted_profit"]) == opp.gross_profit
    assert from_u256(execution["realized_amount_out"]) == opp.amount_out
    assert {"risk_in_ns", "decision_ns", "exec_sent_ns", "exec_accepted_ns", "exec_receipt_ns"} <= set(
        execution["trace"]
    )
    nonce = env.w3.eth.get_transaction_count(env.signer.address)
    again = svc.on_opportunity(opp, 2)
    assert [(e.kind, e.label) for e in again] == [("decision", "replayed"), ("execution", "replayed")]
    assert again[0].value == emits[0].value
    assert env.w3.eth.get_transaction_count(env.signer.address) == nonce


def test_realized_pnl_today_in_usd_follows_mined_trades(env: Env, tmp_path: Path, ledger: Ledger) -> None:
    svc = _service(env, ledger, tmp_path)
    assert svc.pnl_today_usd() == 0.0
    env.dislocate()
    opp = env.opportunity(usd_prices={env.usdc: 1.0})
    assert opp.net_profit_usd > 0
    emits = svc.on_opportunity(opp, 1) + _drain(svc)
    [execution] = [EXECUTIONS.decode(e.value) for e in emits if e.kind == "execution"]
    assert execution["status"] == "mined"
    # Realized profit less gas in USDC (6 decimals) at 1 USD: the risk state's raw PnL, valued per unit.
    raw = svc.state.pnl_today[opp.token_in]
    assert 0 < raw <= from_i256(execution["realized_profit"])
    assert svc.pnl_today_usd() == pytest.approx(raw / 10**6)


def test_kill_switch_rejects_the_next_opportunity(env: Env, tmp_path: Path, ledger: Ledger) -> None:
    svc = _service(env, ledger, tmp_path)
    env.dislocate()
    KillSwitch(tmp_path).set(True, reason="test")
    nonce = env.w3.eth.get_transaction_count(env.signer.address)
    [emit] = svc.on_opportunity(env.opportunity(), 1)
    decision = DECISIONS.decode(emit.value)
    assert (decision["accepted"], decision["reason"], decision["limit_value"], decision["observed_value"]) == (
        False,
        "kill_switch",
        "off",
        "on",
    )
    assert env.w3.eth.get_transaction_count(env.signer.address) == nonce


def test_kill_switch_between_decision_and_broadcast_aborts(env: Env, tmp_path: Path, ledger: Ledger) -> None:
    svc = _service(env, ledger, tmp_path)
    env.dislocate()
    switch = KillSwitch(tmp_path)
    real = svc.executor.chain.simulate

    def simulate_then_switch(plan, sender):
        result = real(plan, sender)
        switch.set(True)
        return result

    svc.executor.chain.simulate = simulate_then_switch
    emits = svc.on_opportunity(env.opportunity(), 1)
    assert [e.label for e in emits] == ["accepted", "aborted"]
    assert svc.state.open == {}


def test_revert_counts_toward_the_breaker_and_opens_it(env: Env, tmp_path: Path, ledger: Ledger) -> None:
    svc = _service(env, ledger, tmp_path, max_consecutive_failures=1)
    env.dislocate()
    opp = env.opportunity()
    env.dislocate(usdc=52_000, venue=302)
    svc.executor.chain.simulate = lambda plan, sender: Simulated(
        opp.amount_out, opp.gross_profit
    )  # the pools moved after simulating
    emits = svc.on_opportunity(opp, 1) + _drain(svc)
    execution = EXECUTIONS.decode(emits[-1].value)
    assert (execution["status"], execution["revert_reason"]) == ("reverted", "PROFIT_TOO_LOW")
    assert svc.state.consecutive_failures == 1 and svc.breaker_open()
    assert ledger.risk_state()["consecutive_failures"] == 1  # persisted with the outcome
    env.dislocate(usdc=80_000)
    [emit] = svc.on_opportunity(env.opportunity(sequence=2), 2)
    assert DECISIONS.decode(emit.value)["reason"] == "circuit_open"


def test_restart_resumes_risk_state(env: Env, tmp_path: Path) -> None:
    first = Ledger(tmp_path / "l.sqlite")
    svc = _service(env, first, tmp_path, pair_cooldown_ms=3_600_000)
    env.dislocate()
    svc.on_opportunity(env.opportunity(), 1)
    _drain(svc)
    first.close()
    second = Ledger(tmp_path / "l.sqlite")
    try:
        svc2 = _service(env, second, tmp_path, pair_cooldown_ms=3_600_000)
        env.dislocate(usdc=30_000)
        [emit] = svc2.on_opportunity(env.opportunity(sequence=3), 3)
        assert DECISIONS.decode(emit.value)["reason"] == "pair_cooldown"
    finally:
        second.close()


def test_the_key_never_appears_in_logs_records_or_errors(
    env: Env, tmp_path: Path, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = env.key.removeprefix("0x")
    texts: list[str] = []
    blobs: list[bytes] = []
    svc = _service(env, ledger, tmp_path)
    env.dislocate()
    opp = env.opportunity()
    emits = svc.on_opportunity(opp, 1) + _drain(svc)
    env.dislocate(usdc=60_000)
    opp2 = env.opportunity(sequence=2)
    env.dislocate(usdc=70_000, venue=302)
    svc.executor.chain.simulate = lambda plan, sender: Simulated(opp2.amount_out, opp2.gross_profit)
    emits += svc.on_opportunity(opp2, 2) + _drain(svc)  # a reverted transaction and its warning
    blobs += [e.value for e in emits]
    texts += [repr(svc.executor.signer), repr(svc.executor), str(vars(svc.executor))]
    for bad in (key[:-2] + "zz", key + "00"):
        with pytest.raises(SignerError) as err:
            Signer.from_env({KEY_ENV: bad})
        texts.append("".join(traceback.format_exception(err.value)))
    texts.append(caplog.text)
    rows = (tmp_path / "ledger.sqlite").read_bytes() + (tmp_path / "ledger.sqlite-wal").read_bytes()
    blobs.append(rows)
    assert {EXECUTIONS.decode(e.value)["status"] for e in emits if e.kind == "execution"} == {"mined", "reverted"}
    for form in (key.lower(), key.upper(), key[:20].lower()):
        assert all(form not in t for t in texts)
        assert all(form.encode() not in b and bytes.fromhex(key) not in b for b in blobs)
    assert replace(opp, id="x").id == "x"


def test_a_certain_rejection_asks_the_node_nothing(env: Env, tmp_path: Path, ledger: Ledger) -> None:
    """A cex leg (detect-only) is rejected before the chain head is read: with a dead endpoint the reason is still
    ``not_executable``, not ``chain_unavailable``, and an executable opportunity on the same service does ask."""
    svc = RiskExecution(
        limits=make_limits(max_notional=TokenLimit({}, 10**15)),
        kill_switch=KillSwitch(tmp_path),
        ledger=ledger,
        chain=Chain.connect("http://127.0.0.1:9", timeout_s=0.5),  # discard port: nothing answers
        executor=None,
    )
    env.dislocate()
    opp = env.opportunity()
    cex = replace(opp, id="c" * 32, kinds=("cex", *opp.kinds[1:]))
    [emit] = svc.on_opportunity(cex, 1)
    assert DECISIONS.decode(emit.value)["reason"] == "not_executable"
    [emit] = svc.on_opportunity(opp, 2)
    assert DECISIONS.decode(emit.value)["reason"] == "chain_unavailable"
