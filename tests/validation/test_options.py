"""Option checks: contradictory or out-of-range settings are refused in one line before the chain is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.errors import ConfigError
from ops.validation.options import Options

URL = "http://127.0.0.1:1"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (Options(URL), "give exactly one of --deploy"),
        (Options(URL, deployment=Path("d.json"), deploy=True), "give exactly one of --deploy"),
        (Options(URL, deploy=True, dry_run_only=True), "--dry-run-only sends no transaction, so it cannot --deploy"),
        (Options(URL, deployment=Path("d.json"), out=Path("o.json")), "--out writes the deployment of a --deploy"),
        (Options(URL, deploy=True, key_env="K", keystore=Path("k")), "at most one of --key-env and --keystore"),
        (Options(URL, deploy=True, amount_in=0), "--amount-in must be a positive integer, got 0"),
        (Options(URL, deploy=True, chain_id=-1), "--chain-id must be a positive integer"),
        (Options(URL, deploy=True, priority_fee_wei=2, max_gas_price_wei=1), "--priority-fee-gwei is above"),
        (Options(URL, deploy=True, timeout_s=0), "--timeout must be positive"),
    ],
)
def test_refused(options: Options, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        options.check()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_accepted() -> None:
    Options(URL, deploy=True, out=Path("o.json"), chain_id=1, amount_in=5).check()
    Options(URL, deployment=Path("d.json"), dry_run_only=True, keystore=Path("k")).check()


def test_missing_deployment_file_fails_the_chain_step(capsys, monkeypatch, tmp_path) -> None:
    from tests.validation.conftest import run_validate

    missing = tmp_path / "nope.json"
    run = run_validate(capsys, monkeypatch, None, "--rpc", URL, "--deployment", str(missing))
    assert run.code == 1
    assert run.err.strip() == (
        f"pulsearb validate: FAIL at chain: deployment file {missing} does not exist: fix --deployment, or deploy "
        f"with --deploy --out {missing}"
    )
