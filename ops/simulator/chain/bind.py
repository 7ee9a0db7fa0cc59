"""Bind flow specs to a chain deployment: spec templates and bindings with ``${NAME}`` placeholders.

Two uses of one renderer (:func:`render_spec`):

- a *template* is a whole spec (the closed-loop tests' and benchmarks' ``specs/*.yaml``), filled in and loaded;
- a *binding* holds only chain-bound fields (chain id, token addresses, venue fees, per-token limits):
  ``ops/simulator/chain/bindings/<kind>.yaml`` for every spec of a kind, then ``<kind>-<strategy>.yaml`` for the specs
  of one strategy. ``pulsearb up --scenario chain`` merges them over the specs of flows/specs (:func:`bind_specs`),
  so the flows users wrote run against the local chain with their own settings and the chain's addresses.

Placeholders: ``CHAIN_ID``, ``WETH``, ``USDC`` (and ``WBTC`` when deployed), ``EXECUTOR``, ``FLASH_LENDER``,
``QUOTER``, ``SWAP_ROUTER`` (the V3 periphery; "" when not deployed), ``VENUE_FEES`` (a YAML mapping venue -> fee
bps of the V2 venues), ``POOLS`` (a YAML mapping of every pool, V2 and V3, to what a detector's catalog seeds it
with: venue, tokens, decimals, fee in bps, ``v3`` and tick spacing), ``COLLECTOR_FACTORIES`` and
``COLLECTOR_POOLS`` (the chain collector's factories, V2 with their fee and V3, and the pools it follows), plus
any ``values`` the caller adds.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from base.errors import ConfigError
from flows.spec import FlowSpec, load_spec
from ops.simulator.chain.deploy import Deployment

BINDINGS = Path(__file__).resolve().parent / "bindings"


def collector_factories(deployment: Deployment) -> list[dict[str, Any]]:
    """The chain collector's ``collector.factories`` for a deployment: one entry per venue with pools, V2 with its
    fee and V3, none discovering (the collector follows the deployment's pools, not every pool a factory made)."""
    fees = {p.venue: p.fee_bps for p in deployment.pairs}
    return [
        {"address": address, "kind": "v2", "venue": venue, "fee_bps": fees[venue], "discover": False}
        if venue in fees
        else {"address": address, "kind": "v3", "venue": venue, "discover": False}
        for venue, address in sorted(deployment.factories.items())
        if venue in fees or any(p.venue == venue for p in deployment.v3_pools)
    ]


def placeholders(deployment: Deployment, values: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``${NAME}`` values a deployment gives (plus ``values``)."""
    fees = {p.venue: p.fee_bps for p in deployment.pairs}
    pools = {
        p.address: {
            "venue": p.venue,
            "token0": p.token0,
            "token1": p.token1,
            "token0_decimals": p.token0_decimals,
            "token1_decimals": p.token1_decimals,
            "fee_bps": p.fee_bps,
            "v3": p.kind == "v3",
            "tick_spacing": p.tick_spacing,
        }
        for p in deployment.pools
    }
    out = {
        "CHAIN_ID": str(deployment.chain_id),
        "EXECUTOR": deployment.executor,
        "FLASH_LENDER": deployment.flash_lender,
        "QUOTER": deployment.quoter,
        "SWAP_ROUTER": deployment.swap_router,
        "VENUE_FEES": "{" + ", ".join(f"{v}: {f}" for v, f in sorted(fees.items())) + "}",
        "POOLS": json.dumps(pools),  # JSON is YAML's flow style
        "COLLECTOR_FACTORIES": json.dumps(collector_factories(deployment)),
        "COLLECTOR_POOLS": json.dumps([p.address for p in deployment.pools]),
    }
    out |= {symbol: token.address for symbol, token in deployment.tokens.items()}
    return out | dict(values or {})


def merge(base: Any, over: Any) -> Any:
    """``over`` merged into ``base``: mappings key by key (recursively), anything else replaced."""
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    return over


def _render(template: Path, deployment: Deployment, values: Mapping[str, str] | None) -> str:
    try:
        return string.Template(template.read_text()).substitute(placeholders(deployment, values))
    except KeyError as exc:
        msg = f"{template}: placeholder ${{{exc.args[0]}}} has no value for this deployment"
        raise ConfigError(msg) from None


def render_spec(
    template: Path | Sequence[Path],
    deployment: Deployment,
    out_dir: Path,
    *,
    base: FlowSpec | None = None,
    values: Mapping[str, str] | None = None,
) -> FlowSpec:
    """Fill a template's placeholders from the deployment and load the result as a spec.

    Args:
        template: a whole spec, or (with ``base``) one or more bindings, merged in order.
        deployment: where the values come from.
        out_dir: where the rendered spec is written (named after ``base``'s file, else the template's).
        base: merge the rendered bindings over this spec's file.
        values: more placeholder values.

    Raises:
        ConfigError: a template uses a placeholder with no value.
        SpecError: the rendered spec is invalid (the message names the rendered file).
    """
    templates = [template] if isinstance(template, Path) else list(template)
    out_dir.mkdir(parents=True, exist_ok=True)
    if base is None:
        [whole] = templates
        path = out_dir / whole.name
        path.write_text(_render(whole, deployment, values))
        return load_spec(path)
    merged = yaml.safe_load(base.path.read_text())
    for t in templates:
        merged = merge(merged, yaml.safe_load(_render(t, deployment, values)))
    path = out_dir / base.path.name
    names = " + ".join(str(t) for t in templates)
    header = f"# {base.path} bound to chain {deployment.chain_id} by {names} (generated: edit those, not this)\n"
    path.write_text(header + yaml.safe_dump(merged, sort_keys=False, width=120))
    return load_spec(path)


def bindings_for(spec: FlowSpec, bindings: Path = BINDINGS) -> list[Path]:
    """The bindings that apply to a spec: its kind's, then its kind and strategy's (those that exist)."""
    names = [f"{spec.kind}.yaml"] + ([f"{spec.kind}-{spec.strategy.name}.yaml"] if spec.strategy.name else [])
    return [bindings / n for n in names if (bindings / n).exists()]


def bind_specs(
    specs: Sequence[FlowSpec],
    deployment: Deployment,
    out_dir: Path,
    values: Mapping[str, str] | None = None,
    bindings: Path = BINDINGS,
) -> list[FlowSpec]:
    """Every spec, bound to the deployment where bindings apply to it (the others as they are)."""
    out = []
    for spec in specs:
        found = bindings_for(spec, bindings)
        out.append(render_spec(found, deployment, out_dir, base=spec, values=values) if found else spec)
    return out
