"""Send locally signed transactions to any JSON-RPC node, pipelined: consecutive nonces, one wait at the end.

Used by the deployment and the local market (ops/simulator/chain). Signing goes through
:class:`flows.execution.signer.Signer`, so keys never leave it; gas limits are explicit (no estimation round
trips) and every receipt is checked, failing with the call's name.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.exceptions import TransactionNotFound

from base.errors import StackError
from flows.execution.abi import Artifact, load_artifact
from flows.execution.signer import Signer

DEPLOY_GAS = 6_000_000
CALL_GAS = 300_000
PRIORITY_FEE_WEI = 1_000_000_000
BASE_FEE_TTL_S = 0.25


@dataclass(frozen=True, slots=True)
class Sent:
    """A broadcast transaction and what it was for."""

    tx_hash: str
    label: str


class TxSender:
    """Signs and broadcasts transactions for one account, counting nonces locally.

    Args:
        w3: a connected Web3.
        signer: the sending account.
    """

    def __init__(self, w3: Web3, signer: Signer) -> None:
        self.w3 = w3
        self.signer = signer
        self.chain_id = w3.eth.chain_id
        self._nonce = w3.eth.get_transaction_count(signer.address, "pending")
        self._base_fee = (0, -BASE_FEE_TTL_S)  # (wei, monotonic time read)

    def _fees(self, tip: int) -> tuple[int, int]:
        # The fee cap is twice the base fee: a reading a fraction of a block old is as good, and saves a round trip
        # per transaction when many are sent back to back (the local market's swaps).
        base, read = self._base_fee
        if time.monotonic() - read > BASE_FEE_TTL_S:
            base = int(self.w3.eth.get_block("latest").get("baseFeePerGas") or 0)
            self._base_fee = (base, time.monotonic())
        return 2 * base + tip, tip

    def send(
        self,
        to: str | None,
        data: str | bytes,
        label: str,
        gas: int = CALL_GAS,
        value: int = 0,
        tip_wei: int = PRIORITY_FEE_WEI,
    ) -> Sent:
        """Sign and broadcast one transaction (``to`` None deploys ``data`` as creation code).

        Args:
            to: recipient, or None to deploy.
            data: calldata or creation code.
            label: names the transaction in errors.
            gas: gas limit.
            value: wei to send.
            tip_wei: priority fee, wei per gas (a higher tip is mined first in a block).
        """
        max_fee, tip = self._fees(tip_wei)
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": self._nonce,
            "value": value,
            "data": data,
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
        }
        if to is not None:
            tx["to"] = Web3.to_checksum_address(to)
        signed = self.signer.sign(tx)
        self.w3.eth.send_raw_transaction(signed.raw)
        self._nonce += 1
        return Sent(signed.tx_hash, label)

    def call(self, contract: Any, fn: str, *args: Any, gas: int = CALL_GAS) -> Sent:
        """Send ``contract.fn(*args)``."""
        return self.send(contract.address, contract.encode_abi(fn, args=list(args)), f"{fn}", gas=gas)

    @property
    def next_nonce(self) -> int:
        """The nonce the next transaction will use."""
        return self._nonce

    def deploy(self, name: str, *args: Any) -> tuple[str, Sent]:
        """Deploy committed artifact ``name`` (contracts/artifacts); returns (its future address, the transaction)."""
        return self.deploy_artifact(load_artifact(name), *args)

    def deploy_artifact(self, artifact: Artifact, *args: Any, gas: int = DEPLOY_GAS) -> tuple[str, Sent]:
        """Deploy ``artifact`` with constructor ``args``; returns (its future address, the transaction)."""
        from web3.utils.address import get_create_address

        data = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode).constructor(*args).data_in_transaction
        address = get_create_address(self.signer.address, self._nonce)
        return address, self.send(None, data, f"deploy {artifact.name}", gas=gas)

    def wait(self, sent: Sequence[Sent], timeout_s: float = 30.0) -> None:
        """Wait for every receipt and require status 1.

        Raises:
            StackError: a transaction reverted or was not mined in time (names it).
        """
        deadline = time.monotonic() + timeout_s
        for s in sent:
            while True:
                try:
                    receipt = self.w3.eth.get_transaction_receipt(s.tx_hash)
                    break
                except TransactionNotFound:
                    if time.monotonic() > deadline:
                        msg = f"{s.label}: transaction {s.tx_hash} not mined within {timeout_s:.0f} s"
                        raise StackError(msg) from None
                    time.sleep(0.002)
            if receipt["status"] != 1:
                msg = f"{s.label}: transaction {s.tx_hash} reverted"
                raise StackError(msg)


def contract(w3: Web3, name: str, address: str) -> Any:
    """A web3 contract object for artifact ``name`` at ``address``."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name).abi)
