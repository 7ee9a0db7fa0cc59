"""How much native token the validation may need: the gas limits of what it sends, at the fee cap it signs with.

A node accepts a transaction only if the sender can pay ``gas_limit * maxFeePerGas`` (geth also counts the
account's other pending transactions), so the check asks for that much, not for the smaller amount the gas
actually used will cost. The gas limits are those of :mod:`ops.simulator.chain.deploy` and
:mod:`ops.simulator.chain.market`, which set them explicitly (no estimation round trips).
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.simulator.chain.tx import CALL_GAS, DEPLOY_GAS

# ops.simulator.chain.deploy.deploy() without a trader: 6 contract creations; 2 mints, 2 createPair (3M gas each) and 4
# funding transfers; then per venue 2 transfers and a mint.
DEPLOY_GAS_LIMITS = 6 * DEPLOY_GAS + 6 * CALL_GAS + 2 * 3_000_000 + 6 * CALL_GAS
# ops.simulator.chain.market.Trader.send_swap: a transfer into the pair, then swap.
DISLOCATION_GAS_LIMITS = 2 * CALL_GAS
# ArbExecutor alone (``--pools --deploy-executor``).
EXECUTOR_GAS_LIMIT = DEPLOY_GAS
# ArbExecutor.withdraw of the profit.
WITHDRAW_GAS_LIMIT = CALL_GAS


@dataclass(frozen=True, slots=True)
class Budget:
    """Gas the run may reserve.

    Attributes:
        gas: sum of the gas limits of every transaction the run may send, units of gas.
        max_fee_per_gas: the fee cap those transactions are signed with, wei per gas.
    """

    gas: int
    max_fee_per_gas: int

    @property
    def wei(self) -> int:
        """``gas * max_fee_per_gas``, wei of the native token."""
        return self.gas * self.max_fee_per_gas


def gas_budget(
    *, deploy: bool, dry_run_only: bool, execute_gas_limit: int, pools: bool = False, deploy_executor: bool = False
) -> int:
    """Sum of the gas limits the run may send (0 for a dry run that deploys nothing: it sends nothing).

    Args:
        deploy: the run deploys the contracts and test pools.
        dry_run_only: no trade is sent.
        execute_gas_limit: gas limit of the arbitrage transaction, units of gas.
        pools: a ``--pools`` run: it never moves a price (no dislocation swap).
        deploy_executor: the run deploys ArbExecutor alone first (also in a dry run).
    """
    executor = EXECUTOR_GAS_LIMIT if deploy_executor else 0
    if dry_run_only:
        return executor
    moves = 0 if pools else DISLOCATION_GAS_LIMITS
    return (DEPLOY_GAS_LIMITS if deploy else 0) + executor + moves + execute_gas_limit + WITHDRAW_GAS_LIMIT


def max_fee(base_fee_wei: int, priority_fee_wei: int, cap_wei: int) -> int:
    """The fee cap transactions are signed with: ``min(cap, 2 * baseFee + tip)`` (as the executor and deployer)."""
    return min(cap_wei, 2 * base_fee_wei + priority_fee_wei)
