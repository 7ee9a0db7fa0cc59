"""One step of a swap inside a single liquidity range, ported from v3-core ``contracts/libraries/SwapMath.sol``."""

from __future__ import annotations

from dataclasses import dataclass

from flows.amm.v3.full_math import mul_div, mul_div_rounding_up
from flows.amm.v3.sqrt_price_math import (
    get_amount0_delta,
    get_amount1_delta,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
)

__all__ = ["PIPS", "SwapStep", "compute_swap_step"]

PIPS = 1_000_000
"""Fee denominator: fees are in pips (hundredths of a bp), 3000 = 0.3 %."""


@dataclass(frozen=True, slots=True)
class SwapStep:
    """Result of :func:`compute_swap_step`.

    Attributes:
        sqrt_price_next_x96: price after the step, Q64.96 (never past the target).
        amount_in: input consumed, net of fee, raw units.
        amount_out: output produced, raw units.
        fee_amount: fee taken from the input, raw units.
    """

    sqrt_price_next_x96: int
    amount_in: int
    amount_out: int
    fee_amount: int


def compute_swap_step(
    sqrt_price_current_x96: int,
    sqrt_price_target_x96: int,
    liquidity: int,
    amount_remaining: int,
    fee_pips: int,
) -> SwapStep:
    """Swap within one range towards a target price (``SwapMath.computeSwapStep``).

    The direction is inferred from the prices (target below current: token0 in). A positive
    ``amount_remaining`` is exact input (fee included), a negative one exact output. When exact input stops short
    of the target, the whole remainder beyond ``amount_in`` is the fee; otherwise the fee is
    ``ceil(amount_in * fee / (1e6 - fee))``.

    Args:
        sqrt_price_current_x96: current price, Q64.96.
        sqrt_price_target_x96: price the step may not pass (next tick or the price limit), Q64.96.
        liquidity: active liquidity.
        amount_remaining: input still to spend (> 0) or output still to receive (< 0), raw units.
        fee_pips: pool fee in pips.

    Returns:
        The step's price, input, output and fee.
    """
    zero_for_one = sqrt_price_current_x96 >= sqrt_price_target_x96
    exact_in = amount_remaining >= 0
    amount_in = amount_out = 0

    if exact_in:
        amount_remaining_less_fee = mul_div(amount_remaining, PIPS - fee_pips, PIPS)
        amount_in = (
            get_amount0_delta(sqrt_price_target_x96, sqrt_price_current_x96, liquidity, True)
            if zero_for_one
            else get_amount1_delta(sqrt_price_current_x96, sqrt_price_target_x96, liquidity, True)
        )
        if amount_remaining_less_fee >= amount_in:
            sqrt_price_next = sqrt_price_target_x96
        else:
            sqrt_price_next = get_next_sqrt_price_from_input(
                sqrt_price_current_x96, liquidity, amount_remaining_less_fee, zero_for_one
            )
    else:
        amount_out = (
            get_amount1_delta(sqrt_price_target_x96, sqrt_price_current_x96, liquidity, False)
            if zero_for_one
            else get_amount0_delta(sqrt_price_current_x96, sqrt_price_target_x96, liquidity, False)
        )
        if -amount_remaining >= amount_out:
            sqrt_price_next = sqrt_price_target_x96
        else:
            sqrt_price_next = get_next_sqrt_price_from_output(
                sqrt_price_current_x96, liquidity, -amount_remaining, zero_for_one
            )

    reached_target = sqrt_price_target_x96 == sqrt_price_next

    # Recompute what the step actually moved, reusing the target amounts when the target was reached.
    if zero_for_one:
        if not (reached_target and exact_in):
            amount_in = get_amount0_delta(sqrt_price_next, sqrt_price_current_x96, liquidity, True)
        if not (reached_target and not exact_in):
            amount_out = get_amount1_delta(sqrt_price_next, sqrt_price_current_x96, liquidity, False)
    else:
        if not (reached_target and exact_in):
            amount_in = get_amount1_delta(sqrt_price_current_x96, sqrt_price_next, liquidity, True)
        if not (reached_target and not exact_in):
            amount_out = get_amount0_delta(sqrt_price_current_x96, sqrt_price_next, liquidity, False)

    # Never pay out more than the exact output asked for.
    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining

    if exact_in and sqrt_price_next != sqrt_price_target_x96:
        fee_amount = amount_remaining - amount_in
    else:
        fee_amount = mul_div_rounding_up(amount_in, fee_pips, PIPS - fee_pips)
    return SwapStep(sqrt_price_next, amount_in, amount_out, fee_amount)
