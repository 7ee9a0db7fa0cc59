"""Option checks: contradictory or out-of-range settings are refused in one line before the chain is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from base.errors import ConfigError
from ops.validation.options import Options, parse_addresses

URL = "http://127.0.0.1:1"
A, B = "0x" + "aa" * 20, "0x" + "bb" * 20


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (Options(URL), "give exactly one of --deploy"),
        (Options(URL, deployment=Path("d.json"), deploy=True), "give exactly one of --deploy"),
        (Options(URL, deploy=True, dry_run_only=True), "--dry-run-only sends no transaction, so it cannot --deploy"),
        (Options(URL, deployment=Path("d.json"), out=Path("o.json")), "--out writes the deployment file of a --deploy"),
        (Options(URL, deploy=True, key_env="K", keystore=Path("k")), "at most one of --key-env and --keystore"),
        (Options(URL, deploy=True, amount_in=0), "--amount-in must be a positive integer, got 0"),
        (Options(URL, deploy=True, chain_id=-1), "--chain-id must be a positive integer"),
        (Options(URL, deploy=True, priority_fee_wei=2, max_gas_price_wei=1), "--priority-fee-gwei is above"),
        (Options(URL, deploy=True, timeout_s=0), "--timeout must be positive"),
        (Options(URL, pools=(A, B), deploy=True, deploy_executor=True), "--deploy deploys test pools of its own"),
        (Options(URL, pools=(A, B)), "--pools needs exactly one executor"),
        (Options(URL, pools=(A, B), deployment=Path("d"), deploy_executor=True), "--pools needs exactly one executor"),
        (Options(URL, pools=(A,), deploy_executor=True), "--pools takes the 2 or 3 pools of one cycle, got 1"),
        (Options(URL, pools=(A, B, A), deploy_executor=True), "--pools names a pool twice"),
        (Options(URL, pools=(A, B), deploy_executor=True, live=True, dry_run_only=True), "at most one of --live"),
        (Options(URL, pools=(A, B), deploy_executor=True, capital="flash_loan"), "--capital must be one of"),
        (Options(URL, deploy=True, live=True), "--live, --deploy-executor, --factory, --token-in and --capital go"),
        (Options(URL, deployment=Path("d"), capital="own"), "go with --pools ADDR,ADDR"),
        (Options(URL, pools=(A, B), deployment=Path("d"), out=Path("o")), "--out writes the deployment file"),
    ],
)
def test_refused(options: Options, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        options.check()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_accepted() -> None:
    Options(URL, deploy=True, out=Path("o.json"), chain_id=1, amount_in=5).check()
    Options(URL, deployment=Path("d.json"), dry_run_only=True, keystore=Path("k")).check()
    Options(URL, pools=(A, B), deploy_executor=True, out=Path("o.json"), live=True, capital="own").check()


def test_pools_runs_are_dry_unless_live_and_flash_swap_by_default() -> None:
    assert Options(URL, pools=(A, B), deploy_executor=True).dry_run
    assert not Options(URL, pools=(A, B), deploy_executor=True, live=True).dry_run
    assert Options(URL, pools=(A, B), deploy_executor=True).capital_mode == "flash_swap"
    assert Options(URL, pools=(A, B), deploy_executor=True, capital="own").capital_mode == "own"
    assert not Options(URL, deploy=True).dry_run and Options(URL, deploy=True).capital_mode == "own"


def test_addresses_are_parsed_lower_case_or_refused() -> None:
    assert parse_addresses([f"{A.upper().replace('X', 'x')}, {B}"], "--pools") == (A, B)
    assert parse_addresses([A, B], "--factory") == (A, B)
    with pytest.raises(ConfigError, match=r"--pools: '0x12' is not an address"):
        parse_addresses([f"{A},0x12"], "--pools")


def test_missing_deployment_file_fails_the_chain_step(capsys, monkeypatch, tmp_path) -> None:
    from tests.validation.conftest import run_validate

    missing = tmp_path / "nope.json"
    run = run_validate(capsys, monkeypatch, None, "--rpc", URL, "--deployment", str(missing))
    assert run.code == 1
    assert run.err.strip() == (
        f"pulsearb validate: FAIL at chain: deployment file {missing} does not exist: fix --deployment, or deploy "
        f"with --deploy --out {missing}"
    )
