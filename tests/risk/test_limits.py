"""risk.limits / risk.execution validation: every problem on its own line with file, line, field, expected, found."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.builders.risk_execution import load_config
from flows.risk.limits import TokenLimit
from flows.spec import SpecError, load_spec

SPEC = Path(__file__).resolve().parents[2] / "flows" / "specs" / "risk_execution.yaml"


def test_the_shipped_spec_is_valid() -> None:
    limits, execution = load_config(load_spec(SPEC))
    assert limits.max_gas_price_wei > 0
    assert execution.mode in ("live", "dry_run")


def _write(tmp_path: Path, limits: str, execution: str = "") -> Path:
    path = tmp_path / "re.yaml"
    path.write_text(
        "version: 1\nname: re\nkind: risk_execution\ninputs:\n  topics: [arb.opportunity]\nrisk:\n  limits:\n"
        + limits
        + (("  execution:\n" + execution) if execution else "")
    )
    return path


GOOD = """    min_net_profit: {"*": 1, "0x00000000000000000000000000000000000000aa": 5}
    min_profit_ratio_bps: 1
    max_notional: 1000000
    max_exposure: {"*": 2000000}
    max_in_flight: 2
    max_in_flight_per_pair: 1
    pair_cooldown_ms: 0
    daily_loss_limit: {"*": 100}
    max_gas_price_wei: 100000000000
    max_quote_age_ms: 2000
    max_quote_age_blocks: 2
    max_consecutive_failures: 3
    breaker_cooldown_ms: 60000
"""


def test_valid_limits_parse_to_exact_values(tmp_path: Path) -> None:
    limits, execution = load_config(load_spec(_write(tmp_path, GOOD, "    mode: dry_run\n    gas_limit: 300000\n")))
    assert limits.min_net_profit == TokenLimit({"0x00000000000000000000000000000000000000aa": 5}, 1)
    assert limits.min_net_profit.get("0x00000000000000000000000000000000000000AA") == 5
    assert limits.max_notional == TokenLimit({}, 1_000_000)
    assert (execution.mode, execution.gas_limit) == ("dry_run", 300_000)


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = (
        GOOD.replace("max_gas_price_wei: 100000000000", 'max_gas_price_wei: "abc"')
        .replace("max_quote_age_ms: 2000", "max_quote_age_ms: 1500.0")
        .replace("    breaker_cooldown_ms: 60000\n", "    breaker_cooldown_ms: 60000\n    max_leverage: 3\n")
        .replace('daily_loss_limit: {"*": 100}', "daily_loss_limit: {usdc: 100}")
        .replace("    max_in_flight: 2\n", "")
    )
    path = _write(tmp_path, bad, "    mode: yolo\n")
    with pytest.raises(SpecError) as err:
        load_config(load_spec(path))
    lines = str(err.value).splitlines()
    text = path.read_text().splitlines()

    def line_of(key: str) -> int:
        return next(i for i, t in enumerate(text, 1) if t.strip().startswith(key))

    assert (
        f"{path}:{line_of('max_gas_price_wei')}: risk.limits.max_gas_price_wei: expected an integer >= 1, got 'abc'"
        in lines
    )
    assert (
        f"{path}:{line_of('max_quote_age_ms')}: risk.limits.max_quote_age_ms: expected an integer >= 1, got 1500.0"
        in lines
    )
    assert any(
        ln.startswith(f"{path}:{line_of('max_leverage')}: risk.limits.max_leverage: unknown key") for ln in lines
    )
    assert any("risk.limits.daily_loss_limit.usdc: expected a token address" in ln for ln in lines)
    assert any(ln.endswith("risk.limits.max_in_flight: expected an integer >= 1, got nothing") for ln in lines)
    assert any("risk.execution.mode: expected one of live, dry_run, got 'yolo'" in ln for ln in lines)
    assert len(lines) == 6


def test_single_writer_is_enforced(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    path.write_text(path.read_text() + "resources:\n  workers_per_process: 2\n")
    with pytest.raises(SpecError, match=r"resources.workers_per_process: expected 1 \(one writer\), got 2"):
        load_config(load_spec(path))
