"""``pulsearb validate`` against anvil: full pass with --deploy, attach mode, dry run only, and each failure that
must end in one clear line (wrong chain, unreachable node, missing key, insufficient funds, foreign code, wrong key).
Every run also greps its output for the key (tests/validation/conftest.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys

import pytest
from web3 import Web3

from base.paths import ROOT
from flows.execution.signer import Signer
from ops.simulator.stack import process
from ops.simulator.stack.chain import chain_spec
from ops.validation.steps import STEPS
from tests.validation.conftest import Attached, Node, new_key, run_validate

pytestmark = pytest.mark.integration

NAMES = [s.name for s in STEPS]


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_deploy_full_pass(node: Node, capsys, monkeypatch, tmp_path) -> None:
    key = new_key()
    address = Signer.from_key(key).address
    node.fund(address)
    out = tmp_path / "deployment.json"
    run = run_validate(capsys, monkeypatch, key, "--rpc", node.url, "--deploy", "--out", str(out), "--format", "json")
    assert run.code == 0, run.err
    report = run.json()
    assert report["ok"] and report["failure"] is None
    assert [s["name"] for s in report["steps"]] == NAMES
    assert set(run.steps().values()) == {"PASS"}
    figures = report["figures"]
    assert figures["realized_profit"] == figures["predicted_profit"] == figures["simulated_profit"] > 0
    assert figures["realized_amount_out"] == figures["predicted_amount_out"]
    assert figures["amount_in"] > 0 and figures["gas_used"] > 21_000 and figures["effective_gas_price_wei"] > 0
    assert figures["gas_cost_wei"] == figures["gas_used"] * figures["effective_gas_price_wei"]
    receipt = node.w3.eth.get_transaction_receipt(figures["tx_hash"])
    assert receipt["status"] == 1 and receipt["gasUsed"] == figures["gas_used"]
    written = json.loads(out.read_text())
    assert written["executor"] == figures["executor"] and written["chain_id"] == 31337
    # progress and PASS lines went to stderr, so that stdout is one JSON document
    for name in NAMES:
        assert re.search(rf"^\s+PASS {re.escape(name)}\s+\d+\.\d\d s ", run.err, re.M), name


def test_attach_with_deployment_file(node: Node, attached: Attached, capsys, monkeypatch) -> None:
    executor = attached.deployment.executor
    usdc = attached.deployment.tokens["USDC"].address
    run = run_validate(
        capsys,
        monkeypatch,
        attached.key,
        "--rpc",
        node.url,
        "--deployment",
        str(attached.path),
        "--amount-in",
        str(1_000 * 10**6),
    )
    assert run.code == 0, run.out + run.err
    assert run.err == ""
    for name in NAMES:
        assert re.search(rf"^\s+PASS {re.escape(name)}\s+\d+\.\d\d s ", run.out, re.M), name
    assert "attached to 8 contracts" in run.out  # executor, lender, 3 factories, 2 V2 pairs, 1 V3 pool
    assert "realized profit" in run.out and "= predicted, to the wei" in run.out
    assert re.search(r"^PASS: 8 of 8 steps passed", run.out, re.M)
    # the profit was withdrawn: the executor holds what the deployment gave it
    from ops.simulator.chain.tx import contract

    held = contract(node.w3, "TestToken", usdc).functions.balanceOf(node.w3.to_checksum_address(executor)).call()
    assert held == 200_000 * 10**6


def test_dry_run_only_sends_nothing(node: Node, attached: Attached, capsys, monkeypatch) -> None:
    deployment = attached.deployment
    attached.trader.swap(deployment.pair(300), deployment.tokens["USDC"].address, 40_000 * 10**6)
    owner = Signer.from_key(attached.key).address
    nonce = node.nonce(owner)
    block = node.w3.eth.block_number
    run = run_validate(
        capsys,
        monkeypatch,
        attached.key,
        "--rpc",
        node.url,
        "--deployment",
        str(attached.path),
        "--dry-run-only",
        "--format",
        "json",
    )
    assert run.code == 0, run.err
    assert run.steps() == dict.fromkeys(NAMES[:6], "PASS") | {"live": "SKIP", "cleanup": "SKIP"}
    figures = run.json()["figures"]
    assert figures["simulated_profit"] == figures["predicted_profit"] > 0
    assert node.nonce(owner) == nonce and node.w3.eth.block_number == block


def test_dry_run_only_without_a_dislocation_says_so(node: Node, attached: Attached, capsys, monkeypatch) -> None:
    run = run_validate(
        capsys,
        monkeypatch,
        attached.key,
        "--rpc",
        node.url,
        "--deployment",
        str(attached.path),
        "--dry-run-only",
        "--min-profit",
        str(10**15),
    )
    assert run.code == 1
    assert "no dislocation" in one_line(run.err) and "--dry-run-only sends nothing" in run.err


def test_wrong_chain_id_refused(node: Node, capsys, monkeypatch) -> None:
    key = new_key()
    node.fund(Signer.from_key(key).address)
    run = run_validate(capsys, monkeypatch, key, "--rpc", node.url, "--deploy", "--chain-id", "11155111")
    assert run.code == 1
    line = one_line(run.err)
    assert line.startswith("pulsearb validate: FAIL at chain: wrong chain:")
    assert "chain 31337, expected 11155111" in line
    assert re.search(r"^\s+FAIL chain ", run.out, re.M) and "NOT RUN" in run.out


def test_deployment_for_another_chain_refused(attached: Attached, node: Node, capsys, monkeypatch, tmp_path) -> None:
    data = json.loads(attached.path.read_text())
    data["chain_id"] = 1
    other = tmp_path / "mainnet.json"
    other.write_text(json.dumps(data))
    run = run_validate(capsys, monkeypatch, attached.key, "--rpc", node.url, "--deployment", str(other))
    assert run.code == 1
    assert "chain 31337, expected 1 (the deployment file" in one_line(run.err)


def test_unreachable_rpc_is_one_line() -> None:
    url = f"http://127.0.0.1:{process.free_port()}/v3/secret-api-key"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSEARB_")}
    env["PULSEARB_PRIVATE_KEY"] = key = new_key()
    proc = subprocess.run(
        [sys.executable, "-m", "ops", "validate", "--rpc", url, "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    line = one_line(proc.stderr)
    assert line.startswith("pulsearb validate: FAIL at chain: no JSON-RPC node answers at http://127.0.0.1:")
    assert "secret-api-key" not in proc.stdout + proc.stderr
    assert key.removeprefix("0x") not in proc.stdout + proc.stderr


def test_missing_key_is_one_line(node: Node, capsys, monkeypatch) -> None:
    monkeypatch.delenv("PULSEARB_KEYSTORE", raising=False)
    run = run_validate(capsys, monkeypatch, None, "--rpc", node.url, "--deploy")
    assert run.code == 1
    assert one_line(run.err) == (
        "pulsearb validate: FAIL at account: no signing key: set PULSEARB_PRIVATE_KEY (hex key) or "
        "PULSEARB_KEYSTORE and PULSEARB_KEYSTORE_PASSWORD (keystore file)"
    )


def test_key_env_names_the_variable(node: Node, capsys, monkeypatch) -> None:
    monkeypatch.delenv("VALIDATE_TEST_KEY", raising=False)
    run = run_validate(capsys, monkeypatch, None, "--rpc", node.url, "--deploy", "--key-env", "VALIDATE_TEST_KEY")
    assert run.code == 1
    assert one_line(run.err).endswith("no signing key: VALIDATE_TEST_KEY (named by --key-env) is not set")


def test_insufficient_funds_is_one_line(node: Node, capsys, monkeypatch) -> None:
    key = new_key()
    address = Signer.from_key(key).address
    node.fund(address, 10**15)  # 0.001 ETH: far below the deployment's gas limits at the fee cap
    nonce = node.nonce(address)
    run = run_validate(capsys, monkeypatch, key, "--rpc", node.url, "--deploy")
    assert run.code == 1
    line = one_line(run.err)
    assert line.startswith(f"pulsearb validate: FAIL at account: insufficient funds: {address} holds 0.001 ETH")
    assert line.endswith(": fund the account")
    assert node.nonce(address) == nonce


def test_foreign_code_at_the_executor_address(attached: Attached, node: Node, capsys, monkeypatch, tmp_path) -> None:
    data = json.loads(attached.path.read_text())
    data["executor"] = data["flash_lender"]
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(data))
    run = run_validate(capsys, monkeypatch, attached.key, "--rpc", node.url, "--deployment", str(forged))
    assert run.code == 1
    line = one_line(run.err)
    assert "FAIL at contracts: the executor" in line and "is not contracts/artifacts/ArbExecutor.json" in line


def test_pair_with_the_wrong_tokens_in_the_file(attached: Attached, node: Node, capsys, monkeypatch, tmp_path) -> None:
    data = json.loads(attached.path.read_text())
    data["pairs"][0]["fee_bps"] = 31  # the file lies about the pair's fee: the genuine pair charges 30
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(data))
    run = run_validate(capsys, monkeypatch, attached.key, "--rpc", node.url, "--deployment", str(forged))
    assert run.code == 1
    assert "is a genuine UniswapV2Pair, which charges 30 bps; the deployment file says 31" in one_line(run.err)
    data = json.loads(attached.path.read_text())
    pair = data["pairs"][0]
    pair["token0"], pair["token1"] = pair["token1"], pair["token0"]  # and about its tokens
    forged.write_text(json.dumps(data))
    run = run_validate(capsys, monkeypatch, attached.key, "--rpc", node.url, "--deployment", str(forged))
    assert run.code == 1
    assert "the deployment file says" in one_line(run.err) and "holds tokens" in one_line(run.err)


def test_a_v3_pool_that_is_not_the_files(attached: Attached, node: Node, capsys, monkeypatch, tmp_path) -> None:
    data = json.loads(attached.path.read_text())
    data["v3_pools"][0]["fee_pips"] = 3000  # the pool's fee immutable holds 500
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(data))
    run = run_validate(capsys, monkeypatch, attached.key, "--rpc", node.url, "--deployment", str(forged))
    assert run.code == 1
    assert "is not the genuine UniswapV3Pool of @uniswap/v3-core@1.0.1: " in one_line(run.err)


def test_key_that_does_not_own_the_executor(attached: Attached, node: Node, capsys, monkeypatch) -> None:
    key = new_key()
    node.fund(Signer.from_key(key).address)
    monkeypatch.setenv("PULSEARB_DEPLOYMENT", str(attached.path))  # attach mode from the environment
    monkeypatch.setenv("PULSEARB_RPC_URL", node.url)
    run = run_validate(capsys, monkeypatch, key)
    assert run.code == 1
    assert f"is owned by {Signer.from_key(attached.key).address.lower()}" in one_line(run.err)


def test_bad_options_are_one_line(capsys, monkeypatch) -> None:
    monkeypatch.delenv("PULSEARB_DEPLOYMENT", raising=False)
    run = run_validate(capsys, monkeypatch, None, "--rpc", "http://127.0.0.1:1", "--deploy", "--dry-run-only")
    assert run.code == 2
    assert "--dry-run-only sends no transaction, so it cannot --deploy" in one_line(run.err)
    run = run_validate(capsys, monkeypatch, None, "--rpc", "http://127.0.0.1:1")
    assert run.code == 2
    assert "give exactly one of --deploy" in one_line(run.err)


def test_keystore_and_its_permissions(attached: Attached, node: Node, capsys, monkeypatch, tmp_path) -> None:
    from flows.execution.signer import encrypt_keystore

    path = tmp_path / "owner.json"
    encrypt_keystore(attached.key, "pw", path, kdf="pbkdf2", iterations=1_000)
    monkeypatch.setenv("PULSEARB_KEYSTORE_PASSWORD", "pw")
    deployment = attached.deployment
    attached.trader.swap(deployment.pair(300), deployment.tokens["USDC"].address, 40_000 * 10**6)
    argv = ("--rpc", node.url, "--deployment", str(attached.path), "--keystore", str(path), "--dry-run-only")
    run = run_validate(capsys, monkeypatch, None, *argv)
    assert run.code == 0, run.err
    path.chmod(0o644)
    run = run_validate(capsys, monkeypatch, None, *argv)
    assert run.code == 1
    assert f"keystore {path} is accessible to other users (mode 0644)" in one_line(run.err)


def test_public_chain_id_needs_confirmation(capsys, monkeypatch, tmp_path) -> None:
    """A node that is not a development chain (here anvil posing as Sepolia) is validated only with --chain-id."""
    spec = chain_spec(process.free_port())
    argv = list(spec.argv)
    argv[argv.index("--chain-id") + 1] = "11155111"
    pid = process.start(dataclasses.replace(spec, argv=argv), tmp_path)
    try:
        node = Node(f"http://127.0.0.1:{argv[argv.index('--port') + 1]}", Web3())
        key = new_key()
        node.fund(Signer.from_key(key).address)
        run = run_validate(capsys, monkeypatch, key, "--rpc", node.url, "--deploy")
        assert run.code == 1
        assert one_line(run.err).endswith(
            "is chain 11155111, not a local development chain: pass --chain-id 11155111 to confirm it is the chain "
            "to validate"
        )
        run = run_validate(capsys, monkeypatch, key, "--rpc", node.url, "--deploy", "--chain-id", "11155111")
        assert run.code == 0, run.err
    finally:
        process.stop_pid(pid)


def test_attach_on_a_fork_leaves_the_forked_chain_untouched(
    node: Node, attached: Attached, capsys, monkeypatch, tmp_path
) -> None:
    """``anvil --fork-url`` (here of the local node, as docs/validation.md does with a mainnet endpoint)."""
    spec = chain_spec(process.free_port())
    argv = [*spec.argv, "--fork-url", node.url]
    pid = process.start(dataclasses.replace(spec, argv=argv), tmp_path)
    try:
        fork_url = f"http://127.0.0.1:{argv[argv.index('--port') + 1]}"
        block, nonce = node.w3.eth.block_number, node.nonce(Signer.from_key(attached.key).address)
        run = run_validate(
            capsys,
            monkeypatch,
            attached.key,
            "--rpc",
            fork_url,
            "--deployment",
            str(attached.path),
            "--amount-in",
            str(500 * 10**6),
            "--format",
            "json",
        )
        assert run.code == 0, run.err
        assert run.json()["figures"]["realized_profit"] == run.json()["figures"]["predicted_profit"]
        assert node.w3.eth.block_number == block and node.nonce(Signer.from_key(attached.key).address) == nonce
    finally:
        process.stop_pid(pid)
