"""UniswapV2Library math: the 997/1000 contract form, exact rationals, reverts, and real PancakeSwap quotes."""

from __future__ import annotations

import doctest
import json
import pickle
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flows.amm.v2
from base.errors import AmmRevert
from flows.amm.v2 import Hop, get_amount_in, get_amount_out, get_amounts_out

from .helpers import DATA, uniswap_v2_in_997, uniswap_v2_out_997

amounts = st.integers(min_value=1, max_value=10**36)
reserves = st.integers(min_value=1, max_value=10**36)
fees = st.integers(min_value=0, max_value=9_999)


def test_docstring_example_runs() -> None:
    result = doctest.testmod(flows.amm.v2, raise_on_error=True)
    assert result.attempted >= 1


@settings(max_examples=400, deadline=None)
@given(amount_in=amounts, reserve_in=reserves, reserve_out=reserves)
def test_30_bps_equals_the_contracts_997_over_1000(amount_in: int, reserve_in: int, reserve_out: int) -> None:
    assert get_amount_out(amount_in, reserve_in, reserve_out, 30) == uniswap_v2_out_997(
        amount_in, reserve_in, reserve_out
    )


@settings(max_examples=400, deadline=None)
@given(amount_out=amounts, reserve_in=reserves, reserve_out=reserves)
def test_get_amount_in_30_bps_equals_the_contract(amount_out: int, reserve_in: int, reserve_out: int) -> None:
    if amount_out >= reserve_out:
        with pytest.raises(AmmRevert, match="INSUFFICIENT_LIQUIDITY"):
            get_amount_in(amount_out, reserve_in, reserve_out, 30)
        return
    assert get_amount_in(amount_out, reserve_in, reserve_out, 30) == uniswap_v2_in_997(
        amount_out, reserve_in, reserve_out
    )


@settings(max_examples=400, deadline=None)
@given(amount_in=amounts, reserve_in=reserves, reserve_out=reserves, fee_bps=fees)
def test_out_is_the_floor_of_the_exact_rational(
    amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int
) -> None:
    gamma = Fraction(10_000 - fee_bps, 10_000)
    exact = gamma * amount_in * reserve_out / (reserve_in + gamma * amount_in)
    assert get_amount_out(amount_in, reserve_in, reserve_out, fee_bps) == exact.numerator // exact.denominator


@settings(max_examples=400, deadline=None)
@given(amount_out=amounts, reserve_in=reserves, reserve_out=reserves, fee_bps=fees)
def test_amount_in_buys_the_output_and_one_less_never_does(
    amount_out: int, reserve_in: int, reserve_out: int, fee_bps: int
) -> None:
    if amount_out >= reserve_out:
        return
    paid = get_amount_in(amount_out, reserve_in, reserve_out, fee_bps)
    assert get_amount_out(paid, reserve_in, reserve_out, fee_bps) >= amount_out
    # The library's "+ 1" may over-pay by one unit, never by two.
    if paid > 2:
        assert get_amount_out(paid - 2, reserve_in, reserve_out, fee_bps) < amount_out


def test_reverts_mirror_the_library() -> None:
    with pytest.raises(AmmRevert, match=r"^INSUFFICIENT_INPUT_AMOUNT$"):
        get_amount_out(0, 10, 10)
    with pytest.raises(AmmRevert, match=r"^INSUFFICIENT_LIQUIDITY$"):
        get_amount_out(1, 0, 10)
    with pytest.raises(AmmRevert, match=r"^INSUFFICIENT_LIQUIDITY$"):
        get_amount_out(1, 10, 0)
    with pytest.raises(AmmRevert, match=r"^INSUFFICIENT_OUTPUT_AMOUNT$"):
        get_amount_in(0, 10, 10)
    with pytest.raises(AmmRevert, match=r"^INSUFFICIENT_LIQUIDITY$"):
        get_amount_in(10, 10, 10)
    with pytest.raises(AmmRevert, match=r"^INSUFFICIENT_LIQUIDITY$"):
        get_amount_in(1, 0, 10)
    with pytest.raises(ValueError, match="fee_bps"):
        get_amount_out(1, 10, 10, 10_000)
    with pytest.raises(ValueError, match="fee_bps"):
        get_amount_in(1, 10, 10, -1)


def test_revert_survives_pickling() -> None:
    exc = AmmRevert("INSUFFICIENT_LIQUIDITY")
    assert pickle.loads(pickle.dumps(exc)).reason == "INSUFFICIENT_LIQUIDITY"


@settings(max_examples=200, deadline=None)
@given(
    amount_in=st.integers(min_value=1, max_value=10**24),
    pools=st.lists(st.tuples(reserves, reserves, fees), min_size=1, max_size=4),
)
def test_get_amounts_out_chains_hops(amount_in: int, pools: list[tuple[int, int, int]]) -> None:
    hops = [Hop(*p) for p in pools]
    expected = [amount_in]
    for r_in, r_out, fee in pools:
        if expected[-1] == 0:
            with pytest.raises(AmmRevert, match="INSUFFICIENT_INPUT_AMOUNT"):
                get_amounts_out(amount_in, hops)
            return
        expected.append(get_amount_out(expected[-1], r_in, r_out, fee))
    assert get_amounts_out(amount_in, hops) == expected
    assert hops[0].amount_out(amount_in) == expected[1]


def test_get_amounts_out_rejects_an_empty_path() -> None:
    with pytest.raises(AmmRevert, match="INVALID_PATH"):
        get_amounts_out(1, [])


def test_real_pancakeswap_router_quotes_at_25_bps() -> None:
    """24 PancakeSwap V2 router getAmountsOut results on Base (degenbot fixture), fee 25/10000."""
    state = json.loads((DATA / "degenbot" / "base_pancakeswap_v2_weth_usdbc_block_46875151.state.json").read_text())
    quotes = json.loads(
        (DATA / "degenbot" / "base_pancakeswap_v2_weth_usdbc_block_46875151.getAmountsOut.json").read_text()
    )["entries"]
    fee_bps = state["fee_numer"] * 10_000 // state["fee_denom"]
    assert fee_bps == 25
    reserves_by_symbol = {
        state["token0"]["symbol"]: state["reserves_token0"],
        state["token1"]["symbol"]: state["reserves_token1"],
    }
    assert len(quotes) == 24
    for key, value in quotes.items():
        _pool, _method, pair, amount = key.split("|")
        token_in, token_out = pair.split("->")
        got = get_amount_out(int(amount), reserves_by_symbol[token_in], reserves_by_symbol[token_out], fee_bps)
        assert got == value["value"], key
