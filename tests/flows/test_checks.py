"""Checks beyond the schema: kind contract, strategy registry, the builder convention, specs deployed together."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flows.build import BUILDERS
from flows.spec import FlowSpec, load_spec, load_specs
from ops.control.checks import check_all, check_spec, check_together

DETECTOR = """\
version: 1
name: eth_usdc
kind: detector
inputs:
  topics: [market.pool_sync]
strategy:
  name: cross_dex
  params:
    min_net_profit: 1
    gas_units: 150000
outputs:
  opportunities: arb.opportunity
"""
LOCATED = re.compile(r"^(?P<file>[^:]+\.yaml):(?P<line>\d+): (?P<path>\S+): (?P<what>.+)$")


def spec_of(tmp_path: Path, text: str, name: str = "s.yaml") -> FlowSpec:
    path = tmp_path / name
    path.write_text(text)
    return load_spec(path)


def located(problems: list) -> list[dict[str, str]]:
    out = []
    for p in problems:
        m = LOCATED.match(str(p))
        assert m, f"not a FILE:LINE: path: message line: {p}"
        out.append(m.groupdict())
    return out


def test_committed_specs_pass_every_check() -> None:
    assert check_all(load_specs()) == []


def test_unknown_strategy_lists_the_registered_ones(tmp_path: Path) -> None:
    [p] = located(check_spec(spec_of(tmp_path, DETECTOR.replace("name: cross_dex", "name: cross_dexx"))))
    assert (p["line"], p["path"]) == ("7", "strategy.name")
    assert "expected a registered strategy (" in p["what"] and "cross_dex," in p["what"]
    assert p["what"].endswith("got 'cross_dexx'")


def test_strategy_parameter_rejected_by_the_builder_is_located(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, DETECTOR.replace("    gas_units: 150000", "    gas_unit: 150000"))
    [p] = located(check_spec(spec))
    assert (p["line"], p["path"]) == ("10", "strategy.params.gas_unit")
    assert "unknown parameter" in p["what"]


def test_detector_needs_a_strategy(tmp_path: Path) -> None:
    text = "\n".join(x for x in DETECTOR.splitlines() if not x.startswith(("strategy", "  name", "  params", "    ")))
    problems = located(check_spec(spec_of(tmp_path, text + "\n")))
    assert [p["path"] for p in problems] == ["strategy.name"]


def test_a_section_the_kind_does_not_read_is_an_error(tmp_path: Path) -> None:
    [p] = located(check_spec(spec_of(tmp_path, DETECTOR + "risk:\n  limits: {max_notional_usd: 10}\n")))
    assert (p["line"], p["path"]) == ("13", "risk")
    assert "expected no risk section in a detector flow" in p["what"] and "ignored" in p["what"]


def test_bridge_runs_as_one_process(tmp_path: Path) -> None:
    text = "version: 1\nname: bridge2\nkind: bridge\noutputs: {dlq: dlq.relay}\nresources:\n  processes: 2\n"
    [p] = located(check_spec(spec_of(tmp_path, text)))
    assert (p["line"], p["path"]) == ("6", "resources.processes") and "expected 1 for a bridge flow" in p["what"]


def test_builder_convention_sections_and_validate_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BUILDERS, "risk_execution", "tests.flows.fake_builder:flow")
    text = (
        "version: 1\nname: risk\nkind: risk_execution\ninputs: {topics: [arb.opportunity]}\n"
        "risk:\n  limits:\n    max_gas_price_wei: lots\n  kill_switch: true\n"
    )
    spec = spec_of(tmp_path, text)
    problems = located(check_spec(spec))
    assert [(p["line"], p["path"]) for p in problems] == [
        ("7", "risk.limits.max_gas_price_wei"),
        ("8", "risk.kill_switch"),
    ]
    assert problems[0]["what"] == "expected an integer, got 'lots'"
    ok = spec_of(tmp_path, text.replace("lots", "100").replace("  kill_switch: true\n", ""))
    assert check_spec(ok) == []
    [p] = located(
        check_spec(spec_of(tmp_path, text.replace("kind: risk_execution", "kind: risk_execution\njoin: {by: pair}")))
    )
    assert p["path"] == "join" and "(its builder reads inputs, outputs, risk)" in p["what"]


def test_builder_bugs_and_missing_builders_are_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "version: 1\nname: risk\nkind: risk_execution\ninputs: {topics: [arb.opportunity]}\n"
    monkeypatch.setitem(BUILDERS, "risk_execution", "tests.flows.broken_builder:flow")
    [p] = located(check_spec(spec_of(tmp_path, text)))
    assert p["path"] == "(build)" and "the risk_execution builder failed: KeyError" in p["what"]
    monkeypatch.setitem(BUILDERS, "risk_execution", "tests.flows.no_such_builder:flow")
    [p] = located(check_spec(spec_of(tmp_path, text)))
    assert (p["line"], p["path"]) == ("3", "kind") and "no builder yet" in p["what"]


def test_specs_deployed_together_must_not_share_ports_dlq_or_recovery(tmp_path: Path) -> None:
    a = spec_of(tmp_path, DETECTOR + "observability: {metrics_port: 9300}\nrecovery: {directory: /tmp/r}\n", "a.yaml")
    b_text = DETECTOR.replace("name: eth_usdc", "name: btc_usdc").replace(
        "  opportunities: arb.opportunity", "  opportunities: arb.opportunity\n  dlq: dlq.eth_usdc"
    )
    b = spec_of(tmp_path, b_text + "observability: {metrics_port: 9300}\nrecovery: {directory: /tmp/r}\n", "b.yaml")
    problems = located(check_together([a, b]))
    assert [p["path"] for p in problems] == ["observability.metrics_port", "outputs.dlq", "recovery.directory"]
    assert all(p["file"].endswith("b.yaml") and "a.yaml:" in p["what"] for p in problems)
