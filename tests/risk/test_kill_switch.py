"""The kill switch file and `pulsearb kill-switch on|off|status`."""

from __future__ import annotations

import json
from pathlib import Path

from flows.risk.kill_switch import KillSwitch
from ops.cli import main


def test_off_when_absent_on_when_set_and_fails_closed(tmp_path: Path) -> None:
    switch = KillSwitch(tmp_path)
    assert not switch.is_on()
    state = switch.set(True, reason="drill", by="ops")
    assert switch.read() == state and switch.is_on()
    switch.set(False)
    assert not switch.is_on()
    switch.path.write_text("{not json")
    assert switch.read().on and "corrupt" in switch.read().reason
    switch.path.unlink()
    switch.path.mkdir()  # unreadable as a file
    assert switch.is_on()


def test_cli_on_off_status(tmp_path: Path, capsys) -> None:
    assert main(["kill-switch", "--state-dir", str(tmp_path), "on", "--reason", "incident 7"]) == 0
    assert KillSwitch(tmp_path).read().on
    assert main(["kill-switch", "--state-dir", str(tmp_path), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert status["kill_switch"]["on"] is True and status["kill_switch"]["reason"] == "incident 7"
    assert main(["kill-switch", "--state-dir", str(tmp_path), "off"]) == 0
    assert not KillSwitch(tmp_path).is_on()
    assert main(["kill-switch", "--state-dir", str(tmp_path), "status"]) == 0
    assert "kill switch: off" in capsys.readouterr().out
