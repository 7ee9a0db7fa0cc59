"""``arb.decision`` and ``arb.execution`` records, and the PnL an outcome adds to the risk state (pure).

``predicted_profit`` and ``realized_profit`` compare like with like: both are the executor's gross profit in raw
units of the start token, net of the flash-loan fee when one is used and before gas (the ``Arbitrage`` event's
``profit``). For V2 pools they are equal to the wei when nothing moved the pools in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.amm.profit import NativePrice
from flows.execution.outcome import Finished
from flows.opportunity import Opportunity
from flows.risk.engine import Decision
from flows.risk.state import Outcome
from schemas.serde import i256, u256


def decision_record(opp: Opportunity, decision: Decision, decided_ns: int, trace: Mapping[str, int]) -> dict[str, Any]:
    """The Avro-ready ``arb.decision`` record."""
    return {
        "opportunity_id": opp.id,
        "flow": opp.flow,
        "strategy": opp.strategy,
        "pair": opp.pair,
        "accepted": decision.accepted,
        "reason": str(decision.reason),
        "limit_value": decision.limit_value,
        "observed_value": decision.observed_value,
        "amount_in": u256(opp.amount_in),
        "net_profit": i256(opp.net_profit),
        "net_profit_usd": opp.net_profit_usd,
        "decided_ns": decided_ns,
        "trace": dict(trace),
    }


def gas_in_token(finished: Finished) -> int:
    """The outcome's gas cost converted to the start token at the opportunity's own price (rounded up)."""
    den = int(finished.context.get("gas_price_den", 0))
    if den <= 0 or finished.gas_cost_wei == 0:
        return 0
    return NativePrice(int(finished.context.get("gas_price_num", 0)), den).to_x_ceil(finished.gas_cost_wei)


def outcome(finished: Finished) -> Outcome:
    """What the outcome adds to the risk state: realized profit less gas (in the start token), and failure."""
    profit = finished.realized_profit if finished.status == "mined" else 0
    return Outcome(pnl=profit - gas_in_token(finished), failure=finished.failure)


def execution_record(finished: Finished) -> dict[str, Any]:
    """The Avro-ready ``arb.execution`` record."""
    ctx = finished.context
    return {
        "opportunity_id": finished.entry.opportunity_id,
        "flow": ctx["flow"],
        "strategy": ctx["strategy"],
        "pair": ctx["pair"],
        "status": finished.status,
        "tx_hash": finished.tx_hash,
        "block_number": finished.block_number,
        "gas_used": finished.gas_used,
        "effective_gas_price": u256(finished.effective_gas_price),
        "token_in": ctx["token_in"],
        "amount_in": u256(int(ctx["amount_in"])),
        "realized_amount_out": u256(finished.realized_amount_out),
        "predicted_profit": i256(int(ctx["predicted_profit"])),
        "realized_profit": i256(finished.realized_profit),
        "gas_cost_wei": u256(finished.gas_cost_wei),
        "revert_reason": finished.revert_reason,
        "executed_ns": finished.executed_ns,
        "trace": dict(ctx.get("trace", {})),
    }
