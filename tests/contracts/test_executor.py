"""ArbExecutor realizes exactly the hop-by-hop integer prediction, or reverts.

Predictions use flows.amm.v2.get_amount_out on the reserves read before the transaction; every profit, fee and
balance is asserted to the wei.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from web3 import Web3
from web3.contract import Contract

from flows.amm.v2 import get_amount_out

from .conftest import LENDER_FEE_BPS, USDC_UNIT, Chain

# Hops as (pair, token going in); the state of one hop as (reserve_in, reserve_out, fee_bps).
Route = Sequence[tuple[Contract, Contract]]
HopState = tuple[int, int, int]

# Regression guard for the gas figure recorded in contracts/README.md.
MAX_GAS_TWO_HOP_EXECUTE = 145_000


def opportunity_id(label: str) -> bytes:
    return bytes(Web3.keccak(text=label))


def hop_states(chain: Chain, route: Route) -> list[HopState]:
    states = []
    for pair, token_in in route:
        reserve_in, reserve_out = chain.reserves(pair, token_in)
        states.append((reserve_in, reserve_out, pair.functions.feeBps().call()))
    return states


def cycle_out(states: Sequence[HopState], amount_in: int) -> int:
    amount = amount_in
    for reserve_in, reserve_out, fee in states:
        amount = get_amount_out(amount, reserve_in, reserve_out, fee)
    return amount


def best_amount_in(states: Sequence[HopState], high: int) -> int:
    """Integer ternary search for the input maximizing cycle_out(x) - x (concave) on [1, high]."""
    low = 1
    while high - low > 2:
        left = low + (high - low) // 3
        right = high - (high - low) // 3
        if cycle_out(states, left) - left < cycle_out(states, right) - right:
            low = left
        else:
            high = right
    return max(range(low, high + 1), key=lambda x: cycle_out(states, x) - x)


def route_args(route: Route) -> tuple[list[str], list[str]]:
    pairs = [pair.address for pair, _ in route]
    path = [token.address for _, token in route]
    return pairs, [*path, path[0]]


@pytest.fixture
def dislocated(chain: Chain) -> Route:
    """Buy WETH with 60,000 USDC on venue B, so WETH is dearer there: USDC -> WETH on A -> USDC on B pays."""
    chain.swap(chain.b_usdc_weth, chain.usdc, 60_000 * USDC_UNIT)
    return [(chain.a_usdc_weth, chain.usdc), (chain.b_usdc_weth, chain.weth)]


def test_two_hop_profit_equals_prediction(
    chain: Chain, dislocated: Route, record_property: pytest.RecordProperty
) -> None:
    states = hop_states(chain, dislocated)
    amount_in = best_amount_in(states, 200_000 * USDC_UNIT)
    amount_out = cycle_out(states, amount_in)
    profit = amount_out - amount_in
    assert profit > 100 * USDC_UNIT
    # The optimum really is one: one unit either side earns no more.
    assert cycle_out(states, amount_in + 1) - (amount_in + 1) <= profit
    assert cycle_out(states, amount_in - 1) - (amount_in - 1) <= profit

    oid = opportunity_id("two-hop")
    pairs, path = route_args(dislocated)
    execute = chain.executor.functions.execute(oid, pairs, path, amount_in, profit)
    assert execute.call({"from": chain.owner, "gas": 1_000_000}) == [amount_out, profit]
    balance_before = chain.balance(chain.usdc, chain.executor)
    receipt = chain.transact(execute)

    assert chain.events(chain.executor, "Arbitrage", receipt) == [
        {
            "opportunityId": oid,
            "tokenIn": chain.usdc.address,
            "amountIn": amount_in,
            "amountOut": amount_out,
            "profit": profit,
        }
    ]
    assert chain.balance(chain.usdc, chain.executor) - balance_before == profit
    # Each pair saw exactly the predicted hop.
    weth_mid = cycle_out(states[:1], amount_in)
    (a_in, a_out, _), (b_in, b_out, _) = states
    assert chain.reserves(chain.a_usdc_weth, chain.usdc) == (a_in + amount_in, a_out - weth_mid)
    assert chain.reserves(chain.b_usdc_weth, chain.weth) == (b_in + weth_mid, b_out - amount_out)

    gas_used = receipt["gasUsed"]
    record_property("gas_used_execute_2hop", gas_used)
    print(f"\nArbExecutor.execute, 2 hops: gas used {gas_used}")
    assert gas_used < MAX_GAS_TWO_HOP_EXECUTE


def test_min_profit_above_achievable_reverts(chain: Chain, dislocated: Route) -> None:
    states = hop_states(chain, dislocated)
    amount_in = 20_000 * USDC_UNIT
    profit = cycle_out(states, amount_in) - amount_in
    assert profit > 0
    pairs, path = route_args(dislocated)
    execute = chain.executor.functions.execute(opportunity_id("x"), pairs, path, amount_in, profit + 1)

    assert chain.revert_reason(execute) == "PROFIT_TOO_LOW"
    balance_before = chain.balance(chain.usdc, chain.executor)
    chain.transact_failing(execute)
    assert chain.balance(chain.usdc, chain.executor) == balance_before
    assert hop_states(chain, dislocated) == states


def test_losing_cycle_reverts_with_reason(chain: Chain) -> None:
    # No dislocation: the round trip only pays fees, so even minProfit 0 fails, with the reason, not a panic.
    route = [(chain.a_usdc_weth, chain.usdc), (chain.b_usdc_weth, chain.weth)]
    pairs, path = route_args(route)
    execute = chain.executor.functions.execute(opportunity_id("loss"), pairs, path, 10_000 * USDC_UNIT, 0)
    assert chain.revert_reason(execute) == "PROFIT_TOO_LOW"


def test_three_hop_triangular_cycle(chain: Chain) -> None:
    # Sell 100,000 DAI for USDC on the DAI/USDC pool: DAI is cheap there, so USDC -> DAI -> WETH -> USDC pays.
    chain.swap(chain.a_dai_usdc, chain.dai, 100_000 * 10**18)
    route = [(chain.a_dai_usdc, chain.usdc), (chain.a_weth_dai, chain.dai), (chain.a_usdc_weth, chain.weth)]
    reverse = [(chain.a_usdc_weth, chain.usdc), (chain.a_weth_dai, chain.weth), (chain.a_dai_usdc, chain.dai)]
    states = hop_states(chain, route)
    amount_in = best_amount_in(states, 200_000 * USDC_UNIT)
    amount_out = cycle_out(states, amount_in)
    profit = amount_out - amount_in
    assert profit > 0
    assert cycle_out(hop_states(chain, reverse), amount_in) < amount_in

    oid = opportunity_id("triangle")
    pairs, path = route_args(route)
    balance_before = chain.balance(chain.usdc, chain.executor)
    receipt = chain.transact(chain.executor.functions.execute(oid, pairs, path, amount_in, profit))

    [event] = chain.events(chain.executor, "Arbitrage", receipt)
    assert event == {
        "opportunityId": oid,
        "tokenIn": chain.usdc.address,
        "amountIn": amount_in,
        "amountOut": amount_out,
        "profit": profit,
    }
    assert chain.balance(chain.usdc, chain.executor) - balance_before == profit
    assert len(chain.events(chain.a_weth_dai, "Swap", receipt)) == 1
    print(f"\nArbExecutor.execute, 3 hops: gas used {receipt['gasUsed']}")


def test_flash_loan_cycle_pays_the_fee(chain: Chain, dislocated: Route) -> None:
    # Empty the executor's USDC first: the cycle must be funded by the loan alone.
    own_usdc = chain.balance(chain.usdc, chain.executor)
    chain.transact(chain.executor.functions.withdraw(chain.usdc.address, chain.owner, own_usdc))
    assert chain.balance(chain.usdc, chain.executor) == 0

    states = hop_states(chain, dislocated)
    amount_in = 25_000 * USDC_UNIT
    amount_out = cycle_out(states, amount_in)
    fee = amount_in * LENDER_FEE_BPS // 10_000
    assert chain.lender.functions.flashFee(chain.usdc.address, amount_in).call() == fee
    net = amount_out - amount_in - fee
    assert net > 0

    oid = opportunity_id("flash")
    pairs, path = route_args(dislocated)
    flash = chain.executor.functions.executeWithFlashLoan
    lender = chain.lender.address
    assert chain.revert_reason(flash(oid, lender, pairs, path, amount_in, net + 1)) == "PROFIT_TOO_LOW"
    call = flash(oid, lender, pairs, path, amount_in, net)
    assert call.call({"from": chain.owner, "gas": 1_000_000}) == [amount_out, net]

    lender_before = chain.balance(chain.usdc, chain.lender)
    receipt = chain.transact(call)

    assert chain.events(chain.executor, "Arbitrage", receipt) == [
        {
            "opportunityId": oid,
            "tokenIn": chain.usdc.address,
            "amountIn": amount_in,
            "amountOut": amount_out,
            "profit": net,
        }
    ]
    assert chain.events(chain.lender, "FlashLoan", receipt) == [
        {"receiver": chain.executor.address, "token": chain.usdc.address, "amount": amount_in, "fee": fee}
    ]
    assert chain.balance(chain.usdc, chain.lender) - lender_before == fee
    assert chain.balance(chain.usdc, chain.executor) == net
    print(f"\nArbExecutor.executeWithFlashLoan, 2 hops: gas used {receipt['gasUsed']}")


def test_flash_loan_reverts_when_profit_cannot_cover_the_fee(chain: Chain, dislocated: Route) -> None:
    states = hop_states(chain, dislocated)
    best = best_amount_in(states, 200_000 * USDC_UNIT)
    # Past the optimum gross profit falls towards zero while the fee keeps growing: find a size in between.
    amount_in = next(
        x for x in range(best, 4 * best, best // 100) if 0 < cycle_out(states, x) - x < x * LENDER_FEE_BPS // 10_000
    )
    gross = cycle_out(states, amount_in) - amount_in

    oid = opportunity_id("fee-too-high")
    pairs, path = route_args(dislocated)
    flash = chain.executor.functions.executeWithFlashLoan(oid, chain.lender.address, pairs, path, amount_in, 0)
    assert chain.revert_reason(flash) == "PROFIT_TOO_LOW"
    lender_before = chain.balance(chain.usdc, chain.lender)
    chain.transact_failing(flash)
    assert chain.balance(chain.usdc, chain.lender) == lender_before

    # The same cycle from the executor's own funds clears: only the fee was missing.
    receipt = chain.transact(chain.executor.functions.execute(oid, pairs, path, amount_in, 0))
    assert chain.events(chain.executor, "Arbitrage", receipt)[0]["profit"] == gross


def test_only_the_owner_can_execute_or_withdraw(chain: Chain, dislocated: Route) -> None:
    pairs, path = route_args(dislocated)
    oid = opportunity_id("intruder")
    executor = chain.executor.functions
    calls = [
        executor.execute(oid, pairs, path, 1_000 * USDC_UNIT, 0),
        executor.executeWithFlashLoan(oid, chain.lender.address, pairs, path, 1_000 * USDC_UNIT, 0),
        executor.withdraw(chain.usdc.address, chain.other, 1),
        executor.transferOwnership(chain.other),
    ]
    for call in calls:
        assert chain.revert_reason(call, sender=chain.other) == "NOT_OWNER"
    balance_before = chain.balance(chain.usdc, chain.executor)
    chain.transact_failing(calls[0], sender=chain.other)
    assert chain.balance(chain.usdc, chain.executor) == balance_before
    assert executor.owner().call() == chain.owner


def test_withdraw(chain: Chain) -> None:
    before = chain.balance(chain.usdc, chain.other)
    receipt = chain.transact(chain.executor.functions.withdraw(chain.usdc.address, chain.other, 1_234_567))
    assert chain.balance(chain.usdc, chain.other) - before == 1_234_567
    assert chain.balance(chain.usdc, chain.executor) == 200_000 * USDC_UNIT - 1_234_567
    assert chain.events(chain.executor, "Withdrawal", receipt) == [
        {"token": chain.usdc.address, "to": chain.other, "amount": 1_234_567}
    ]
    too_much = chain.executor.functions.withdraw(chain.usdc.address, chain.other, 200_000 * USDC_UNIT)
    assert chain.revert_reason(too_much) == "TRANSFER_FAILED"


def test_flash_callback_only_from_the_awaited_lender(chain: Chain, dislocated: Route) -> None:
    data = b""
    direct = chain.executor.functions.onFlashLoan(chain.executor.address, chain.usdc.address, 1, 0, data)
    assert chain.revert_reason(direct, sender=chain.other) == "UNTRUSTED_LENDER"
    # Anyone can ask the lender to lend to the executor; the executor must refuse the unsolicited callback.
    unsolicited = chain.lender.functions.flashLoan(chain.executor.address, chain.usdc.address, 10**6, data)
    assert chain.revert_reason(unsolicited, sender=chain.other) == "UNTRUSTED_LENDER"


def test_rejects_malformed_routes(chain: Chain) -> None:
    usdc, weth, dai = chain.usdc.address, chain.weth.address, chain.dai.address
    a, b = chain.a_usdc_weth.address, chain.b_usdc_weth.address
    execute = chain.executor.functions.execute
    oid = opportunity_id("bad")
    amount = 1_000 * USDC_UNIT
    assert chain.revert_reason(execute(oid, [a], [usdc, weth], amount, 0)) == "BAD_PATH"
    assert chain.revert_reason(execute(oid, [a, b], [usdc, weth], amount, 0)) == "BAD_PATH"
    assert chain.revert_reason(execute(oid, [a, b], [usdc, weth, dai], amount, 0)) == "NOT_A_CYCLE"
    assert chain.revert_reason(execute(oid, [a, b], [usdc, weth, usdc], 0, 0)) == "ZERO_AMOUNT"
    wrong_pair = chain.a_weth_dai.address
    assert chain.revert_reason(execute(oid, [a, wrong_pair], [usdc, weth, usdc], amount, 0)) == ("PAIR_TOKEN_MISMATCH")
