"""The web3 adapter: the few chain verbs the executor needs, with every library error translated at this seam.

Verbs: :meth:`Chain.simulate` (``eth_call``), :meth:`Chain.send` (``eth_sendRawTransaction``),
:meth:`Chain.wait_receipt` / :meth:`Chain.receipt`, :meth:`Chain.resync_nonce`, plus the reads around them
(chain id, head block and base fee, code, nonce, revert reason of a mined transaction).

Reverts surface differently per backend: anvil and other nodes raise web3's ``ContractLogicError``; eth-tester
raises ``eth_tester.exceptions.TransactionFailed("execution reverted: REASON")`` from ``eth_call``, and mines a
transaction sent with explicit gas with status 0. :func:`translate` turns them all into
:class:`~flows.execution.errors.ExecutionReverted` (and nonce/replacement answers into their own types), so no
code past this module catches a web3 or eth-tester exception. RPC URLs are shown without path or credentials.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from eth_abi import decode
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound

from flows.execution.errors import (
    AlreadyKnown,
    ChainError,
    ChainUnavailable,
    ExecutionError,
    ExecutionReverted,
    NonceTooLow,
    ReplacementUnderpriced,
)
from flows.execution.logs import Log, Receipt
from flows.execution.nonce import NonceManager
from flows.execution.plan import TxPlan

_REVERT_PREFIX = "execution reverted"
_NONCE_EXPECTED = re.compile(r"expected (\d+), but got (\d+)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``scheme://host:port`` of a URL: paths and user info often carry API keys."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}" if parts.scheme else "<rpc>"


def _reason(message: str, data: Any = None) -> str:
    text = message.strip()
    lower = text.lower()
    idx = lower.find(_REVERT_PREFIX)
    if idx >= 0:
        text = text[idx + len(_REVERT_PREFIX) :].lstrip(":").strip()
    if not text and isinstance(data, str) and data not in ("", "0x"):
        return data  # a custom error or panic: keep the raw revert data
    return text


def translate(exc: BaseException, tx_hash: str | None = None, where: str = "rpc") -> ExecutionError:
    """Map a web3 / eth-tester / transport exception to the execution error family.

    Args:
        exc: what the library raised.
        tx_hash: the transaction concerned, if any.
        where: the endpoint, redacted, for messages.
    """
    if isinstance(exc, ExecutionError):
        return exc
    if isinstance(exc, ContractLogicError):
        return ExecutionReverted(tx_hash, _reason(str(exc.message or exc), exc.data))
    name = type(exc).__name__
    text = str(exc)
    lower = text.lower()
    if name == "TransactionFailed" or _REVERT_PREFIX in lower:  # eth-tester's revert, or a node's error text
        return ExecutionReverted(tx_hash, _reason(text))
    if "nonce too low" in lower or "nonce has already been used" in lower:
        return NonceTooLow(f"{where}: nonce too low for transaction {tx_hash or ''}".rstrip())
    match = _NONCE_EXPECTED.search(text)  # eth-tester: "Invalid transaction nonce: Expected 1, but got 0"
    if match and "nonce" in lower:
        expected, got = int(match.group(1)), int(match.group(2))
        if got < expected:
            return NonceTooLow(f"{where}: nonce {got} too low (next is {expected})")
        return ChainError(f"{where}: nonce {got} is ahead of the account's next nonce {expected}")
    if "replacement transaction underpriced" in lower or "replacement fee too low" in lower:
        return ReplacementUnderpriced(f"{where}: a pending transaction with this nonce pays at least as much")
    if "already known" in lower or "already imported" in lower or "known transaction" in lower:
        return AlreadyKnown(f"{where}: transaction {tx_hash or ''} already known".rstrip())
    if isinstance(exc, OSError | TimeoutError) or name in {
        "ConnectionError",
        "Timeout",
        "ReadTimeout",
        "ConnectTimeout",
    }:
        return ChainUnavailable(f"{where}: JSON-RPC endpoint not reachable ({name}); is the node running?")
    first = text.splitlines()[0] if text else ""
    return ChainError(f"{where}: {name}: {first[:300]}")


@dataclass(frozen=True, slots=True)
class Head:
    """The latest block: number, base fee (wei per gas) and timestamp (seconds)."""

    number: int
    base_fee_wei: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class Simulated:
    """What ``execute`` returned under ``eth_call``: raw units of the start token."""

    amount_out: int
    profit: int


class Chain:
    """One JSON-RPC endpoint (or an in-process eth-tester provider).

    Args:
        w3: a connected Web3 instance.
        where: how to name the endpoint in errors (already redacted).
    """

    def __init__(self, w3: Web3, where: str = "rpc") -> None:
        self.w3 = w3
        self.where = where
        self._chain_id: int | None = None
        self.reachable: bool | None = None
        """Whether the endpoint answered the last request (None: not asked yet); the ``endpoint_up`` gauge."""

    @classmethod
    def connect(cls, rpc_url: str, timeout_s: float = 10.0) -> Chain:
        """An HTTP JSON-RPC endpoint; no automatic retries (a retried send must be our decision)."""
        provider = Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None)
        return cls(Web3(provider), redact_url(rpc_url))

    def _do(self, fn: Any, *args: Any, tx_hash: str | None = None) -> Any:
        try:
            out = fn(*args)
        except Exception as exc:
            raise self._failed(exc, tx_hash) from None
        self.reachable = True
        return out

    def _failed(self, exc: BaseException, tx_hash: str | None) -> ExecutionError:
        err = translate(exc, tx_hash, self.where)
        self.reachable = not isinstance(err, ChainUnavailable)  # a revert or a refusal is an answer
        return err

    def chain_id(self) -> int:
        """The chain id (asked once)."""
        if self._chain_id is None:
            self._chain_id = int(self._do(lambda: self.w3.eth.chain_id))
        return self._chain_id

    def head(self) -> Head:
        """The latest block's number, base fee and timestamp."""
        block = self._do(self.w3.eth.get_block, "latest")
        return Head(int(block["number"]), int(block.get("baseFeePerGas") or 0), int(block["timestamp"]))

    def code(self, address: str) -> bytes:
        """Deployed code at ``address`` (empty for none)."""
        return bytes(self._do(self.w3.eth.get_code, Web3.to_checksum_address(address)))

    def nonce(self, address: str, block: str = "pending") -> int:
        """``eth_getTransactionCount``: with ``pending``, transactions waiting in the node's pool count too."""
        return int(self._do(self.w3.eth.get_transaction_count, Web3.to_checksum_address(address), block))

    def call(self, request: dict[str, Any], block: int | str = "latest") -> bytes:
        """``eth_call``.

        Raises:
            ExecutionReverted: the call reverted (tx_hash None).
        """
        return bytes(self._do(self.w3.eth.call, request, block))

    def simulate(self, plan: TxPlan, sender: str) -> Simulated:
        """Run the plan as ``eth_call`` from ``sender`` on the latest block.

        Raises:
            ExecutionReverted: with the executor's reason (``PROFIT_TOO_LOW`` ...).
        """
        out = self.call(plan.call(sender))
        if plan.kind == "cancel" or len(out) < 64:
            return Simulated(0, 0)
        amount_out, profit = decode(["uint256", "uint256"], out[:64])
        return Simulated(amount_out, profit)

    def send(self, raw: bytes, tx_hash: str | None = None) -> str:
        """Broadcast a signed transaction; return its hash.

        Raises:
            NonceTooLow, ReplacementUnderpriced, AlreadyKnown, ExecutionReverted, ChainUnavailable, ChainError.
        """
        sent = self._do(self.w3.eth.send_raw_transaction, raw, tx_hash=tx_hash)
        return "0x" + bytes(sent).hex()

    def receipt(self, tx_hash: str) -> Receipt | None:
        """The receipt if the transaction is mined, else None."""
        try:
            raw = self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            self.reachable = True
            return None
        except Exception as exc:
            raise self._failed(exc, tx_hash) from None
        self.reachable = True
        if raw is None:
            return None
        logs = tuple(
            Log(str(log["address"]).lower(), tuple(bytes(t) for t in log["topics"]), bytes(log["data"]))
            for log in raw["logs"]
        )
        return Receipt(
            tx_hash=tx_hash,
            status=int(raw["status"]),
            block_number=int(raw["blockNumber"]),
            gas_used=int(raw["gasUsed"]),
            effective_gas_price=int(raw.get("effectiveGasPrice") or 0),
            logs=logs,
        )

    def wait_receipt(self, tx_hash: str, timeout_s: float, poll_s: float = 0.005) -> Receipt | None:
        """Poll for the receipt up to ``timeout_s``; None on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.receipt(tx_hash)
            if found is not None or time.monotonic() >= deadline:
                return found
            time.sleep(poll_s)

    def known(self, tx_hash: str) -> bool:
        """True when the node has the transaction (pending or mined)."""
        try:
            found = self.w3.eth.get_transaction(tx_hash) is not None
        except TransactionNotFound:
            found = False
        except Exception as exc:
            raise self._failed(exc, tx_hash) from None
        self.reachable = True
        return found

    def revert_reason(self, plan: TxPlan, sender: str, block_number: int) -> str:
        """Why a mined transaction reverted: its call replayed on the state after its block.

        A transaction that reverted changed nothing, so when it came after what moved the pools in the same block
        this reproduces its reason. If the replay succeeds the reason is not reproducible and says so.
        """
        try:
            self.call(plan.call(sender), block_number)
        except ExecutionReverted as exc:
            return exc.reason
        except ExecutionError as exc:
            return f"unknown ({str(exc).splitlines()[0]})"
        return "unknown (the call succeeds when replayed after its block)"

    def ensure_success(self, receipt: Receipt, plan: TxPlan, sender: str) -> Receipt:
        """Return a successful receipt; a mined revert (status 0) becomes ``ExecutionReverted(tx_hash, reason)``.

        Raises:
            ExecutionReverted: the transaction reverted, with the reason from :meth:`revert_reason`.
        """
        if receipt.status == 1:
            return receipt
        raise ExecutionReverted(receipt.tx_hash, self.revert_reason(plan, sender, receipt.block_number))

    def resync_nonce(self, nonces: NonceManager) -> int:
        """Reset ``nonces`` from the chain; returns the next nonce."""
        return nonces.resync()
