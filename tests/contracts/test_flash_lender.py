"""FlashLender lends, charges floor(amount * feeBps / 10000), and reverts unless repaid in full."""

from __future__ import annotations

import pytest

from .conftest import LENDER_FEE_BPS, USDC_UNIT, Chain

PUSH, PULL, SHORT, BAD_RETURN = 0, 1, 2, 3


@pytest.mark.parametrize("mode", [PUSH, PULL], ids=["push", "pull"])
def test_loan_repaid_with_fee(chain: Chain, mode: int) -> None:
    amount = 123_456 * USDC_UNIT + 789
    fee = amount * LENDER_FEE_BPS // 10_000
    assert chain.lender.functions.flashFee(chain.usdc.address, amount).call() == fee
    chain.transact(chain.borrower.functions.setMode(mode))
    lender_before = chain.balance(chain.usdc, chain.lender)
    borrower_before = chain.balance(chain.usdc, chain.borrower)

    borrow = chain.borrower.functions.borrow(chain.lender.address, chain.usdc.address, amount)
    receipt = chain.transact(borrow, sender=chain.other)

    assert chain.balance(chain.usdc, chain.lender) - lender_before == fee
    assert borrower_before - chain.balance(chain.usdc, chain.borrower) == fee
    assert chain.events(chain.lender, "FlashLoan", receipt) == [
        {"receiver": chain.borrower.address, "token": chain.usdc.address, "amount": amount, "fee": fee}
    ]


def test_fee_view_matches_floor(chain: Chain) -> None:
    # Floored: 11,111 raw units at 9 bps owe 9 (not 10), 1,111 owe nothing.
    fee_of = chain.lender.functions.flashFee
    assert fee_of(chain.usdc.address, 11_111).call() == 9
    assert fee_of(chain.usdc.address, 1_111).call() == 0
    assert chain.lender.functions.feeBps().call() == LENDER_FEE_BPS
    assert chain.lender.functions.maxFlashLoan(chain.usdc.address).call() == 1_000_000 * USDC_UNIT


@pytest.mark.parametrize(
    ("mode", "reason"),
    [(SHORT, "FlashLender: NOT_REPAID"), (BAD_RETURN, "FlashLender: CALLBACK_FAILED")],
    ids=["one-wei-short", "bad-callback-value"],
)
def test_loan_not_properly_repaid_reverts(chain: Chain, mode: int, reason: str) -> None:
    chain.transact(chain.borrower.functions.setMode(mode))
    borrow = chain.borrower.functions.borrow(chain.lender.address, chain.usdc.address, 50_000 * USDC_UNIT)
    assert chain.revert_reason(borrow) == reason


def test_loan_limits_and_owner_only_withdraw(chain: Chain) -> None:
    borrow = chain.borrower.functions.borrow
    lender, usdc = chain.lender.address, chain.usdc.address
    assert chain.revert_reason(borrow(lender, usdc, 0)) == "FlashLender: INSUFFICIENT_LIQUIDITY"
    too_much = 1_000_000 * USDC_UNIT + 1
    assert chain.revert_reason(borrow(lender, usdc, too_much)) == "FlashLender: INSUFFICIENT_LIQUIDITY"

    withdraw = chain.lender.functions.withdraw(usdc, chain.other, 5 * USDC_UNIT)
    assert chain.revert_reason(withdraw, sender=chain.other) == "FlashLender: NOT_OWNER"
    receipt = chain.transact(withdraw)
    assert chain.balance(chain.usdc, chain.other) == 5 * USDC_UNIT
    assert chain.events(chain.lender, "Withdrawal", receipt) == [
        {"token": usdc, "to": chain.other, "amount": 5 * USDC_UNIT}
    ]
