"""Shared fixtures for the contract tests.

- ``env``: the genuine market of ops.simulator.chain.deploy on anvil (genuine Uniswap V2 and V3, the executor, the
lender),
  from tests/execution/conftest.py, for the executor's tests (test_executor.py).
- ``chain``: an in-process chain (eth-tester, py-evm) with pulsearb's own test contracts, for the fast unit tests
  of PulsePair/PulseFactory (the V2-compatible pair whose fee is a parameter, standing in for a V2 fork), the
  FlashLender and the test tokens. The deployment runs once per session; ``chain`` takes an EVM snapshot before
  each test and reverts to it afterwards, so every test starts from the same funded state:

- tokens: USDC (6 decimals), WETH and DAI (18 decimals), minted by ``owner``; RAWA and RAWB (18 decimals,
  2**112 - 1 each) to replay real pools' raw reserves;
- venue A = PulseFactory with 30 bps pairs (the Uniswap V2 fee): USDC/WETH, WETH/DAI, DAI/USDC;
- venue B = PulseFactory with 25 bps pairs: USDC/WETH;
- prices consistent everywhere: 1 WETH = 2,000 USDC = 2,000 DAI;
- FlashLender (9 bps) holding 1,000,000 USDC and 500 WETH;
- TestFlashBorrower holding 1,000 USDC (to pay loan fees and flash-swap inputs).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_tester.exceptions import TransactionFailed
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from flows.amm.v2 import get_amount_out
from flows.execution.abi import load_artifact
from tests.execution.conftest import _env, env  # noqa: F401 - the genuine market on anvil (test_executor.py)

USDC_UNIT = 10**6
WETH_UNIT = 10**18
DAI_UNIT = 10**18

VENUE_A_FEE_BPS = 30
VENUE_B_FEE_BPS = 25
LENDER_FEE_BPS = 9

# Explicit gas on every transaction: eth-tester's gas estimation re-executes each one and is ~4x slower.
DEPLOY_GAS = 6_000_000
TX_GAS = 1_000_000


@dataclass
class Chain:
    """The deployed contracts plus helpers; fields are web3 contract objects unless noted."""

    w3: Web3
    owner: str
    other: str
    usdc: Contract
    weth: Contract
    dai: Contract
    raw_a: Contract
    raw_b: Contract
    factory_a: Contract
    factory_b: Contract
    a_usdc_weth: Contract
    a_weth_dai: Contract
    a_dai_usdc: Contract
    b_usdc_weth: Contract
    lender: Contract
    borrower: Contract

    def transact(self, fn: Any, sender: str | None = None, gas: int = TX_GAS) -> TxReceipt:
        """Send a contract call as a transaction and require it to succeed.

        Args:
            fn: a bound web3 contract function (``contract.functions.f(...)``).
            sender: the sending account; ``owner`` by default.
            gas: gas limit.

        Returns:
            The receipt (status 1).
        """
        tx_hash = fn.transact({"from": sender or self.owner, "gas": gas})
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        assert receipt["status"] == 1, f"{fn.fn_name} failed: {self.revert_reason(fn, sender)}"
        return receipt

    def transact_failing(self, fn: Any, sender: str | None = None, gas: int = TX_GAS) -> TxReceipt:
        """Send a transaction that must be mined and revert; returns its receipt (status 0)."""
        tx_hash = fn.transact({"from": sender or self.owner, "gas": gas})
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        assert receipt["status"] == 0
        return receipt

    def revert_reason(self, fn: Any, sender: str | None = None) -> str:
        """Return the revert reason web3 decodes for ``fn`` run as an ``eth_call``; fail if it succeeds."""
        try:
            fn.call({"from": sender or self.owner, "gas": TX_GAS})
        except TransactionFailed as exc:
            message = str(exc)
            prefix = "execution reverted: "
            assert message.startswith(prefix), message
            return message.removeprefix(prefix)
        raise AssertionError(f"{fn.fn_name} did not revert")

    def events(self, contract: Contract, event: str, receipt: TxReceipt) -> list[dict[str, Any]]:
        """Decode the ``event`` logs that ``contract`` itself emitted in ``receipt``, in log order."""
        decoded = getattr(contract.events, event)().process_receipt(receipt, errors=DISCARD)
        return [dict(log["args"]) for log in decoded if log["address"] == contract.address]

    def balance(self, token: Contract, account: Contract | str) -> int:
        """Return ``token.balanceOf(account)`` in raw units."""
        address = account if isinstance(account, str) else account.address
        return token.functions.balanceOf(address).call()

    def reserves(self, pair: Contract, token_in: Contract) -> tuple[int, int]:
        """Return (reserve of token_in, reserve of the other token) of ``pair``, raw units."""
        reserve0, reserve1, _ = pair.functions.getReserves().call()
        if pair.functions.token0().call() == token_in.address:
            return reserve0, reserve1
        return reserve1, reserve0

    def swap(self, pair: Contract, token_in: Contract, amount_in: int, to: str | None = None) -> int:
        """Swap ``amount_in`` of ``token_in`` on ``pair`` from ``owner`` as a router would; return the output."""
        reserve_in, reserve_out = self.reserves(pair, token_in)
        fee = pair.functions.feeBps().call()
        amount_out = get_amount_out(amount_in, reserve_in, reserve_out, fee)
        self.transact(token_in.functions.transfer(pair.address, amount_in))
        zero_for_one = pair.functions.token0().call() == token_in.address
        outs = (0, amount_out) if zero_for_one else (amount_out, 0)
        self.transact(pair.functions.swap(*outs, to or self.owner, b""))
        return amount_out

    def contract_at(self, name: str, address: str) -> Contract:
        """Return a web3 contract object for the artifact ``name`` at ``address``."""
        return self.w3.eth.contract(address=address, abi=load_artifact(name).abi)


def _deploy(w3: Web3, owner: str, name: str, *args: Any) -> Contract:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx_hash = factory.constructor(*args).transact({"from": owner, "gas": DEPLOY_GAS})
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 1, f"deploying {name} failed"
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)


def _send(w3: Web3, owner: str, fn: Any, gas: int = TX_GAS) -> TxReceipt:
    receipt = w3.eth.get_transaction_receipt(fn.transact({"from": owner, "gas": gas}))
    assert receipt["status"] == 1, f"{fn.fn_name} failed during setup"
    return receipt


def _pool(
    w3: Web3,
    owner: str,
    factory: Contract,
    fee_bps: int,
    token_x: Contract,
    amount_x: int,
    token_y: Contract,
    amount_y: int,
) -> Contract:
    _send(w3, owner, factory.functions.createPair(token_x.address, token_y.address, fee_bps), gas=DEPLOY_GAS)
    address = factory.functions.getPair(token_x.address, token_y.address).call()
    pair = w3.eth.contract(address=address, abi=load_artifact("PulsePair").abi)
    _send(w3, owner, token_x.functions.transfer(address, amount_x))
    _send(w3, owner, token_y.functions.transfer(address, amount_y))
    _send(w3, owner, pair.functions.mint(owner))
    return pair


@pytest.fixture(scope="session")
def _deployed() -> Chain:
    w3 = Web3(EthereumTesterProvider())
    owner, other = w3.eth.accounts[0], w3.eth.accounts[1]

    usdc = _deploy(w3, owner, "TestToken", "USD Coin", "USDC", 6)
    weth = _deploy(w3, owner, "TestToken", "Wrapped Ether", "WETH", 18)
    dai = _deploy(w3, owner, "TestToken", "Dai Stablecoin", "DAI", 18)
    for token, unit in ((usdc, USDC_UNIT), (weth, WETH_UNIT), (dai, DAI_UNIT)):
        _send(w3, owner, token.functions.mint(owner, 100_000_000 * unit))
    # Two tokens with a uint112-sized supply, to hold any real pair's raw reserves.
    raw_a = _deploy(w3, owner, "TestToken", "Raw A", "RAWA", 18)
    raw_b = _deploy(w3, owner, "TestToken", "Raw B", "RAWB", 18)
    for token in (raw_a, raw_b):
        _send(w3, owner, token.functions.mint(owner, 2**112 - 1))

    factory_a = _deploy(w3, owner, "PulseFactory")
    factory_b = _deploy(w3, owner, "PulseFactory")
    usdc_2m, weth_1k, dai_2m = 2_000_000 * USDC_UNIT, 1_000 * WETH_UNIT, 2_000_000 * DAI_UNIT
    a_usdc_weth = _pool(w3, owner, factory_a, VENUE_A_FEE_BPS, usdc, usdc_2m, weth, weth_1k)
    a_weth_dai = _pool(w3, owner, factory_a, VENUE_A_FEE_BPS, weth, weth_1k, dai, dai_2m)
    a_dai_usdc = _pool(w3, owner, factory_a, VENUE_A_FEE_BPS, dai, dai_2m, usdc, usdc_2m)
    b_usdc_weth = _pool(w3, owner, factory_b, VENUE_B_FEE_BPS, usdc, usdc_2m, weth, weth_1k)
    # Like any live pool, start with non-zero price accumulators: otherwise the first swap of each pool pays
    # 2 x 20,000 gas for zero-to-non-zero writes, which would inflate the measured execute gas.
    for pair in (a_usdc_weth, a_weth_dai, a_dai_usdc, b_usdc_weth):
        _send(w3, owner, pair.functions.sync())

    lender = _deploy(w3, owner, "FlashLender", LENDER_FEE_BPS)
    _send(w3, owner, usdc.functions.transfer(lender.address, 1_000_000 * USDC_UNIT))
    _send(w3, owner, weth.functions.transfer(lender.address, 500 * WETH_UNIT))

    borrower = _deploy(w3, owner, "TestFlashBorrower")
    _send(w3, owner, usdc.functions.transfer(borrower.address, 1_000 * USDC_UNIT))

    return Chain(
        w3=w3,
        owner=owner,
        other=other,
        usdc=usdc,
        weth=weth,
        dai=dai,
        raw_a=raw_a,
        raw_b=raw_b,
        factory_a=factory_a,
        factory_b=factory_b,
        a_usdc_weth=a_usdc_weth,
        a_weth_dai=a_weth_dai,
        a_dai_usdc=a_dai_usdc,
        b_usdc_weth=b_usdc_weth,
        lender=lender,
        borrower=borrower,
    )


@pytest.fixture
def chain(_deployed: Chain) -> Iterator[Chain]:
    """The session's deployment, reverted to its initial state after the test."""
    snapshot = _deployed.w3.testing.snapshot()
    try:
        yield _deployed
    finally:
        _deployed.w3.testing.revert(snapshot)
