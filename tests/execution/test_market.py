"""The local market on the genuine contracts: what ops.simulator.chain.deploy records, and the Trader's V3 swaps."""

from __future__ import annotations

import pytest

from ops.simulator.chain.deploy import V3_USDC_WETH_FEE, sqrt_price_x96
from ops.simulator.chain.pools import read_state
from ops.simulator.chain.uniswap import quote_exact_input
from tests.execution.conftest import USDC_UNIT, Env

pytestmark = pytest.mark.integration


def test_every_pool_is_recorded_with_its_kind_fee_and_spacing(env: Env) -> None:
    d = env.deployment
    assert {(p.venue, p.kind, p.fee, p.tick_spacing) for p in d.pairs} == {(300, "v2", 30, 0), (302, "v2", 30, 0)}
    assert {(p.venue, p.kind, p.fee, p.tick_spacing) for p in d.v3_pools} == {
        (301, "v3", 500, 10),
        (301, "v3", 3000, 60),
    }
    assert len(d.pairs) == 6 and len(d.v3_pools) == 3 and d.quoter and d.swap_router
    # The V3 USDC/WETH pool opens at the V2 pairs' price, exactly, with liquidity in range.
    v2, v3 = read_state(env.w3, env.pool(300)), read_state(env.w3, env.pool(301))
    assert v3.v3 is not None and v3.v3.sqrt_price_x96 == sqrt_price_x96(v2.reserve0, v2.reserve1)
    assert v3.v3.liquidity > 0 and len(v3.v3.ticks) == 4


def test_a_v3_swap_through_the_router_pays_what_the_quoter_and_pulsearbs_math_say(env: Env) -> None:
    pool = env.pool(301)
    usdc, weth = env.usdc, env.deployment.native_token
    before = read_state(env.w3, pool)
    amount = 30_000 * USDC_UNIT
    expected = before.leg(usdc).amount_out(amount)
    assert quote_exact_input(env.w3, env.deployment.quoter, usdc, weth, V3_USDC_WETH_FEE, amount) == expected
    held = env.balance(weth, env.trader.address)
    env.trader.swap(pool, usdc, amount)
    assert env.balance(weth, env.trader.address) - held == expected


def test_move_v3_to_lands_on_the_target_price(env: Env) -> None:
    pool = env.pool(301)
    start = read_state(env.w3, pool).v3
    assert start is not None
    for target in (start.sqrt_price_x96 * 103 // 100, start.sqrt_price_x96 * 97 // 100):  # up, then down
        env.trader.tx.wait([env.trader.move_v3_to(pool, target, budget=10**30)])
        assert read_state(env.w3, pool).v3.sqrt_price_x96 == target
    assert env.trader.move_v3_to(pool, target, budget=1) is None  # already there
