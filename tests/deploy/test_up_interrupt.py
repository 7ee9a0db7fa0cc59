"""`pulsearb up` as a user runs it: Ctrl-C (SIGINT) mid-run stops every flow cleanly, then the stack, and the
report still prints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops.control import record
from ops.simulator.stack.process import pid_alive
from tests.deploy.helpers import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_ctrl_c_stops_everything_cleanly_and_reports(tmp_path: Path) -> None:
    home = tmp_path / "h"
    env = os.environ | {"PULSEARB_HOME": str(home), "COLUMNS": "200"}
    env.pop("PULSEARB_DEPLOYMENT", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ops", "up", "--duration", "120", "--speed", "30"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        flows: dict[str, record.FlowRecord] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            flows = record.read_all(home / "up") if (home / "up").exists() else {}
            if flows and all(r.state == "running" and all(p.pid for p in r.processes) for r in flows.values()):
                break
            time.sleep(0.2)
        assert proc.poll() is None and flows, "pulsearb up did not get its flows running"
        time.sleep(3.0)  # frames are flowing through the pipeline
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    print(out[-3000:], err[-2000:])
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted: the replay was cut short; every flow stopped cleanly" in out
    assert "pipeline counts" in out and "pulsearb history" in out
    assert "flows exited with errors" not in out

    stack = json.loads((home / "stack.json").read_text()) if (home / "stack.json").exists() else {}
    assert stack == {}, "the stack was stopped (stack.json removed)"
    pids = [p.pid for r in flows.values() for p in r.processes if p.pid]
    assert pids and not [p for p in pids if pid_alive(p)], "no flow process is left behind"
    final = record.read_all(home / "up")
    assert {r.state for r in final.values()} == {"stopped"}
    assert not list((home / "relay").glob("*.sock")), "relay sockets removed"
