"""Transaction plans: calldata equals what web3 encodes from the committed ABI; fee caps and bumps."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3

from flows.execution.abi import load_artifact
from flows.execution.config import parse_execution
from flows.execution.plan import (
    CAPITAL_MODES,
    Fees,
    RouteError,
    bumped,
    calldata,
    cancel_plan,
    expected_profit,
    fee_caps,
    opportunity_id_bytes32,
    plan_execution,
    route_of,
)
from flows.execution.policy import Action, next_action
from flows.spec.problems import Problems
from tests.risk.factories import make_opportunity

LENDER = "0x" + "cd" * 20


def _hops(opp) -> list[tuple]:
    """The route as the contract's Hop structs, written out by hand from the opportunity."""
    out = []
    for i, pool in enumerate(opp.pools):
        v3 = opp.hop_kinds[i] == "v3"
        zero_for_one = int(opp.path[i], 16) < int(opp.path[i + 1], 16)
        out.append((Web3.to_checksum_address(pool), int(v3), zero_for_one, 0 if v3 else opp.fees_bps[i], 0))
    return out


@pytest.mark.parametrize("kinds", [("v2", "v3"), ("v3", "v2"), ()])
def test_calldata_matches_the_artifact_abi(kinds) -> None:
    opp = make_opportunity(kinds=kinds)
    executor = Web3().eth.contract(abi=load_artifact("ArbExecutor").abi)
    oid = bytes.fromhex(opp.id).ljust(32, b"\x00")
    usdc = Web3.to_checksum_address(opp.token_in)
    hops = _hops(opp)
    own = executor.encode_abi("execute", args=[oid, usdc, hops, opp.amount_in, 123])
    assert "0x" + calldata(opp, 123, "own").hex() == own
    swap = executor.encode_abi("executeWithFlashSwap", args=[oid, usdc, hops, opp.amount_in, 5])
    assert "0x" + calldata(opp, 5).hex() == swap  # flash_swap is the default
    loan = executor.encode_abi(
        "executeWithFlashLoan", args=[oid, Web3.to_checksum_address(LENDER), usdc, hops, opp.amount_in, 7]
    )
    assert "0x" + calldata(opp, 7, "flash_loan", LENDER).hex() == loan


def test_route_directions_fees_and_kinds() -> None:
    opp = make_opportunity(kinds=("v3", "v2"), fees_bps=(5, 25))
    first, second = route_of(opp)
    # USDC is 0xaa.., WETH 0xbb..: USDC is token0 of both pools, so the first hop is zero-for-one.
    assert (first.kind, first.zero_for_one, first.fee_bps) == ("v3", True, 0)
    assert (second.kind, second.zero_for_one, second.fee_bps) == ("v2", False, 25)
    assert [h.kind for h in route_of(make_opportunity())] == ["v2", "v2"]  # kinds not stated: V2 pairs
    with pytest.raises(RouteError, match="cex"):
        route_of(make_opportunity(kinds=("v2", "cex")))
    with pytest.raises(RouteError, match="one cycle"):
        route_of(make_opportunity(kinds=("v2",)))


def test_plan_kind_follows_the_capital_mode() -> None:
    fees = Fees(10, 1)
    common = {"chain_id": 1, "executor": LENDER, "fees": fees, "gas_limit": 300_000, "min_net_profit": 5}
    kinds = {
        c: plan_execution(make_opportunity(), capital=c, flash_lender=LENDER, **common).kind for c in CAPITAL_MODES
    }
    assert kinds == {"own": "execute", "flash_swap": "flash_swap", "flash_loan": "flash_loan"}
    own = plan_execution(make_opportunity(), capital="own", **common)
    assert own.min_profit == 100 + 5  # gas cost + floor
    tx = own.tx(7)
    assert (tx["type"], tx["nonce"], tx["maxFeePerGas"], tx["maxPriorityFeePerGas"], tx["value"]) == (2, 7, 10, 1, 0)
    with pytest.raises(ValueError, match="lender"):
        plan_execution(make_opportunity(), capital="flash_loan", **common)
    with pytest.raises(ValueError, match="unknown capital"):
        plan_execution(make_opportunity(), capital="borrowed", **common)


def test_expected_profit_nets_the_lenders_fee_only_for_flash_loans() -> None:
    opp = make_opportunity(flash_fee=9)
    assert expected_profit(opp, "own") == expected_profit(opp, "flash_swap") == 1_000
    assert expected_profit(opp, "flash_loan") == 991
    assert expected_profit(opp, "flash_loan", lender_fee=8) == 992


def test_capital_is_validated_in_the_spec() -> None:
    problems = Problems(Path("spec.yaml"))
    assert parse_execution({"capital": "own"}, problems).capital == "own"
    assert parse_execution({}, problems).capital == "flash_swap"
    assert not problems.items
    parse_execution({"capital": "borrowed"}, problems)
    [line] = problems.items
    assert "risk.execution.capital: expected one of own, flash_swap, flash_loan, got 'borrowed'" in line


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
