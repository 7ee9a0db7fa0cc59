"""Binding flows/specs to a chain deployment: detectors, risk_execution and the chain collector."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from base.errors import ConfigError
from flows.builders.collector import load_config
from flows.spec import load_specs
from flows.strategies.params import params_from_mapping
from ops.simulator.chain.bind import BINDINGS, bind_specs, merge, render_spec
from ops.simulator.chain.deploy import Deployment, PairInfo, TokenInfo

USDC = "0x" + "11" * 20
WETH = "0x" + "22" * 20
WBTC = "0x" + "33" * 20
VALUES = {"WETH_USD": "3682.04", "WBTC_USD": "114988.98"}


def _deployment() -> Deployment:
    return Deployment(
        chain_id=31337,
        deployer="0x" + "aa" * 20,
        executor="0x" + "ee" * 20,
        flash_lender="0x" + "ff" * 20,
        flash_fee_bps=9,
        native_token=WETH,
        tokens={
            "WETH": TokenInfo("WETH", WETH, 18),
            "USDC": TokenInfo("USDC", USDC, 6),
            "WBTC": TokenInfo("WBTC", WBTC, 8),
        },
        factories={300: "0x" + "01" * 20, 301: "0x" + "03" * 20, 302: "0x" + "02" * 20},
        pairs=[
            PairInfo("0x" + "a1" * 20, 300, 30, USDC, WETH, 6, 18),
            PairInfo("0x" + "a2" * 20, 302, 25, USDC, WETH, 6, 18),
        ],
        v3_pools=[PairInfo("0x" + "b1" * 20, 301, 5, USDC, WETH, 6, 18, "v3", 500, 10)],
    )


def test_merge_replaces_values_and_merges_mappings() -> None:
    base = {"a": 1, "m": {"x": 1, "y": {"z": 2}}, "l": [1, 2]}
    assert merge(base, {"a": 2, "m": {"y": {"w": 3}}, "l": [3]}) == {
        "a": 2,
        "m": {"x": 1, "y": {"z": 2, "w": 3}},
        "l": [3],
    }


def test_every_spec_binds_to_the_chain_and_keeps_its_own_settings(tmp_path: Path) -> None:
    specs = load_specs()
    bound = {s.name: s for s in bind_specs(specs, _deployment(), tmp_path, VALUES)}
    assert set(bound) == {s.name for s in specs}  # same flows, same names (so the same DLQ topics)
    for spec in specs:
        b = bound[spec.name]
        assert b.kind == spec.kind and b.inputs == spec.inputs and b.outputs == spec.outputs
        if spec.kind == "detector":
            params, own = b.strategy.params, spec.strategy.params
            assert (params["chain_id"], params["native_token"], params["base_tokens"]) == (31337, WETH, [USDC])
            assert params["venue_fees_bps"][300] == 30 and params["venue_fees_bps"][302] == 25
            assert params["usd_prices"][USDC] == 1.0 and params["usd_prices"][WETH] == 3682.04
            assert params["min_net_profit"] == own["min_net_profit"] and b.strategy.name == spec.strategy.name
            for name, market in params.get("cex_markets", {}).items():  # cex_dex: the exchange stands for our tokens
                assert (market["base"], market["quote"]) in ((WETH, USDC), (WBTC, USDC)), name
                assert market["taker_fee_bps"] == own["cex_markets"][name]["taker_fee_bps"]
            assert b.path.parent == tmp_path
            # The catalog knows every pool, V3 included, with its fee and tick spacing.
            pools = params_from_mapping(b.name, params).pools
            assert {(a, m.venue, m.fee_bps, m.v3, m.tick_spacing) for a, m in pools.items()} == {
                ("0x" + "a1" * 20, 300, 30, False, 0),
                ("0x" + "a2" * 20, 302, 25, False, 0),
                ("0x" + "b1" * 20, 301, 5, True, 10),
            }
        elif spec.kind == "collector":  # the local chain's factories and every pool, on chain 31337
            config = load_config(b)
            assert config.chain_id == 31337 and b.inputs == spec.inputs and b.outputs == spec.outputs
            assert {(f.address, f.kind, f.venue, f.fee_bps, f.discover) for f in config.factories} == {
                ("0x" + "01" * 20, "v2", 300, 30, False),
                ("0x" + "02" * 20, "v2", 302, 25, False),
                ("0x" + "03" * 20, "v3", 301, 30, False),  # a V3 pool's fee is read from the pool
            }
            assert set(config.pools) == {"0x" + "a1" * 20, "0x" + "a2" * 20, "0x" + "b1" * 20}
        elif spec.kind == "risk_execution":
            limits = b.risk["limits"]
            assert limits["max_notional"][USDC] == 150_000 * 10**6 and limits["max_in_flight"] == 1
            assert limits["max_quote_age_ms"] == spec.risk["limits"]["max_quote_age_ms"]
        else:
            assert b is spec  # no binding: deployed as written


def test_a_bound_spec_says_where_it_came_from(tmp_path: Path) -> None:
    [spec] = [s for s in load_specs() if s.name == "cross_dex"]
    bound = render_spec(BINDINGS / "detector.yaml", _deployment(), tmp_path, base=spec, values=VALUES)
    text = bound.path.read_text()
    assert text.startswith(f"# {spec.path} bound to chain 31337 by ")
    assert yaml.safe_load(text)["name"] == "cross_dex"


def test_a_placeholder_without_a_value_is_one_clear_error(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text("name: ${NOPE}\n")
    with pytest.raises(ConfigError, match=r"placeholder \$\{NOPE\} has no value"):
        render_spec(template, _deployment(), tmp_path / "out")
