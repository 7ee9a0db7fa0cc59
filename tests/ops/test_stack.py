"""`pulsearb stack up|status|down` on the real components, through the CLI a user runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from ops.simulator.stack.chain import rpc_call
from ops.simulator.stack.process import free_port, pid_alive, port_open

pytestmark = pytest.mark.integration


def _cli(home: Path, *args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = os.environ | {"PULSEARB_HOME": str(home)} | (env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "ops", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_stack_up_status_down(tmp_path: Path) -> None:
    store_port = free_port()
    up = _cli(tmp_path, "stack", "up", env_extra={"PULSEARB_STORE_PORT": str(store_port)})
    assert up.returncode == 0, up.stderr
    info = json.loads((tmp_path / "stack.json").read_text())
    try:
        # The store is served over ClickHouse's HTTP interface on loopback; `stack up` prints where.
        assert info["store_url"] == f"http://127.0.0.1:{store_port}" and info["store_url"] in up.stdout
        assert urllib.request.urlopen(f"{info['store_url']}/ping", timeout=5).read() == b"Ok.\n"
        host, port = info["bootstrap"].rsplit(":", 1)
        assert host == "127.0.0.1" and port_open(int(port))
        assert info["rpc_url"].startswith("http://127.0.0.1:")
        assert int(rpc_call(info["rpc_url"], "eth_chainId"), 16) == 31337
        assert (tmp_path / "store").is_dir()
        status = _cli(tmp_path, "stack", "status")
        assert status.returncode == 0, status.stdout
        # Nothing listens on a non-loopback address.
        for pid in (info["broker_pid"], info["chain_pid"]):
            listen = Path("/proc/net/tcp").read_text().splitlines()[1:]
            for line in listen:
                fields = line.split()
                local, state = fields[1], fields[3]
                ours = (int(port), int(info["rpc_url"].rsplit(":", 1)[1]), store_port)
                if state == "0A" and int(local.split(":")[1], 16) in ours:
                    assert local.split(":")[0] == "0100007F", f"pid {pid} listens on {local}"
    finally:
        down = _cli(tmp_path, "stack", "down")
    assert down.returncode == 0
    assert not pid_alive(info["broker_pid"]) and not pid_alive(info["chain_pid"]) and not pid_alive(info["store_pid"])
    assert _cli(tmp_path, "stack", "status").returncode == 3


def test_missing_anvil_is_one_line_with_the_fix(tmp_path: Path) -> None:
    result = _cli(tmp_path, "stack", "up", env_extra={"PULSEARB_ANVIL": str(tmp_path / "no-such-anvil")})
    _cli(tmp_path, "stack", "down")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "anvil" in lines[0] and "Traceback" not in result.stderr


def test_unbuilt_group_says_so_and_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from ops import cli

    monkeypatch.setitem(cli.GROUPS, "warp", ("ops.cli.no_such_group", "a group that is not built"))
    assert cli.main(["warp", "now"]) == 2
    assert "pulsearb warp: not built yet" in capsys.readouterr().err
    help_text = _cli(Path("/tmp"), "--help").stdout
    for group in ("up", "stack", "flows", "topics", "relay", "amm", "history", "db", "kill-switch"):
        assert group in help_text
