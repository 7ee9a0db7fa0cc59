"""The registry and join modes, spec parameters, gas repricing, and the marginal-rate screen."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from base.errors import ConfigError
from flows.amm.cycle import optimal_input
from flows.amm.v2 import Hop
from flows.strategies import join_by, registry, strategy
from flows.strategies.assemble import reprice
from flows.strategies.legs import CexLeg, profitable_at_margin
from flows.strategies.params import params_from_mapping
from tests.strategies.factories import USDC, WETH, params, pool

A = pool("0xa", 400, USDC, 2_000_000 * 10**6, WETH, 1_000 * 10**18, sequence=1)
B = pool("0xb", 401, USDC, 2_100_000 * 10**6, WETH, 1_000 * 10**18, sequence=2)


def test_builtin_strategies_and_their_joins() -> None:
    assert {"cross_dex", "triangular", "cex_dex"} <= set(registry())
    assert (join_by("cross_dex"), join_by("triangular"), join_by("cex_dex")) == ("pair", "graph", "pair")
    assert join_by("triangular", "pair") == "pair"
    with pytest.raises(ConfigError, match="join_by"):
        join_by("cross_dex", "venue")
    with pytest.raises(ConfigError, match="unknown strategy 'nope': expected one of"):
        strategy("nope")


def test_spec_parameters_parse_and_fail_in_one_line() -> None:
    p = params_from_mapping(
        "f",
        {
            "native_token": WETH.upper().replace("0X", "0x"),
            "gas_price_scale": [1, 15000],
            "pools": {"0xAA": {"token0": USDC, "token1": WETH, "fee_bps": 5, "v3": True, "tick_spacing": 10}},
            "cex_markets": {"102:ETH/USD": {"base": WETH, "quote": USDC}},
            "token_decimals": {USDC: 6, WETH: 18},
        },
    )
    assert p.native_token == WETH and p.gas_price_scale == (1, 15000)
    assert p.pools["0xaa"].v3 and p.pools["0xaa"].token0_decimals == 6 and p.pools["0xaa"].fee_bps == 5
    assert p.cex_markets["102:ETH/USD"].quote_decimals == 6 and p.cex_markets["102:ETH/USD"].base_decimals == 18
    assert p.gas_price_from_gwei(30) == 30 * 10**9 // 15000
    with pytest.raises(ConfigError, match=r"strategy.params.gas_unit: unknown parameter; expected one of"):
        params_from_mapping("f", {"gas_unit": 1})
    with pytest.raises(ConfigError, match=r"strategy.params.cex_markets: cannot read it \(KeyError"):
        params_from_mapping("f", {"cex_markets": {"102:ETH/USD": {"base": WETH}}})
    with pytest.raises(ConfigError, match=r"cex_markets: cannot read it \(ValueError: no decimals for base token"):
        params_from_mapping("f", {"cex_markets": {"102:ETH/USD": {"base": WETH, "quote": USDC}}})
    with pytest.raises(ConfigError, match="gas_price_scale"):
        params_from_mapping("f", {"gas_price_scale": [1, 0]})


def test_reprice_keeps_the_size_and_gates_on_net_profit() -> None:
    from flows.strategies import cross_dex

    (opp,) = cross_dex.evaluate([A, B], params(), now_ns=0)
    dear = reprice(opp, 30 * 10**9, params())
    assert dear is not None and (dear.amount_in, dear.amount_out, dear.id) == (opp.amount_in, opp.amount_out, opp.id)
    assert dear.gas_cost == 9_000_000 and dear.gas_price_wei == 30 * 10**9
    assert reprice(opp, 10**16, params()) is None  # gas above the gross profit


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 10**24), st.integers(1, 10**24), st.integers(0, 300)), min_size=2, max_size=4),
    st.integers(0, 50),
)
def test_the_margin_screen_never_hides_a_profitable_cycle(raw: list, flash: int) -> None:
    hops = [Hop(r_in, r_out, fee) for r_in, r_out, fee in raw]
    if not profitable_at_margin(hops, flash):
        assert optimal_input(hops, flash).amount_in == 0


def test_a_cex_leg_is_linear_until_its_cap() -> None:
    leg = CexLeg(3, 2, cap=10)
    assert [leg.amount_out(x) for x in (1, 2, 10, 11, 100)] == [1, 3, 15, 15, 15]
    assert profitable_at_margin([leg, Hop(3, 2, 0)]) is False
