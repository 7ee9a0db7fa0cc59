"""Receipts as plain values, and the realized amounts read from the executor's ``Arbitrage`` event (pure).

``event Arbitrage(bytes32 indexed opportunityId, address tokenIn, uint256 amountIn, uint256 amountOut,
uint256 profit)`` (contracts/src/ArbExecutor.sol), the same in every capital mode: ``profit`` is the gain of the
executor's start-token balance over the whole call (net of a flash loan's fee) and ``amountOut`` = amountIn + fee +
profit, what the cycle returned; so these are what the trade realized, not what it was asked to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi import decode
from eth_utils import keccak

ARBITRAGE_TOPIC = keccak(text="Arbitrage(bytes32,address,uint256,uint256,uint256)")


@dataclass(frozen=True, slots=True)
class Log:
    """One event log: emitting contract (lower-case), topics and data."""

    address: str
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a mined transaction's receipt says.

    Attributes:
        tx_hash: 0x hex.
        status: 1 success, 0 reverted.
        block_number: the block it was mined in.
        gas_used: units of gas.
        effective_gas_price: wei per gas actually paid.
        logs: its event logs in order.
    """

    tx_hash: str
    status: int
    block_number: int
    gas_used: int
    effective_gas_price: int
    logs: tuple[Log, ...] = ()

    @property
    def gas_cost_wei(self) -> int:
        """gas_used * effective_gas_price, wei."""
        return self.gas_used * self.effective_gas_price


@dataclass(frozen=True, slots=True)
class Realized:
    """The amounts an executed arbitrage realized (raw units of the start token)."""

    opportunity_id: bytes
    token_in: str
    amount_in: int
    amount_out: int
    profit: int


def realized(logs: Sequence[Log], executor: str, opportunity_id: bytes | None = None) -> Realized | None:
    """Return the ``Arbitrage`` event the executor emitted (for ``opportunity_id`` if given), or None."""
    executor = executor.lower()
    for log in logs:
        if log.address.lower() != executor or len(log.topics) != 2 or log.topics[0] != ARBITRAGE_TOPIC:
            continue
        if opportunity_id is not None and log.topics[1] != opportunity_id:
            continue
        token_in, amount_in, amount_out, profit = decode(["address", "uint256", "uint256", "uint256"], log.data)
        return Realized(log.topics[1], token_in.lower(), amount_in, amount_out, profit)
    return None
