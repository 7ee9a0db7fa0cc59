"""The trading steps: a price dislocation between the venues, its detection with flows.amm, a dry run
(``eth_call``), a small live arbitrage whose realized profit must equal the predicted one to the wei, and the
withdrawal of that profit.

Simulation and execution go through the production executor (:class:`flows.execution.executor.Executor`): the same
plan, fee caps, simulation check (tolerance 0), ledger-before-send and receipt handling as the risk_execution flow.
The on-chain guard ``minProfit`` is the predicted profit itself, so the contract refuses to realize less.
"""

from __future__ import annotations

import time

from eth_utils import to_checksum_address

from flows.execution.chain import Head
from flows.execution.config import ExecutionConfig
from flows.execution.executor import Executor
from flows.execution.outcome import Finished
from flows.execution.plan import fee_caps, plan_execution
from ops.simulator.chain.market import Trader
from ops.simulator.chain.tx import TxSender, contract
from ops.validation.arb import Cycle, at_input, best_cycle, cross_check, to_opportunity
from ops.validation.runner import Done, StepFailed
from ops.validation.session import Session
from ops.validation.units import ether, gap_bps, gwei, token

DISLOCATION_SHARE = 40
"""A created dislocation sells 1/40 of the first pool's start-token reserve into it (about a 5 % price move)."""
RECEIPT_POLL_MS = 100


def _fmt(s: Session, raw: int, tok: str | None = None) -> str:
    tok = tok or s.token_in
    return token(raw, s.decimals(tok), s.symbol(tok))


def _dry_run_why(s: Session) -> str:
    return "--dry-run-only" if s.options.dry_run_only else "dry run (pass --live to send the trade)"


def _min_profit(s: Session) -> int:
    return s.options.min_profit or 10 ** max(s.decimals(s.token_in) - 2, 0)


def _cycle(s: Session, block: int | str = "latest") -> Cycle:
    assert s.pools is not None
    return best_cycle(s.pool(s.pools[0], block), s.pool(s.pools[1], block), s.token_in)


def _gap(s: Session, cycle: Cycle) -> int:
    a_in, a_out = cycle.first.reserves(s.token_in)
    b_in, b_out = cycle.second.reserves(s.token_in)
    return gap_bps(a_in, a_out, b_in, b_out)


def dislocation(s: Session) -> Done:
    """Find a price gap between the two venues worth at least the minimum profit, or create one with a swap."""
    o = s.options
    assert s.pools is not None and s.signer is not None and s.deployment is not None
    least = _min_profit(s)
    cycle = _cycle(s)
    how = "found"
    if cycle.optimal.profit < least:
        if o.dry_run_only:
            msg = (
                f"no dislocation between venues {s.pools[0].venue} and {s.pools[1].venue} (best profit "
                f"{_fmt(s, cycle.optimal.profit)} < {_fmt(s, least)}), and --dry-run-only sends nothing to create "
                "one: move a pool first, or run without --dry-run-only"
            )
            raise StepFailed(msg)
        first = s.pool(s.pools[0])
        amount = first.reserves(s.token_in)[0] // DISLOCATION_SHARE
        held = s.balance(s.token_in, s.signer.address)
        if held < amount:
            msg = (
                f"no dislocation between the venues, and creating one needs {_fmt(s, amount)} in "
                f"{s.signer.address}, which holds {_fmt(s, held)}: fund it, or attach to pools already apart"
            )
            raise StepFailed(msg)
        trader = Trader(s.w3, s.signer, s.deployment)
        trader.tx.wait([trader.send_swap(s.pools[0], s.token_in, amount)], timeout_s=o.timeout_s)
        cycle = _cycle(s)
        how = f"created (sold {_fmt(s, amount)} on venue {s.pools[0].venue})"
        if cycle.optimal.profit < least:
            best = _fmt(s, cycle.optimal.profit)
            msg = f"the swap moved the price too little (best profit {best}): lower --min-profit"
            raise StepFailed(msg)
    gap = _gap(s, cycle)
    return Done(
        f"{how}: prices {gap} bps apart between venues {cycle.first.pair.venue} and {cycle.second.pair.venue}, "
        f"best profit {_fmt(s, cycle.optimal.profit)}",
        {"created": how != "found", "gap_bps": gap, "optimal_profit": cycle.optimal.profit},
    )


