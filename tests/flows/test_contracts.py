"""Builder contracts and located problems: every problem of every section in one run, each with its line; builders
are registered by contract, checked without being built, and a target that is no contract is one clear line."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from base.errors import ConfigError
from flows.build import BUILDERS, build, contract
from flows.builders.common import RunEnv
from flows.builders.contract import BuilderContract
from flows.builders.detector import load_config as detector_config
from flows.spec import KINDS, FlowSpec, Problems, SpecError, load_spec
from ops.control.checks import check_all, check_spec

ROOT = Path(__file__).resolve().parents[2]

DETECTOR = """\
version: 1
name: det
kind: detector
inputs:
  topics: [market.pool_sync]
strategy:
  name: cross_dex
  params:
    min_net_profit: "5"
    gas_unit: 150000
    join_by: venue
    max_age_ms: -1
    pools:
      "0xAA": {token0: "0x00000000000000000000000000000000000000aa"}
outputs:
  opportunities: arb.opportunity
"""

RISK = """\
version: 1
name: risk
kind: risk_execution
inputs:
  topics: [arb.opportunity]
risk:
  limits:
    min_net_profit: 1
    min_profit_ratio_bps: 1
    max_notional: lots
    max_exposure: {"*": 2000000}
    max_in_flight: 0
    max_in_flight_per_pair: 1
    pair_cooldown_ms: 0
    daily_loss_limit: {"*": 100}
    max_gas_price_wei: 100000000000
    max_quote_age_ms: 2000
    max_quote_age_blocks: 2
    max_consecutive_failures: 3
    breaker_cooldown_ms: 60000
  execution:
    mode: yolo
    gas_limit: 100
    receipt_timeout_s: fast
