"""Errors of the execution side. The chain adapter (:mod:`flows.execution.chain`) turns every web3, eth-tester and
JSON-RPC failure into one of these, so nothing past the adapter catches a library's exception type.

No message ever contains key material: errors name the environment variable or file, never a value.
"""

from __future__ import annotations

from base.errors import PulsearbError


class ExecutionError(PulsearbError):
    """Root of the execution errors."""


class ExecutionReverted(ExecutionError):
    """A call or transaction reverted.

    Args:
        tx_hash: the mined transaction, or None for a simulation (``eth_call``).
        reason: the revert string (``PROFIT_TOO_LOW``, ``PulsePair: K``), or the raw revert data in hex when
            there is no string; "" when the node gave nothing.
    """

    def __init__(self, tx_hash: str | None, reason: str) -> None:
        where = f"transaction {tx_hash}" if tx_hash else "simulation"
        super().__init__(f"{where} reverted: {reason or 'no reason given'}")
        self.tx_hash = tx_hash
        self.reason = reason

    def __reduce__(self):
        return (type(self), (self.tx_hash, self.reason))


class NonceTooLow(ExecutionError):
    """The node has already seen a transaction with this nonce from the sender (mined)."""


class ReplacementUnderpriced(ExecutionError):
    """Another transaction of the sender with the same nonce is pending and pays at least as much."""


class AlreadyKnown(ExecutionError):
    """The node already holds exactly this signed transaction."""


class ChainUnavailable(ExecutionError):
    """The JSON-RPC endpoint did not answer (connection refused, timeout)."""


class ChainError(ExecutionError):
    """The node rejected a request for another reason (one line: what and how to fix it)."""


class SignerError(ExecutionError):
    """The signing key is missing, malformed, or stored unsafely. Never carries the key."""


class KillSwitchOn(PulsearbError):
    """A broadcast was refused because the kill switch is on: nothing left the process.

    Not an :class:`ExecutionError` on purpose: it is a decision of this process, not an answer of the node.
    """