def detected_at(s: Session, head: Head) -> dict[str, int]:
    """The opportunity's keywords for a detection now on ``head``'s state: chain, block, the owner's next nonce and
    the time (which make its id fresh), validity, gas limit and expected gas price."""
    o = s.options
    assert s.chain is not None and s.signer is not None
    return {
        "chain_id": s.chain.chain_id(),
        "block": head.number,
        "nonce": s.chain.nonce(s.signer.address, "pending"),
        "now_ns": time.time_ns(),
        "valid_ns": int(o.timeout_s * 1e9),
        "gas_estimate": o.gas_limit,
        "gas_price_wei": head.base_fee_wei + o.priority_fee_wei,
    }


def detect(s: Session) -> Done:
    """Size the cycle with flows.amm on one block's reserves, cross-check it, and make the opportunity."""
    o = s.options
    assert s.chain is not None and s.signer is not None and s.deployment is not None
    head = s.chain.head()
    cycle = _cycle(s, head.number)
    if cycle.optimal.profit <= 0:
        msg = f"no profitable cycle at block {head.number}: the venues were brought back in line before detection"
        raise StepFailed(msg)
    if o.amount_in is not None:
        cycle = at_input(cycle, o.amount_in)
        if cycle.sizing.profit <= 0:
            msg = (
                f"at --amount-in {o.amount_in} the cycle does not pay (profit {cycle.sizing.profit} raw); "
                f"the optimal input is {cycle.optimal.amount_in}: lower --amount-in"
            )
            raise StepFailed(msg)
    again = cross_check(cycle)
    if again != cycle.sizing.amount_out:
        msg = f"flows.amm disagrees with itself: cycle_sizing gives {cycle.sizing.amount_out}, getAmountsOut {again}"
        raise StepFailed(msg)
    held = s.balance(s.token_in, s.deployment.executor)
    if held < cycle.sizing.amount_in:
        msg = (
            f"the executor holds {_fmt(s, held)}, the trade needs {_fmt(s, cycle.sizing.amount_in)}: "
            "fund it (transfer to the executor) or lower --amount-in"
        )
        raise StepFailed(msg)
    s.cycle = cycle
    s.opportunity = to_opportunity(cycle, **detected_at(s, head))
    sizing = cycle.sizing
    sized = "the asked input" if o.amount_in is not None else "the optimal input"
    s.figures.update(amount_in=sizing.amount_in, predicted_amount_out=sizing.amount_out, predicted_profit=sizing.profit)
    return Done(
        f"{s.symbol(cycle.token_in)} -> {s.symbol(cycle.middle)} on venue {cycle.first.pair.venue}, back on venue "
        f"{cycle.second.pair.venue}: {sized} {_fmt(s, sizing.amount_in)} -> {_fmt(s, sizing.amount_out)}, "
        f"predicted profit {_fmt(s, sizing.profit)} (block {head.number})",
        {
            "block": head.number,
            "amount_in": sizing.amount_in,
            "optimal_amount_in": cycle.optimal.amount_in,
            "predicted_amount_out": sizing.amount_out,
            "predicted_profit": sizing.profit,
            "opportunity_id": s.opportunity.id,
        },
    )


ENTRY_POINTS = {"own": "execute", "flash_swap": "executeWithFlashSwap"}
"""The executor's entry point per capital mode (for messages)."""


def _executor(s: Session, mode: str) -> Executor:
    o = s.options
    assert s.chain is not None and s.executor
    config = ExecutionConfig(
        mode=mode,
        capital=o.capital_mode,  # own (the executor's balance, restored by cleanup) unless --pools --capital
        executor=s.executor,
        chain_id=s.chain.chain_id(),
        gas_limit=o.gas_limit,
        priority_fee_wei=o.priority_fee_wei,
        receipt_timeout_s=min(60.0, o.timeout_s),
        receipt_poll_ms=RECEIPT_POLL_MS,
        abandon_after_s=max(1.0, o.timeout_s),
    )
    executor = Executor(s.chain, s.signer, s.ledger(), config, o.max_gas_price_wei)
    executor.check()
    return executor


