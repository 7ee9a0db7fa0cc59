"""Single-writer nonce manager: hands out consecutive nonces for one account, resyncs from the chain on demand.

One process, one worker and one manager per signing account: the risk_execution builder refuses more than one
worker, and the ledger's lock file refuses a second process on the same state directory. The manager asks the
chain once (``eth_getTransactionCount(address, "pending")``), then counts locally; after a ``nonce too low`` or
``replacement transaction underpriced`` answer, or after a transaction was abandoned, :meth:`resync` asks again.
"""

from __future__ import annotations

from collections.abc import Callable


class NonceManager:
    """Allocates nonces for one account.

    Args:
        fetch: returns the account's next nonce as the node sees it (pending transactions included).
    """

    def __init__(self, fetch: Callable[[], int]) -> None:
        self._fetch = fetch
        self._next: int | None = None
        self.resyncs = 0

    def allocate(self) -> int:
        """The next nonce (asks the chain the first time)."""
        if self._next is None:
            self._next = self._fetch()
        nonce = self._next
        self._next += 1
        return nonce

    def resync(self) -> int:
        """Forget the local count and take the chain's; returns the next nonce that will be allocated."""
        self._next = self._fetch()
        self.resyncs += 1
        return self._next

    def release(self, nonce: int) -> None:
        """Give back ``nonce`` if it was the last one handed out and never reached the node."""
        if self._next is not None and nonce == self._next - 1:
            self._next = nonce

    @property
    def peek(self) -> int | None:
        """The nonce the next :meth:`allocate` returns, if known."""
        return self._next
