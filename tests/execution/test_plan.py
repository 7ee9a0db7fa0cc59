"""Transaction plans: calldata equals what web3 encodes from the committed ABI; fee caps and bumps."""

from __future__ import annotations

import pytest
from web3 import Web3

from flows.execution.abi import load_artifact
from flows.execution.plan import Fees, bumped, calldata, cancel_plan, fee_caps, opportunity_id_bytes32, plan_execution
from flows.execution.policy import Action, next_action
from tests.risk.factories import make_opportunity

LENDER = "0x" + "cd" * 20


def test_calldata_matches_the_artifact_abi() -> None:
    opp = make_opportunity()
    executor = Web3().eth.contract(abi=load_artifact("ArbExecutor").abi)
    oid = bytes.fromhex(opp.id).ljust(32, b"\x00")
    pairs = [Web3.to_checksum_address(p) for p in opp.pools]
    path = [Web3.to_checksum_address(t) for t in opp.path]
    expected = executor.encode_abi("execute", args=[oid, pairs, path, opp.amount_in, 123])
    assert "0x" + calldata(opp, 123).hex() == expected
    flash = executor.encode_abi(
        "executeWithFlashLoan", args=[oid, Web3.to_checksum_address(LENDER), pairs, path, opp.amount_in, 7]
    )
    assert "0x" + calldata(opp, 7, LENDER).hex() == flash


def test_plan_uses_flash_loan_only_when_priced_with_a_fee() -> None:
    fees = Fees(10, 1)
    own = plan_execution(
        make_opportunity(),
        chain_id=1,
        executor=LENDER,
        fees=fees,
        gas_limit=300_000,
        min_net_profit=5,
        flash_lender=LENDER,
    )
    assert own.kind == "execute" and own.min_profit == 100 + 5  # gas cost + floor
    flash = plan_execution(
        make_opportunity(flash_fee=9),
        chain_id=1,
        executor=LENDER,
        fees=fees,
        gas_limit=300_000,
        min_net_profit=5,
        flash_lender=LENDER,
    )
    assert flash.kind == "flash"
    tx = own.tx(7)
    assert (tx["type"], tx["nonce"], tx["maxFeePerGas"], tx["maxPriorityFeePerGas"], tx["value"]) == (2, 7, 10, 1, 0)


def test_opportunity_id_bytes32() -> None:
    assert opportunity_id_bytes32("ab" * 16) == bytes.fromhex("ab" * 16) + b"\x00" * 16
    assert len(opportunity_id_bytes32("not hex")) == 32


def test_fee_caps_never_exceed_the_limit() -> None:
    assert fee_caps(10, 3, 100) == Fees(23, 3)
    assert fee_caps(60, 3, 100) == Fees(100, 3)
    assert fee_caps(99, 5, 100) == Fees(100, 5)
    with pytest.raises(ValueError, match="above the gas price cap"):
        fee_caps(101, 1, 100)


def test_bumps_raise_both_caps_or_refuse_above_the_limit() -> None:
    assert bumped(Fees(100, 10), 1_250, 1_000) == Fees(113, 12)
    assert bumped(Fees(1, 0), 1_250, 1_000) == Fees(2, 1)
    assert bumped(Fees(900, 10), 1_250, 1_000) is None


def test_cancel_plan_is_a_zero_value_self_transfer() -> None:
    plan = cancel_plan("0x" + "ef" * 20, 31337, Fees(5, 2))
    assert (plan.kind, plan.value, plan.data, plan.gas_limit) == ("cancel", 0, b"", 21_000)
    assert plan.to.lower() == "0x" + "ef" * 20


@pytest.mark.parametrize(
    ("now", "replaced", "cancelled", "valid", "expected"),
    [
        (5, False, False, True, Action.WAIT),
        (10, False, False, True, Action.REPLACE),
        (10, False, False, False, Action.CANCEL),
        (10, True, False, True, Action.CANCEL),
        (10, True, True, True, Action.WAIT),
        (100, True, True, True, Action.ABANDON),
    ],
)
def test_replace_or_cancel_policy(now, replaced, cancelled, valid, expected) -> None:
    got = next_action(
        now_ns=now,
        first_sent_ns=0,
        next_check_ns=10,
        replaced=replaced,
        cancelled=cancelled,
        still_valid=valid,
        abandon_after_ns=100,
    )
    assert got is expected