def dry_run(s: Session) -> Done:
    """Simulate the exact transaction with ``eth_call`` through the production executor (dry-run mode).

    A cycle predicted to pay (or break even) must return flows.amm's profit and output to the unit; one predicted
    to lose must be refused by the contract with ``PROFIT_TOO_LOW`` (its guard, checked after every hop has run).
    """
    o = s.options
    assert s.chain is not None and s.opportunity is not None and s.signer is not None
    opp = s.opportunity
    predicted = opp.amount_out - opp.amount_in
    head = s.chain.head()
    entry = ENTRY_POINTS.get(o.capital_mode, o.capital_mode)
    result = _executor(s, "dry_run").submit(opp, head, max(predicted, 0), {})
    if predicted < 0:
        return _refused_as_predicted(s, entry, result, predicted)
    if result is None or result.status != "dry_run":
        reason = result.revert_reason if result is not None else "nothing returned"
        hint = (
            " (the contract's profit is below the prediction: the pools moved)"
            if "PROFIT_TOO_LOW" in str(reason)
            else ""
        )
        msg = f"eth_call of {entry}: {reason}{hint}"
        raise StepFailed(msg)
    if result.realized_profit != predicted or result.realized_amount_out != opp.amount_out:
        msg = f"eth_call profit {result.realized_profit} differs from flows.amm's {predicted}"
        raise StepFailed(msg)
    fees = fee_caps(head.base_fee_wei, o.priority_fee_wei, o.max_gas_price_wei)
    plan = plan_execution(
        opp,
        chain_id=s.chain.chain_id(),
        executor=s.executor,
        fees=fees,
        gas_limit=o.gas_limit,
        min_net_profit=predicted,
        capital=o.capital_mode,
    )
    estimate = int(s.w3.eth.estimate_gas(plan.call(s.signer.address)))
    s.figures.update(simulated_profit=result.realized_profit, gas_estimate=estimate)
    return Done(
        f"eth_call of {entry}: profit {_fmt(s, result.realized_profit)} = flows.amm's prediction (to the unit), "
        f"amount out {_fmt(s, result.realized_amount_out)}, gas estimate {estimate:,}",
        {
            "simulated_profit": result.realized_profit,
            "simulated_amount_out": result.realized_amount_out,
            "gas_estimate": estimate,
        },
    )


def _refused_as_predicted(s: Session, entry: str, result: Finished | None, predicted: int) -> Done:
    """A cycle flows.amm predicts to lose: the contract must revert with ``PROFIT_TOO_LOW`` and nothing else."""
    assert s.opportunity is not None
    opp = s.opportunity
    if result is not None and result.status == "dry_run":
        msg = (
            f"eth_call of {entry} executed a cycle flows.amm predicts to lose {_fmt(s, -predicted)} at "
            f"{_fmt(s, opp.amount_in)}: the contract reports profit {result.realized_profit}"
        )
        raise StepFailed(msg)
    reason = str(result.revert_reason if result is not None else "nothing returned")
    if "PROFIT_TOO_LOW" not in reason:
        msg = f"eth_call of {entry} at {_fmt(s, opp.amount_in)} failed before the profit check: {reason}"
        raise StepFailed(msg)
    s.figures.update(simulated_revert="PROFIT_TOO_LOW")
    return Done(
        f"eth_call of {entry} at {_fmt(s, opp.amount_in)} reverts PROFIT_TOO_LOW, as predicted for a cycle that "
        f"loses {_fmt(s, -predicted)}: every hop ran through the pools' callbacks up to the profit check",
        {"simulated_revert": "PROFIT_TOO_LOW", "predicted_profit": predicted},
    )


