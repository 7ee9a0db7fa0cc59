"""SwapMath.computeSwapStep: the v3-core spec cases and the step invariants."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.amm.v3.sqrt_price_math import get_next_sqrt_price_from_input, get_next_sqrt_price_from_output
from flows.amm.v3.swap_math import compute_swap_step
from flows.amm.v3.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO

from .test_v3_sqrt_price_math import encode_price_sqrt

E18 = 10**18


def test_exact_in_capped_at_target_one_for_zero() -> None:
    price, target = encode_price_sqrt(1, 1), encode_price_sqrt(101, 100)
    step = compute_swap_step(price, target, 2 * E18, E18, 600)
    assert (step.amount_in, step.fee_amount, step.amount_out) == (9975124224178055, 5988667735148, 9925619580021728)
    assert step.amount_in + step.fee_amount < E18
    assert step.sqrt_price_next_x96 == target
    assert target < get_next_sqrt_price_from_input(price, 2 * E18, E18, False)


def test_exact_out_capped_at_target_one_for_zero() -> None:
    price, target = encode_price_sqrt(1, 1), encode_price_sqrt(101, 100)
    step = compute_swap_step(price, target, 2 * E18, -E18, 600)
    assert (step.amount_in, step.fee_amount, step.amount_out) == (9975124224178055, 5988667735148, 9925619580021728)
    assert step.amount_out < E18
    assert step.sqrt_price_next_x96 == target
    assert target < get_next_sqrt_price_from_output(price, 2 * E18, E18, False)


def test_exact_in_fully_spent_one_for_zero() -> None:
    price, target = encode_price_sqrt(1, 1), encode_price_sqrt(1000, 100)
    step = compute_swap_step(price, target, 2 * E18, E18, 600)
    assert (step.amount_in, step.fee_amount, step.amount_out) == (
        999400000000000000,
        600000000000000,
        666399946655997866,
    )
    assert step.amount_in + step.fee_amount == E18
    assert step.sqrt_price_next_x96 < target
    assert step.sqrt_price_next_x96 == get_next_sqrt_price_from_input(price, 2 * E18, E18 - step.fee_amount, False)


def test_exact_out_fully_received_one_for_zero() -> None:
    price, target = encode_price_sqrt(1, 1), encode_price_sqrt(10000, 100)
    step = compute_swap_step(price, target, 2 * E18, -E18, 600)
    assert (step.amount_in, step.fee_amount, step.amount_out) == (2 * E18, 1200720432259356, E18)
    assert step.sqrt_price_next_x96 < target
    assert step.sqrt_price_next_x96 == get_next_sqrt_price_from_output(price, 2 * E18, E18, False)


def test_amount_out_is_capped_at_the_desired_amount_out() -> None:
    step = compute_swap_step(
        417332158212080721273783715441582, 1452870262520218020823638996, 159344665391607089467575320103, -1, 1
    )
    assert (step.amount_in, step.fee_amount, step.amount_out) == (1, 1, 1)
    assert step.sqrt_price_next_x96 == 417332158212080721273783715441581


def test_target_price_of_1_uses_partial_input() -> None:
    step = compute_swap_step(2, 1, 1, 3915081100057732413702495386755767, 1)
    assert (step.amount_in, step.fee_amount, step.amount_out) == (
        39614081257132168796771975168,
        39614120871253040049813,
        0,
    )
    assert step.sqrt_price_next_x96 == 1


def test_entire_input_taken_as_fee() -> None:
    step = compute_swap_step(2413, 79887613182836312, 1985041575832132834610021537970, 10, 1872)
    assert (step.amount_in, step.fee_amount, step.amount_out, step.sqrt_price_next_x96) == (0, 10, 0, 2413)


def test_intermediate_insufficient_liquidity_exact_output() -> None:
    sqrt_p = 20282409603651670423947251286016
    step = compute_swap_step(sqrt_p, sqrt_p * 11 // 10, 1024, -4, 3000)
    assert (step.amount_out, step.sqrt_price_next_x96, step.amount_in, step.fee_amount) == (
        0,
        sqrt_p * 11 // 10,
        26215,
        79,
    )
    step = compute_swap_step(sqrt_p, sqrt_p * 9 // 10, 1024, -263000, 3000)
    assert (step.amount_out, step.sqrt_price_next_x96, step.amount_in, step.fee_amount) == (
        26214,
        sqrt_p * 9 // 10,
        1,
        1,
    )


prices = st.integers(min_value=MIN_SQRT_RATIO, max_value=MAX_SQRT_RATIO - 1)


@settings(max_examples=400, deadline=None)
@given(
    price=prices,
    target=prices,
    liquidity=st.integers(min_value=1, max_value=2**128 - 1),
    amount=st.integers(min_value=-(2**200), max_value=2**200).filter(lambda a: a != 0),
    fee=st.integers(min_value=0, max_value=999_999),
)
def test_step_invariants(price: int, target: int, liquidity: int, amount: int, fee: int) -> None:
    step = compute_swap_step(price, target, liquidity, amount, fee)
    lo, hi = sorted((price, target))
    assert lo <= step.sqrt_price_next_x96 <= hi  # never past the target
    if amount > 0:
        assert step.amount_in + step.fee_amount <= amount
    else:
        assert step.amount_out <= -amount
    if step.sqrt_price_next_x96 != target:  # stopped short: the amount was used up
        if amount > 0:
            assert step.amount_in + step.fee_amount == amount
        else:
            assert step.amount_out == -amount
