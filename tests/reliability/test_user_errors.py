"""Drill (e): errors a user can cause end in one clear line on stderr, a non-zero exit code, and no traceback.

One table of commands as a user types them (bad specs, keys, endpoints, arguments). Every case runs as its own
process, all at once (several wait for a connection timeout), and each is then checked on its own. Spec problems
are the documented exception: one ``FILE:LINE: FIELD: expected ..., got ...`` line per problem on stdout, then one
summary line on stderr. A world-readable keystore is refused the same way: tests/security/test_keys.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from base.paths import ROOT
from flows.spec import SPECS_DIR
from ops.simulator.stack import process
from ops.simulator.stack.chain import chain_spec
from ops.simulator.stack.stack import StackInfo

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "4c" * 32  # a test-only key: must never be echoed
DEAD = "127.0.0.1:1"  # nothing listens on port 1
BAD_YAML = "version: 1\nname: broken\nkind: bridge\n  outputs: [\n"
UNKNOWN_KEY = "version: 1\nname: unknown_key\nkind: bridge\nfoo: 1\noutputs: {dlq: dlq.relay}\n"
WRONG_TYPE = "version: 1\nname: wrong_type\nkind: bridge\nresources: {processes: many, workers_per_process: [1]}\n"


@dataclass(frozen=True)
class Case:
    """A command, what its one line must say, and (for specs) how many problem lines it prints on stdout."""

    argv: list[str]
    says: str  # a regular expression the error line must match
    env: dict[str, str] = field(default_factory=dict)
    problems: int = 0
    stdin: bytes = b""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ops", *args]


def _run_flow(spec: Path | str, bootstrap: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "flows.run", "--spec", str(spec), "--bootstrap", bootstrap, *args]


def _cases(home: Path, broker: str, anvil: str) -> dict[str, Case]:
    specs = home / "specs"
    specs.mkdir()
    for name, text in (("bad.yaml", BAD_YAML), ("unknown.yaml", UNKNOWN_KEY), ("wrong.yaml", WRONG_TYPE)):
        (specs / name).write_text(text)
    chain_1 = home / "deployment-chain1.json"
    chain_1.write_text(json.dumps({"executor": "0x" + "11" * 20, "chain_id": 1}))
    risk = SPECS_DIR / "risk_execution.yaml"
    states = iter(range(100))

    def risk_run(rpc_url: str) -> list[str]:  # each run its own state directory: a ledger has one writer
        return ["--rpc-url", rpc_url, "--state-dir", str(home / f"state-{next(states)}")]

    key_env = {"PULSEARB_DEPLOYMENT": str(chain_1)}
    return {
        "malformed YAML spec": Case(_cli("flows", "validate", str(specs / "bad.yaml")), "problem", problems=1),
        "unknown key in a spec": Case(_cli("flows", "validate", str(specs / "unknown.yaml")), "problem", problems=1),
        "wrong types in a spec": Case(_cli("flows", "validate", str(specs / "wrong.yaml")), "problem", problems=2),
        "missing spec file": Case(_cli("flows", "validate", str(specs / "missing.yaml")), "problem", problems=1),
        "flow of a malformed spec": Case(_run_flow(specs / "bad.yaml", broker), r"bad\.yaml:\d+: .*YAML"),
        "deploy without the store DSN": Case(_cli("flows", "deploy", "--bootstrap", DEAD), "PULSEARB_STORE_DSN"),
        "deploy to an unreachable broker": Case(
            _cli(
                "flows",
                "deploy",
                "--bootstrap",
                DEAD,
                "--specs",
                str(SPECS_DIR / "bridge.yaml"),
                "--relay-socket",
                str(home / "relay.sock"),
            ),
            f"broker {DEAD} is unreachable",
        ),
        "topics apply to an unreachable broker": Case(
            _cli("topics", "apply", "--bootstrap", DEAD), f"broker {DEAD} is unreachable"
        ),
        "flow with an unreachable broker": Case(
            _run_flow(SPECS_DIR / "bridge.yaml", DEAD), f"Kafka broker {DEAD} is unreachable.*--bootstrap"
        ),
        "db migrate on an unreachable store": Case(
            _cli("db", "migrate", "--dsn", f"http://{DEAD}"), f"ClickHouse store http://{DEAD}/?: Connection refused"
        ),
        "history on an unreachable store": Case(
            _cli("history", "opportunities", "--dsn", f"http://{DEAD}"), f"ClickHouse store http://{DEAD}"
        ),
        "kill-switch status of a missing state dir": Case(
            _cli("kill-switch", "--state-dir", str(home / "nonexistent" / "state"), "status"),
            "no state directory .*--state-dir",
        ),
        "risk_execution with a non-hex key": Case(
            _run_flow(risk, broker, *risk_run(f"http://{DEAD}")),
            "PULSEARB_PRIVATE_KEY is not a private key",
            key_env | {"PULSEARB_PRIVATE_KEY": "zz" * 32},
        ),
        "risk_execution with a short key": Case(
            _run_flow(risk, broker, *risk_run(f"http://{DEAD}")),
            "PULSEARB_PRIVATE_KEY is not a private key",
            key_env | {"PULSEARB_PRIVATE_KEY": "0x" + KEY[:-2]},
        ),
        "risk_execution without a key": Case(
            _run_flow(risk, broker, *risk_run(f"http://{DEAD}")),
            "no signing key: set PULSEARB_PRIVATE_KEY",
            key_env | {"PULSEARB_PRIVATE_KEY": "", "PULSEARB_KEYSTORE": ""},
        ),
        "risk_execution with an unreachable RPC": Case(
            _run_flow(risk, broker, *risk_run(f"http://{DEAD}")),
            f"http://{DEAD}: JSON-RPC endpoint not reachable",
            key_env | {"PULSEARB_PRIVATE_KEY": KEY},
        ),
        "risk_execution on the wrong chain": Case(
            _run_flow(risk, broker, *risk_run(anvil)),
            "wrong chain: .* is chain 31337, the executor was configured for chain 1",
            key_env | {"PULSEARB_PRIVATE_KEY": "0x" + KEY},
        ),
        "relay decode --strict on garbage": Case(
            _cli("relay", "decode", "--strict"), "no magic at offset 0", stdin=b"garbage, not a frame\n"
        ),
        "amm quote with a malformed pool": Case(
            _cli("amm", "quote", "--pool", "x:y:z", "--amount-in", "5"), "--pool 'x:y:z': expected RESERVE_IN"
        ),
        "up with a negative duration": Case(_cli("up", "--duration", "-1"), "--duration"),
    }


@dataclass
class Result:
    """What a case's process did."""

    case: Case
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def results(own_broker: StackInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Result]]:
    home = tmp_path_factory.mktemp("user-errors")
    procs: dict[str, subprocess.Popen] = {}
    port = process.free_port()
    anvil = process.start(chain_spec(port), home / "chain")
    try:
        cases = _cases(home, own_broker.bootstrap or "", f"http://127.0.0.1:{port}")
        base = {k: v for k, v in os.environ.items() if not k.startswith("PULSEARB_")}
        base["PULSEARB_HOME"] = str(home / "pulsearb-home")
        for name, case in cases.items():
            stdin = home / f"stdin-{len(procs)}"
            stdin.write_bytes(case.stdin)
            with stdin.open("rb") as f:
                procs[name] = subprocess.Popen(
                    case.argv, cwd=ROOT, env=base | case.env, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE
                )
        out: dict[str, Result] = {}
        started = time.monotonic()
        for name, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=max(1.0, 150 - (time.monotonic() - started)))
            out[name] = Result(
                cases[name], proc.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace")
            )
        yield out
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        process.stop_pid(anvil)


def _names() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        return list(_cases(Path(tmp), DEAD, f"http://{DEAD}"))


@pytest.mark.parametrize("name", _names())
def test_one_clear_line(results: dict[str, Result], name: str) -> None:
    got = results[name]
    case = got.case
    lines = got.stderr.strip().splitlines()
    print(f"{name}: exit {got.returncode}: {' | '.join(lines)}")
    assert got.returncode != 0, f"{name}: exit code 0"
    assert "Traceback" not in got.stderr + got.stdout, got.stderr
    assert KEY not in (got.stderr + got.stdout).lower(), "the key is never echoed"
    assert len(lines) == 1, f"{name}: expected one line on stderr, got {len(lines)}:\n{got.stderr}"
    if case.problems:
        problems = got.stdout.strip().splitlines()
        assert len(problems) == case.problems, got.stdout
        assert all(re.match(r"^\S+\.yaml:\d+: \S.*expected .*got ", p) for p in problems), got.stdout
        assert re.search(rf"^{case.problems} problem\(s\) in 1 spec file\(s\)$", lines[0]), lines[0]
    else:
        assert re.search(case.says, lines[0]), f"{name}: {lines[0]!r} does not say {case.says!r}"