def live(s: Session) -> Done:
    """Send the arbitrage; the ``Arbitrage`` event's profit must equal the prediction to the wei."""
    o = s.options
    if o.dry_run:
        return Done(f"{_dry_run_why(s)}: nothing sent", skipped=True)
    assert s.chain is not None and s.opportunity is not None and s.signer is not None
    opp = s.opportunity
    predicted = opp.amount_out - opp.amount_in
    if predicted <= 0:
        msg = (
            f"nothing to trade live: at block {opp.block_number} the cycle loses {_fmt(s, -predicted)} at its "
            f"best input {_fmt(s, opp.amount_in)} (the dry run checked the mechanics); run again when the pools "
            "are apart, or without --live"
        )
        raise StepFailed(msg)
    if o.pools and o.min_profit and predicted < o.min_profit:
        msg = f"the predicted profit {_fmt(s, predicted)} is below --min-profit {_fmt(s, o.min_profit)}: nothing sent"
        raise StepFailed(msg)
    s.executor_balance_before = before = s.balance(s.token_in, s.executor)
    executor = _executor(s, "live")
    result = executor.submit(opp, s.chain.head(), predicted, {})
    if result is None:
        done = executor.drain(o.timeout_s + 5.0)
        result = done[0] if done else None
    if result is None:
        msg = f"no receipt within {o.timeout_s:g} s: the transaction is still pending (raise --timeout or the fee)"
        raise StepFailed(msg)
    tx = f"transaction {result.tx_hash}" if result.tx_hash else "nothing mined"
    if result.status != "mined" or result.revert_reason:
        msg = f"{result.status}: {result.revert_reason or 'no reason'} ({tx})"
        raise StepFailed(msg)
    s.finished = result
    s.figures.update(
        realized_profit=result.realized_profit,
        realized_amount_out=result.realized_amount_out,
        tx_hash=result.tx_hash,
        block=result.block_number,
        gas_used=result.gas_used,
        effective_gas_price_wei=result.effective_gas_price,
        gas_cost_wei=result.gas_cost_wei,
    )
    if result.realized_profit != predicted or result.realized_amount_out != opp.amount_out:
        msg = (
            f"realized profit {result.realized_profit} (amount out {result.realized_amount_out}) differs from the "
            f"predicted {predicted} (amount out {opp.amount_out}) in {tx}"
        )
        raise StepFailed(msg)
    moved = s.balance(s.token_in, s.executor) - before
    if moved != result.realized_profit:
        msg = f"the executor's balance moved by {moved}, its Arbitrage event says {result.realized_profit} ({tx})"
        raise StepFailed(msg)
    return Done(
        f"{tx} in block {result.block_number}: realized profit {_fmt(s, result.realized_profit)} = predicted, "
        f"to the wei; gas used {result.gas_used:,} at {gwei(result.effective_gas_price)} "
        f"= {ether(result.gas_cost_wei)}",
        {
            "tx_hash": result.tx_hash,
            "block": result.block_number,
            "realized_profit": result.realized_profit,
            "realized_amount_out": result.realized_amount_out,
            "gas_used": result.gas_used,
            "effective_gas_price_wei": result.effective_gas_price,
            "gas_cost_wei": result.gas_cost_wei,
        },
    )


def cleanup(s: Session) -> Done:
    """Withdraw the profit to the owner: the executor ends with the balance it had before the trade."""
    o = s.options
    if o.dry_run:
        return Done(f"{_dry_run_why(s)}: nothing to withdraw", skipped=True)
    assert s.finished is not None and s.signer is not None
    profit = s.finished.realized_profit
    owner_before = s.balance(s.token_in, s.signer.address)
    tx = TxSender(s.w3, s.signer)
    executor = contract(s.w3, "ArbExecutor", s.executor)
    sent = tx.call(executor, "withdraw", to_checksum_address(s.token_in), s.signer.address, profit)
    tx.wait([sent], timeout_s=o.timeout_s)
    left = s.balance(s.token_in, s.executor)
    gained = s.balance(s.token_in, s.signer.address) - owner_before
    if left != s.executor_balance_before or gained != profit:
        msg = (
            f"after withdraw {sent.tx_hash} the executor holds {left} (expected {s.executor_balance_before}) "
            f"and the owner gained {gained} (expected {profit})"
        )
        raise StepFailed(msg)
    s.figures.update(withdraw_tx=sent.tx_hash)
    return Done(
        f"withdrew {_fmt(s, profit)} to {s.signer.address}; executor back to {_fmt(s, left)}",
        {"tx_hash": sent.tx_hash, "withdrawn": profit, "executor_balance": left},
    )
