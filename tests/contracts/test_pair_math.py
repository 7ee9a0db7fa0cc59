"""PulsePair pays exactly flows.amm.v2.get_amount_out, to the wei, and not one wei more.

Fifty seeded cases over four pairs (30 and 25 bps; 6- and 18-decimal tokens), both directions, inputs from 1e-7
to 10x the input reserve; odd cases first move the pool with another swap so reserves are not round numbers.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
from web3.contract import Contract

from flows.amm.v2 import get_amount_in, get_amount_out
from flows.execution.abi import load_artifact

from .conftest import DEPLOY_GAS, USDC_UNIT, WETH_UNIT, Chain

PAIRS = [
    ("a_usdc_weth", "usdc", "weth"),
    ("a_usdc_weth", "weth", "usdc"),
    ("b_usdc_weth", "usdc", "weth"),
    ("b_usdc_weth", "weth", "usdc"),
    ("a_weth_dai", "weth", "dai"),
    ("a_weth_dai", "dai", "weth"),
    ("a_dai_usdc", "dai", "usdc"),
    ("a_dai_usdc", "usdc", "dai"),
]
CASES = range(50)


def _ordered(pair: Contract, token_in: Contract, amount_in_side: int, amount_out_side: int) -> tuple[int, int]:
    """Map (value on token_in's side, value on the other side) to (token0 value, token1 value)."""
    if pair.functions.token0().call() == token_in.address:
        return amount_in_side, amount_out_side
    return amount_out_side, amount_in_side


@pytest.mark.parametrize("case", CASES)
def test_swap_pays_exactly_get_amount_out(chain: Chain, case: int) -> None:
    rng = random.Random(case)
    pair_name, in_name, out_name = PAIRS[case % len(PAIRS)]
    pair: Contract = getattr(chain, pair_name)
    token_in: Contract = getattr(chain, in_name)
    token_out: Contract = getattr(chain, out_name)
    fee = pair.functions.feeBps().call()
    assert fee == (25 if pair_name.startswith("b_") else 30)

    if case % 2:
        reserve_out_before, _ = chain.reserves(pair, token_out)
        chain.swap(pair, token_out, int(reserve_out_before * 10 ** rng.uniform(-4, -1)))

    reserve_in, reserve_out = chain.reserves(pair, token_in)
    amount_in = max(1, int(reserve_in * 10 ** rng.uniform(-7, 1)))
    expected = get_amount_out(amount_in, reserve_in, reserve_out, fee)
    assert 0 < expected < reserve_out
    if fee == 30:
        # Independent of flows.amm: the Uniswap V2 router's 997/1000 formula.
        assert expected == (amount_in * 997 * reserve_out) // (reserve_in * 1000 + amount_in * 997)

    recipient = chain.other
    received_before = chain.balance(token_out, recipient)
    chain.transact(token_in.functions.transfer(pair.address, amount_in))

    # One wei above the formula breaks the K check; the formula itself passes.
    too_much = _ordered(pair, token_in, 0, expected + 1)
    assert chain.revert_reason(pair.functions.swap(*too_much, recipient, b"")) == "PulsePair: K"
    outs = _ordered(pair, token_in, 0, expected)
    receipt = chain.transact(pair.functions.swap(*outs, recipient, b""))

    assert chain.balance(token_out, recipient) - received_before == expected
    ins = _ordered(pair, token_in, amount_in, 0)
    assert chain.events(pair, "Swap", receipt) == [
        {
            "sender": chain.owner,
            "amount0In": ins[0],
            "amount1In": ins[1],
            "amount0Out": outs[0],
            "amount1Out": outs[1],
            "to": recipient,
        }
    ]
    new_reserves = _ordered(pair, token_in, reserve_in + amount_in, reserve_out - expected)
    assert chain.events(pair, "Sync", receipt) == [{"reserve0": new_reserves[0], "reserve1": new_reserves[1]}]
    assert tuple(pair.functions.getReserves().call()[:2]) == new_reserves


def test_swap_requires_output_input_and_liquidity(chain: Chain) -> None:
    pair = chain.a_usdc_weth
    reserve0, reserve1, _ = pair.functions.getReserves().call()
    swap = pair.functions.swap
    assert chain.revert_reason(swap(0, 0, chain.other, b"")) == "PulsePair: INSUFFICIENT_OUTPUT_AMOUNT"
    assert chain.revert_reason(swap(1, 0, chain.other, b"")) == "PulsePair: INSUFFICIENT_INPUT_AMOUNT"
    assert chain.revert_reason(swap(reserve0, 0, chain.other, b"")) == "PulsePair: INSUFFICIENT_LIQUIDITY"
    assert chain.revert_reason(swap(0, reserve1, chain.other, b"")) == "PulsePair: INSUFFICIENT_LIQUIDITY"
    token0 = pair.functions.token0().call()
    assert chain.revert_reason(swap(1, 0, token0, b"")) == "PulsePair: INVALID_TO"


def test_flash_swap_repaid_in_callback(chain: Chain) -> None:
    """Take WETH first, pay USDC in uniswapV2Call: the least input passing K is get_amount_in's, to the wei."""
    pair = chain.a_usdc_weth
    reserve_usdc, reserve_weth = chain.reserves(pair, chain.usdc)
    weth_out = WETH_UNIT // 5
    usdc_in = get_amount_in(weth_out, reserve_usdc, reserve_weth, 30)
    # get_amount_in adds 1 unconditionally; the least passing input may be one lower.
    while get_amount_out(usdc_in - 1, reserve_usdc, reserve_weth, 30) >= weth_out:
        usdc_in -= 1
    assert get_amount_out(usdc_in, reserve_usdc, reserve_weth, 30) >= weth_out
    assert usdc_in < 1_000 * USDC_UNIT  # the borrower's balance

    usdc_is_token0 = pair.functions.token0().call() == chain.usdc.address
    outs = (0, weth_out) if usdc_is_token0 else (weth_out, 0)

    def repay(amount: int) -> tuple[int, int]:
        return (amount, 0) if usdc_is_token0 else (0, amount)

    flash = chain.borrower.functions.flashSwap
    assert chain.revert_reason(flash(pair.address, *outs, *repay(usdc_in - 1))) == "PulsePair: K"
    receipt = chain.transact(flash(pair.address, *outs, *repay(usdc_in)))

    assert chain.balance(chain.weth, chain.borrower) == weth_out
    assert chain.balance(chain.usdc, chain.borrower) == 1_000 * USDC_UNIT - usdc_in
    [swap] = chain.events(pair, "Swap", receipt)
    assert (swap["sender"], swap["to"]) == (chain.borrower.address, chain.borrower.address)
    assert chain.reserves(pair, chain.usdc) == (reserve_usdc + usdc_in, reserve_weth - weth_out)


MAINNET_SWAPS = list(
    csv.DictReader((Path(__file__).parent / "data" / "v2_pair_swaps_sample.csv").read_text().splitlines())
)


@pytest.mark.parametrize("row", MAINNET_SWAPS, ids=[f"{r['block_number']}-{r['tx_hash'][:10]}" for r in MAINNET_SWAPS])
def test_replays_mainnet_uniswap_v2_swaps(chain: Chain, row: dict[str, str]) -> None:
    """A 30 bps PulsePair holding a real V2 pair's reserves accepts the real swap and ends at the real Sync."""
    before = (int(row["reserve0_before"]), int(row["reserve1_before"]))
    ins = (int(row["amount0_in"]), int(row["amount1_in"]))
    outs = (int(row["amount0_out"]), int(row["amount1_out"]))
    after = (int(row["reserve0_after"]), int(row["reserve1_after"]))

    # A fresh venue per row: one pair per token pair per factory.
    artifact = load_artifact("PulseFactory")
    deploy = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode).constructor()
    receipt = chain.w3.eth.get_transaction_receipt(deploy.transact({"from": chain.owner, "gas": DEPLOY_GAS}))
    factory = chain.contract_at("PulseFactory", receipt["contractAddress"])
    chain.transact(factory.functions.createPair(chain.raw_a.address, chain.raw_b.address, 30), gas=DEPLOY_GAS)
    pair = chain.contract_at("PulsePair", factory.functions.getPair(chain.raw_a.address, chain.raw_b.address).call())
    token0, token1 = (
        (chain.raw_a, chain.raw_b)
        if pair.functions.token0().call() == chain.raw_a.address
        else (chain.raw_b, chain.raw_a)
    )
    chain.transact(token0.functions.transfer(pair.address, before[0]))
    chain.transact(token1.functions.transfer(pair.address, before[1]))
    chain.transact(pair.functions.mint(chain.owner))
    assert tuple(pair.functions.getReserves().call()[:2]) == before

    token_in, amount_in = (token0, ins[0]) if ins[0] else (token1, ins[1])
    reserve_in, reserve_out = (before[0], before[1]) if ins[0] else (before[1], before[0])
    max_out = get_amount_out(amount_in, reserve_in, reserve_out, 30)
    paid = outs[1] if ins[0] else outs[0]
    assert max_out == paid if row["fee30bps_check"] == "exact" else max_out > paid

    chain.transact(token_in.functions.transfer(pair.address, amount_in))
    if row["fee30bps_check"] == "exact":
        greedy = (outs[0], outs[1] + 1) if ins[0] else (outs[0] + 1, outs[1])
        assert chain.revert_reason(pair.functions.swap(*greedy, chain.other, b"")) == "PulsePair: K"
    receipt = chain.transact(pair.functions.swap(*outs, chain.other, b""))
    assert chain.events(pair, "Sync", receipt) == [{"reserve0": after[0], "reserve1": after[1]}]
    [swap] = chain.events(pair, "Swap", receipt)
    assert (swap["amount0In"], swap["amount1In"], swap["amount0Out"], swap["amount1Out"]) == (*ins, *outs)
