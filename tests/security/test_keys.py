"""A key file others can read or write is refused when the risk_execution flow process starts: one line naming the
file, its mode and the ``chmod 600`` fix, exit code 2, nothing signed. The same file with mode 0600 gets past the
key (the run then stops at the unreachable node), so the mode alone decides.

Elsewhere: the relay sockets' file mode is tested in tests/relay/test_server.py and tests/relay/test_cli.py; bad
hex keys in tests/reliability/test_user_errors.py; the key in logs, records and errors in
tests/execution/test_service.py, tests/closed_loop and tests/security/test_deployed.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from base.paths import ROOT
from flows.execution.signer import encrypt_keystore
from flows.spec import SPECS_DIR
from ops.simulator.stack.stack import StackInfo

pytestmark = pytest.mark.integration

KEY = "0x" + "5d" * 32  # test-only


def _start(tmp_path: Path, bootstrap: str, keystore: Path) -> subprocess.CompletedProcess:
    deployment = tmp_path / "deployment.json"
    deployment.write_text(json.dumps({"executor": "0x" + "22" * 20, "chain_id": 31337}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSEARB_")} | {
        "PULSEARB_KEYSTORE": str(keystore),
        "PULSEARB_KEYSTORE_PASSWORD": "correct horse",
        "PULSEARB_DEPLOYMENT": str(deployment),
    }
    argv = [sys.executable, "-m", "flows.run", "--spec", str(SPECS_DIR / "risk_execution.yaml")]
    argv += ["--bootstrap", bootstrap, "--rpc-url", "http://127.0.0.1:1", "--state-dir", str(tmp_path / "state")]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("mode", [0o644, 0o602])
def test_a_keystore_others_can_access_is_refused_at_start(broker_stack: StackInfo, tmp_path: Path, mode: int) -> None:
    keystore = tmp_path / "key.json"
    encrypt_keystore(KEY, "correct horse", keystore, kdf="pbkdf2", iterations=1_000)
    keystore.chmod(mode)
    done = _start(tmp_path, broker_stack.bootstrap or "", keystore)
    lines = done.stderr.strip().splitlines()
    print(f"mode {mode:04o}: exit {done.returncode}: {lines}")
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert f"keystore {keystore} is accessible to other users (mode {mode:04o})" in lines[0]
    assert f"chmod 600 {keystore}" in lines[0]
    assert "Traceback" not in done.stderr and KEY[2:] not in done.stderr + done.stdout
    assert not (tmp_path / "state" / "risk_execution").exists(), "nothing was opened, nothing signed"


def test_the_same_keystore_with_mode_0600_is_accepted(broker_stack: StackInfo, tmp_path: Path) -> None:
    keystore = tmp_path / "key.json"
    encrypt_keystore(KEY, "correct horse", keystore, kdf="pbkdf2", iterations=1_000)
    assert keystore.stat().st_mode & 0o777 == 0o600
    done = _start(tmp_path, broker_stack.bootstrap or "", keystore)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "JSON-RPC endpoint not reachable" in lines[0], "past the key check: stopped at the node"
