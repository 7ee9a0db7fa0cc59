"""Every backend's failure becomes one pulsearb error type at the chain adapter's seam."""

from __future__ import annotations

import pytest
from eth_tester.exceptions import TransactionFailed
from eth_utils.exceptions import ValidationError
from web3.exceptions import ContractLogicError, Web3RPCError

from flows.execution.chain import redact_url, translate
from flows.execution.errors import (
    AlreadyKnown,
    ChainError,
    ChainUnavailable,
    ExecutionReverted,
    NonceTooLow,
    ReplacementUnderpriced,
)


@pytest.mark.parametrize(
    ("exc", "kind", "reason"),
    [
        (TransactionFailed("execution reverted: PROFIT_TOO_LOW"), ExecutionReverted, "PROFIT_TOO_LOW"),
        (ContractLogicError("execution reverted: PulsePair: K", data="0x08c379a0"), ExecutionReverted, "PulsePair: K"),
        (ContractLogicError("execution reverted", data="0xdeadbeef"), ExecutionReverted, "0xdeadbeef"),
        (Web3RPCError("{'code': -32003, 'message': 'nonce too low'}"), NonceTooLow, None),
        (ValidationError("Invalid transaction nonce: Expected 1, but got 0"), NonceTooLow, None),
        (ValidationError("Invalid transaction nonce: Expected 1, but got 5"), ChainError, None),
        (Web3RPCError("{'message': 'replacement transaction underpriced'}"), ReplacementUnderpriced, None),
        (Web3RPCError("{'message': 'transaction already imported'}"), AlreadyKnown, None),
        (Web3RPCError("{'message': 'already known'}"), AlreadyKnown, None),
        (ConnectionRefusedError(111, "refused"), ChainUnavailable, None),
        (ValueError("something else"), ChainError, None),
    ],
)
def test_translate(exc: BaseException, kind: type, reason: str | None) -> None:
    err = translate(exc, "0xabc" if kind is ExecutionReverted else None, where="http://127.0.0.1:8545")
    assert isinstance(err, kind)
    if reason is not None:
        assert err.reason == reason
        assert err.tx_hash == "0xabc"


def test_urls_are_redacted() -> None:
    assert redact_url("https://user:secret@rpc.example:8443/v3/APIKEY") == "https://rpc.example:8443"
