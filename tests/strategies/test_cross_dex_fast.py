"""cross_dex's per-update fast paths against their references: the trigger's couples, the view's markets of a pair,
the whole evaluation, and the gas step's repricing: the same opportunities, byte for byte."""

from __future__ import annotations

import random
from dataclasses import replace
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.amm.v3.pool import V3PoolState
from flows.amm.v3.tick_math import get_sqrt_ratio_at_tick
from flows.opportunity import to_record
from flows.state.join import AsOfJoin
from flows.strategies import cross_dex
from flows.strategies.assemble import reprice
from tests.strategies.factories import T0, USDC, WBTC, WETH, params, pool

PAIRS = ((USDC, WETH, 2_000 * 10**6, 10**18), (USDC, WBTC, 100_000 * 10**6, 10**8))


def _v3(liquidity: int) -> V3PoolState:
    # USDC/WETH near 2,100 USDC per WETH (tests/strategies/test_cross_dex.py), liquidity over the full range (a
    # narrow range makes every swap past it scan the whole tick bitmap: slow, and not what is tested here).
    tick, edge = -198_240, 887_220
    return V3PoolState(get_sqrt_ratio_at_tick(tick), tick, liquidity, 3000, 60, {-edge: liquidity, edge: -liquidity})


state = st.fixed_dictionaries(
    {
        "pair": st.integers(0, len(PAIRS) - 1),
        "pool": st.integers(0, 5),  # a few pools per pair: repeats are newer states of the same pool
        "venue": st.sampled_from([400, 401, 402]),
        "size": st.one_of(st.integers(0, 100), st.integers(10**3, 10**9)),  # 0: not tradable; 1..100: tiny
        "skew_bps": st.integers(-300, 300),
        "fee_bps": st.integers(0, 100),
        "dt_ms": st.integers(0, 120_000),  # max_age_ms is 60,000: some partners are stale
        "block": st.sampled_from([0, 100, 101, 103, 110]),  # max_age_blocks 5; 0: no block
        "v3": st.sampled_from([None, None, None, None, 0, 10**17]),  # a V3 pool (liquidity 0: not tradable)
    }
)


def _pool_state(i: int, d: dict) -> object:
    base, quote, base_unit, quote_unit = PAIRS[d["pair"]]
    address = f"0x{d['pair']}{d['pool']:02d}"
    venue = d["venue"] if d["v3"] is None else 300  # one venue per address across draws would be nicer: irrelevant
    v3 = _v3(d["v3"]) if d["v3"] is not None and quote == WETH else None
    amount_base = d["size"] * base_unit * (10_000 + d["skew_bps"]) // 10_000
    return pool(
        address, venue, base, amount_base, quote, d["size"] * quote_unit,
        block=d["block"], sequence=i + 1, timestamp_ns=T0 + d["dt_ms"] * 1_000_000, fee_bps=d["fee_bps"], v3=v3,
    )  # fmt: skip


def _between_reference(view, a: str, b: str) -> list:
    return [s for k in view.join.graph.between(a, b) if (s := view.get(k)) is not None]


@settings(max_examples=250, deadline=None)
@given(draws=st.lists(state, min_size=1, max_size=14), seed=st.integers(0, 2**32 - 1), flash=st.sampled_from([0, 9]))
def test_fast_paths_equal_their_references(draws: list[dict], seed: int, flash: int) -> None:
    """Every view a join hands out (in order, late, re-evaluated) gives the same couples, markets and
    opportunities through the fast paths as through the references."""
    states = [_pool_state(i, d) for i, d in enumerate(draws)]
    random.Random(seed).shuffle(states)  # arrival order: late states are re-joined at their time
    p = params(flash_fee_bps=flash, base_tokens=() if seed % 2 else (USDC, WETH))
    join = AsOfJoin(10**18, 60_000 * 10**6)
    views = [view for s in states for view in join.insert(s)]
    for view in views:
        assert cross_dex._couples(view, p) == cross_dex._couples(view, p, fast=False)
        for base, quote, _bu, _qu in PAIRS:
            assert view.between(base, quote) == _between_reference(view, base, quote)
    # Sized end to end where no V3 pool is in the trigger's pair (a V3 leg's sizing, flows/amm/mixed.py, is not a
    # fast path, has its own tests, and swaps slowly in Python).
    views = [v for v in views if all(s.v3 is None for s in v.between(v.trigger.token0, v.trigger.token1))]
    fast_opps = [[to_record(o) for o in cross_dex.evaluate(v, p, v.trigger.timestamp_ns)] for v in views]
    with pytest.MonkeyPatch.context() as m:
        m.setattr(cross_dex, "_couples", partial(cross_dex._couples, fast=False))
        reference = [[to_record(o) for o in cross_dex.evaluate(v, p, v.trigger.timestamp_ns)] for v in views]
    assert fast_opps == reference


@pytest.mark.parametrize("gas_price_wei", [0, 1, 30 * 10**9, 10**15])
def test_reprice_equals_dataclasses_replace(gas_price_wei: int) -> None:
    a = pool("0xa", 400, USDC, 2_000_000 * 10**6, WETH, 1_000 * 10**18, sequence=1)
    b = pool("0xb", 401, USDC, 2_100_000 * 10**6, WETH, 1_000 * 10**18, sequence=2)
    p = params(gas_price_wei=0, min_net_profit=1)
    (opp,) = cross_dex.evaluate([a, b], p, now_ns=7)
    repriced = reprice(opp, gas_price_wei, p)
    gas_cost = opp.native_price.to_x_ceil(opp.gas_estimate * gas_price_wei)
    net = opp.gross_profit - gas_cost - opp.flash_fee
    if net < p.min_net_profit:
        assert repriced is None
        return
    expected = replace(opp, gas_price_wei=gas_price_wei, gas_cost=gas_cost,
                       net_profit_usd=p.usd(opp.token_in, net, opp.token_in_decimals))  # fmt: skip
    assert repriced == expected and to_record(repriced) == to_record(expected)
    assert repriced.native_price == expected.native_price and repriced.trace == expected.trace