"""

# (file, line, field, what the line says after the field) for every problem of the two specs above.
EXPECTED = [
    ("d.yaml", 9, "strategy.params.min_net_profit", "expected an integer, got '5'"),
    ("d.yaml", 10, "strategy.params.gas_unit", "unknown parameter; expected one of allowed_lateness_ms,"),
    ("d.yaml", 11, "strategy.params.join_by", "expected pair, graph or '', got 'venue'"),
    ("d.yaml", 12, "strategy.params.max_age_ms", "expected a non-negative integer, got -1"),
    ("d.yaml", 13, "strategy.params.pools", "cannot read it (KeyError: 'token1')"),
    ("r.yaml", 10, "risk.limits.max_notional", "expected an integer or a mapping"),
    ("r.yaml", 12, "risk.limits.max_in_flight", "expected an integer >= 1, got 0"),
    ("r.yaml", 22, "risk.execution.mode", "expected one of live, dry_run, got 'yolo'"),
    ("r.yaml", 23, "risk.execution.gas_limit", "expected an integer >= 21000, got 100"),
    ("r.yaml", 24, "risk.execution.receipt_timeout_s", "expected a number >= 0.1, got 'fast'"),
]


def _write(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "d.yaml").write_text(DETECTOR)
    (tmp_path / "r.yaml").write_text(RISK)
    return tmp_path / "d.yaml", tmp_path / "r.yaml"


def test_every_problem_of_params_limits_and_execution_is_reported_with_its_line(tmp_path: Path) -> None:
    d, r = _write(tmp_path)
    problems = check_all([load_spec(d), load_spec(r)])
    got = [(Path(p.file).name, p.line, p.path, str(p)) for p in problems]
    assert [g[:3] for g in got] == [e[:3] for e in EXPECTED]
    for (_, _, field, line), (_, _, _, says) in zip(got, EXPECTED, strict=True):
        assert f": {field}: {says}" in line, line


def test_flows_validate_prints_them_all_in_one_run(tmp_path: Path) -> None:
    d, r = _write(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "ops", "flows", "validate", str(d), str(r)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr
    printed = out.stdout.splitlines()
    assert [ln.split(": ", 2)[:2] for ln in printed] == [[f"{tmp_path / f}:{n}", field] for f, n, field, _ in EXPECTED]
    assert out.stderr.strip() == f"{len(EXPECTED)} problem(s) in 2 spec file(s)"


def test_overrides_reach_the_builders_config_with_the_lines_of_their_keys(tmp_path: Path) -> None:
    d, _ = _write(tmp_path)
    d.write_text(DETECTOR.split("    min_net_profit")[0] + "    min_net_profit: 5\n")
    spec = load_spec(d, ["strategy.params.min_net_profit=abc", "strategy.params.validity_ms=-5"])
    with pytest.raises(SpecError) as err:
        detector_config(spec)
    assert err.value.problems == [  # in file order; the added key takes the line of its parent
        f"{d}:8: strategy.params.validity_ms: expected a non-negative integer, got -5",
        f"{d}:9: strategy.params.min_net_profit: expected an integer, got 'abc'",
    ]
    assert detector_config(load_spec(d, ["strategy.params.validity_ms=4000"])).params.validity_ms == 4000


def test_every_kind_registers_a_contract() -> None:
    for kind in KINDS:
        registered = contract(kind)
        assert isinstance(registered, BuilderContract) and registered.kind == kind
        assert registered is importlib.import_module(f"flows.builders.{kind}").CONTRACT
    assert {k: contract(k).single_process != "" for k in KINDS} == {
        "bridge": True,
        "detector": False,
        "risk_execution": False,
        "archive": False,
        "collector": True,
    }


def _risk_spec(tmp_path: Path) -> FlowSpec:
    _, r = _write(tmp_path)
    return load_spec(r)


def test_a_builder_target_that_is_no_contract_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _risk_spec(tmp_path)
    monkeypatch.setitem(BUILDERS, "risk_execution", "tests.flows.fake_builder:SECTIONS")
    [p] = check_spec(spec)
    assert (p.line, p.path) == (3, "kind")
    assert p.note == (
        "expected a builder contract at tests.flows.fake_builder:SECTIONS (a flows.builders.contract.BuilderContract, "
        'docs/flows.md "Builders"), got frozenset'
    )
    with pytest.raises(SpecError) as err:
        build(spec, RunEnv(bootstrap="127.0.0.1:9"))
    assert err.value.problems == [str(p)]
    monkeypatch.setitem(BUILDERS, "risk_execution", "flows.builders.detector:CONTRACT")
    [p] = check_spec(spec)
    assert p.path == "kind" and "got the contract of 'detector'" in p.note
    with pytest.raises(ConfigError, match="no builder yet"):
        contract("no_such_kind")


CALLS: list[str] = []


def _config(spec: FlowSpec) -> str:
    CALLS.append(f"config {spec.name}")
    problems = Problems.of(spec)
    if "execution" in spec.risk:
        problems.note("risk.execution", "expected no execution settings in this builder, got some")
    problems.raise_any()
    return "typed"


def _build(spec: FlowSpec, env: RunEnv) -> None:
    CALLS.append(f"build {spec.name}")
    raise AssertionError("the checks must not build a flow")


SPY = BuilderContract(kind="risk_execution", sections=frozenset({"inputs", "risk"}), config=_config, build=_build)


def test_checks_read_a_contracts_config_and_never_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _risk_spec(tmp_path)
    monkeypatch.setitem(BUILDERS, "risk_execution", f"{__name__}:SPY")
    CALLS.clear()
    [p] = check_spec(spec)
    assert (p.line, p.path, p.note) == (
        21,
        "risk.execution",
        "expected no execution settings in this builder, got some",
    )
    assert CALLS == ["config risk"]
    with pytest.raises(AssertionError, match="must not build"):
        build(spec, RunEnv(bootstrap="127.0.0.1:9"))
    assert CALLS == ["config risk", "build risk"]


def test_problems_take_the_line_of_the_nearest_written_parent() -> None:
    problems = Problems(Path("x.yaml"), {"": 1, "a": 3, "a.b": 4, "a.b[0]": 5})
    assert [problems.line(f) for f in ("a.b[0].c", "a.b[1]", "a.z", ("a", "b"), "q")] == [5, 4, 3, 4, 1]
    bare = Problems()
    bare.add(("s", "n"), "an integer", "x")
    bare.note("s.m", "unknown parameter")
    assert bare.items == ["s.n: expected an integer, got 'x'", "s.m: unknown parameter"]
    with pytest.raises(SpecError) as err:
        bare.raise_any()
    assert err.value.problems == bare.items and isinstance(err.value, ConfigError)
