"""The final outcome of an execution and what the ledger keeps about it (pure: no web3).

A :class:`Finished` carries the ledger row (:class:`~flows.execution.ledger.Entry`) whose ``context`` holds what
the opportunity said (predicted amounts, gas price ratio, plan, trace), so an outcome found after a restart can be
recorded without the opportunity.

:func:`classify` splits outcomes the way a run is reported: a ``mined`` execution realized exactly, less or more
than predicted; a ``reverted`` one was stopped by the contract's ``minProfit`` guard or by something else; a
``failed`` one whose simulation refused it was skipped (nothing sent). The ``status`` of a record stays what the
chain said (``mined`` whatever it realized), so PnL views and the risk state need no second rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flows.execution.ledger import Entry
from flows.execution.plan import TxPlan, expected_profit, plan_to_dict
from flows.opportunity import Opportunity

EXACT = "mined_exact"
"""Mined, and the ``Arbitrage`` event's profit equals the predicted one to the raw unit."""
BELOW = "mined_below"
"""Mined below the prediction (a pool moved against the trade first); still at least ``minProfit``."""
ABOVE = "mined_above"
"""Mined above the prediction (a pool moved in the trade's favour first)."""
MIN_PROFIT = "reverted_min_profit"
"""Reverted on chain by the contract's ``minProfit`` guard (``PROFIT_TOO_LOW``): gas paid, nothing else lost."""
REVERTED = "reverted_other"
"""Reverted on chain for another reason (a pool's own check, a callback): gas paid."""
SKIPPED = "skipped"
"""The simulation did not reproduce the prediction (or reverted) on the chain's state: nothing was sent."""
OUTCOMES = (EXACT, BELOW, ABOVE, MIN_PROFIT, REVERTED, SKIPPED)
"""The classes :func:`classify` gives; any other outcome keeps its status (``failed``, ``timeout``, ...)."""
MIN_PROFIT_REASON = "PROFIT_TOO_LOW"
"""ArbExecutor's revert reason below ``minProfit`` (contracts/src/ArbExecutor.sol)."""


def classify(status: str, revert_reason: str | None, predicted: int, realized: int) -> str:
    """The reported outcome of an execution record.

    Args:
        status: the record's status (``mined``, ``reverted``, ``failed``, ...).
        revert_reason: its revert reason ("" or None when none).
        predicted: predicted profit, raw units of the start token.
        realized: realized profit (the ``Arbitrage`` event's), raw units.

    Returns:
        One of :data:`OUTCOMES`, or the status itself for the others (``failed`` by the node, ``timeout``,
        ``replaced``, ``aborted``, ``dry_run``).

    Example:
        >>> classify("mined", None, 100, 90), classify("reverted", "PROFIT_TOO_LOW", 100, 0)
        ('mined_below', 'reverted_min_profit')
    """
    reason = revert_reason or ""
    if status == "mined":
        return EXACT if realized == predicted else (BELOW if realized < predicted else ABOVE)
    if status == "reverted":
        return MIN_PROFIT if reason.startswith(MIN_PROFIT_REASON) else REVERTED
    if status == "failed" and reason.startswith("simulation"):
        return SKIPPED
    return status


@dataclass(frozen=True, slots=True)
class Finished:
    """A final execution outcome.

    Attributes:
        entry: the ledger row (to be written back as final with the record).
        status: ``mined``, ``reverted``, ``failed``, ``dry_run``, ``aborted``, ``replaced`` or ``timeout``.
        tx_hash: the transaction that settled it, if any.
        block_number: its block.
        gas_used: units of gas.
        effective_gas_price: wei per gas.
        realized_amount_out: raw units of the start token (from the event; simulated for a dry run).
        realized_profit: what the executor's ``Arbitrage`` event reports (net of any flash fee), raw units.
        revert_reason: why it did not execute, if it did not.
        failure: counts toward the consecutive-failure breaker.
        executed_ns: when it became final, ns since epoch.
    """

    entry: Entry
    status: str
    tx_hash: str | None = None
    block_number: int | None = None
    gas_used: int = 0
    effective_gas_price: int = 0
    realized_amount_out: int = 0
    realized_profit: int = 0
    revert_reason: str | None = None
    failure: bool = False
    executed_ns: int = 0

    @property
    def gas_cost_wei(self) -> int:
        """gas_used * effective_gas_price."""
        return self.gas_used * self.effective_gas_price

    @property
    def context(self) -> Mapping[str, Any]:
        """What the opportunity said (see :func:`context_of`)."""
        return self.entry.context


def context_of(
    opp: Opportunity, plan: TxPlan, sender: str, trace: Mapping[str, int], predicted_profit: int | None = None
) -> dict[str, Any]:
    """Everything an execution record needs, stored in the ledger so a restart can finish without the opportunity.

    ``predicted_profit``: what the executor should report (default: :func:`expected_profit` for the plan's kind).
    """
    return {
        "flow": opp.flow,
        "strategy": opp.strategy,
        "pair": opp.pair,
        "token_in": opp.token_in,
        "pools": list(opp.pools),
        "kinds": list(opp.hop_kinds),
        "amount_in": str(opp.amount_in),
        "predicted_amount_out": str(opp.amount_out),
        "predicted_profit": str(expected_profit(opp, plan.kind) if predicted_profit is None else predicted_profit),
        # Gas cost -> token_in at the price the opportunity was priced with (an exact ratio, rounded up on use).
        "gas_price_num": str(opp.gas_cost),
        "gas_price_den": str(opp.gas_estimate * opp.gas_price_wei),
        "valid_until_ns": opp.valid_until_ns,
        "sender": sender,
        "plan": plan_to_dict(plan),
        "trace": dict(trace),
    }
