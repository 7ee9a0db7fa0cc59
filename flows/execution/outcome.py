"""The final outcome of an execution and what the ledger keeps about it (pure: no web3).

A :class:`Finished` carries the ledger row (:class:`~flows.execution.ledger.Entry`) whose ``context`` holds what
the opportunity said (predicted amounts, gas price ratio, plan, trace), so an outcome found after a restart can be
recorded without the opportunity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flows.execution.ledger import Entry
from flows.execution.plan import TxPlan, expected_profit, plan_to_dict
from flows.opportunity import Opportunity


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
