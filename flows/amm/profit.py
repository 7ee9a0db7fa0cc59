"""Net profit of an atomic DEX arbitrage, in raw units of the profit token X, in exact integers.

``net = amount_out - amount_in - gas_cost_x - flash_fee - tip_x`` where the gas cost uses the EIP-1559 effective
gas price and is converted to token X by an exact rational price (two integers, never a float). Every conversion
that estimates a cost rounds up, so a trade that passes :func:`is_executable` is not made profitable by rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.amm.v2 import BPS

__all__ = [
    "NativePrice",
    "NetProfit",
    "effective_gas_price",
    "flash_loan_fee",
    "is_executable",
    "net_profit",
]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def effective_gas_price(base_fee_per_gas: int, max_fee_per_gas: int, max_priority_fee_per_gas: int) -> int:
    """Return the EIP-1559 price per gas a type-2 transaction pays, in wei.

    ``min(maxFeePerGas, baseFee + maxPriorityFeePerGas)``.

    Args:
        base_fee_per_gas: the block's base fee, wei per gas.
        max_fee_per_gas: the transaction's fee cap, wei per gas.
        max_priority_fee_per_gas: the transaction's tip cap, wei per gas.

    Returns:
        Wei per gas.

    Raises:
        ValueError: if an argument is negative, or the fee cap is below the base fee (such a transaction
            cannot be included in the block at all).
    """
    if min(base_fee_per_gas, max_fee_per_gas, max_priority_fee_per_gas) < 0:
        msg = "gas prices must be non-negative integers (wei per gas)"
        raise ValueError(msg)
    if max_fee_per_gas < base_fee_per_gas:
        msg = (
            f"max_fee_per_gas {max_fee_per_gas} is below the base fee {base_fee_per_gas}: "
            "the transaction cannot be included; raise the fee cap"
        )
        raise ValueError(msg)
    return min(max_fee_per_gas, base_fee_per_gas + max_priority_fee_per_gas)


def flash_loan_fee(amount: int, fee_bps: int) -> int:
    """Return the premium owed on a flash loan of ``amount``: ``ceil(amount * fee_bps / 10000)``.

    Rounded up as Uniswap V3 ``flash`` (``FullMath.mulDivRoundingUp``) and Balancer (``mulUp``) do; Aave V3
    rounds half up, which is never more than this.

    Args:
        amount: borrowed amount, raw token units.
        fee_bps: premium in bps (Aave V3: 5 or 9, Balancer: 0).

    Returns:
        The premium in raw units of the borrowed token.

    Raises:
        ValueError: if ``amount`` or ``fee_bps`` is negative.
    """
    if amount < 0 or fee_bps < 0:
        msg = f"flash loan amount and fee must be non-negative, got amount={amount}, fee_bps={fee_bps}"
        raise ValueError(msg)
    return _ceil_div(amount * fee_bps, BPS)


@dataclass(frozen=True, slots=True)
class NativePrice:
    """Exact price of the chain's native token in token X: ``numerator / denominator`` raw X units per wei.

    Example: USDC (6 decimals) at 3,000 USDC per ETH is ``NativePrice(3_000 * 10**6, 10**18)``.

    Attributes:
        numerator: raw units of token X, part of the ratio.
        denominator: wei of the native token, part of the ratio (positive).
    """

    numerator: int
    denominator: int

    def __post_init__(self) -> None:
        if self.numerator < 0 or self.denominator <= 0:
            msg = f"native price must be numerator >= 0 over denominator > 0, got {self.numerator}/{self.denominator}"
            raise ValueError(msg)

    def to_x_ceil(self, wei: int) -> int:
        """Convert an amount of native token (wei) to raw units of X, rounding up (it is a cost)."""
        return _ceil_div(wei * self.numerator, self.denominator)


@dataclass(frozen=True, slots=True)
class NetProfit:
    """The terms of an arbitrage's profit, all in raw units of token X except ``gas_price_wei``.

    Attributes:
        gross: ``amount_out - amount_in``.
        gas_price_wei: EIP-1559 effective gas price, wei per gas.
        gas_cost_x: ``gas_used * gas_price_wei`` converted to X (rounded up).
        flash_fee: flash-loan premium on ``amount_in`` (rounded up).
        tip_x: builder tip (a direct coinbase transfer, in wei) converted to X (rounded up).
        net: ``gross - gas_cost_x - flash_fee - tip_x``.
    """

    gross: int
    gas_price_wei: int
    gas_cost_x: int
    flash_fee: int
    tip_x: int
    net: int


def net_profit(
    *,
    amount_in: int,
    amount_out: int,
    gas_used: int,
    base_fee_per_gas: int,
    max_fee_per_gas: int,
    max_priority_fee_per_gas: int,
    native_price: NativePrice,
    flash_fee_bps: int = 0,
    builder_tip_wei: int = 0,
) -> NetProfit:
    """Return the net profit of an atomic arbitrage in raw units of token X.

    Gas is a fixed cost: it does not move the optimal size, it only decides whether to trade.

    Args:
        amount_in: input of the cycle (borrowed when ``flash_fee_bps > 0``), raw units of X.
        amount_out: output of the cycle, raw units of X.
        gas_used: gas the transaction uses (simulated or estimated), units of gas.
        base_fee_per_gas: block base fee, wei per gas.
        max_fee_per_gas: transaction fee cap, wei per gas.
        max_priority_fee_per_gas: transaction priority-fee cap, wei per gas.
        native_price: exact price of 1 wei in raw X units.
        flash_fee_bps: flash-loan premium in bps (0 when trading from inventory).
        builder_tip_wei: direct payment to the block builder, wei.

    Returns:
        The profit's terms and ``net``.

    Raises:
        ValueError: on negative amounts, or a fee cap below the base fee.
    """
    if min(amount_in, amount_out, gas_used, builder_tip_wei) < 0:
        msg = "amounts, gas_used and builder_tip_wei must be non-negative integers"
        raise ValueError(msg)
    gas_price = effective_gas_price(base_fee_per_gas, max_fee_per_gas, max_priority_fee_per_gas)
    gas_cost_x = native_price.to_x_ceil(gas_used * gas_price)
    fee = flash_loan_fee(amount_in, flash_fee_bps)
    tip_x = native_price.to_x_ceil(builder_tip_wei)
    gross = amount_out - amount_in
    return NetProfit(
        gross=gross,
        gas_price_wei=gas_price,
        gas_cost_x=gas_cost_x,
        flash_fee=fee,
        tip_x=tip_x,
        net=gross - gas_cost_x - fee - tip_x,
    )


def is_executable(net: int, amount_in: int, min_profit_abs: int, min_profit_ratio_bps: int) -> bool:
    """Decide whether an arbitrage clears both profit floors.

    ``net >= min_profit_abs`` and ``net / amount_in >= min_profit_ratio_bps / 10000``, compared by cross
    multiplication so no division rounds. A non-positive ``net`` or ``amount_in`` never executes.

    Args:
        net: net profit, raw units of X (see :func:`net_profit`).
        amount_in: cycle input, raw units of X.
        min_profit_abs: absolute floor, raw units of X.
        min_profit_ratio_bps: floor on ``net / amount_in``, bps.

    Returns:
        True when the trade should be sent.
    """
    if net <= 0 or amount_in <= 0:
        return False
    return net >= min_profit_abs and net * BPS >= min_profit_ratio_bps * amount_in
