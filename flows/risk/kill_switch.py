"""The kill switch: one small file under the state directory that every risk_execution flow reads.

``pulsearb kill-switch on`` writes ``<state dir>/kill_switch.json`` atomically (temp file, fsync, rename);
flows read it before every decision and again right before every transaction is broadcast, and refresh their
gauge every 250 ms, so a switch takes effect on the next opportunity (well within one second). A file that
exists but cannot be read or parsed counts as ON: the switch fails closed. Flows on several hosts share the
switch through a shared state directory (a mounted volume); docs/execution.md explains the choice.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

FILE_NAME = "kill_switch.json"


@dataclass(frozen=True, slots=True)
class SwitchState:
    """The switch as last written.

    Attributes:
        on: True stops all execution.
        reason: free text given when it was set.
        changed_ns: when it was set, ns since epoch (0 when never set).
        by: who set it (user name), for the audit trail.
    """

    on: bool
    reason: str = ""
    changed_ns: int = 0
    by: str = ""


class KillSwitch:
    """Reads and writes the kill-switch file of one state directory.

    Args:
        state_dir: the shared state directory.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / FILE_NAME

    def read(self) -> SwitchState:
        """The current state: off when the file is absent, on when it cannot be read (fail closed)."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return SwitchState(on=False)
        except OSError as exc:
            return SwitchState(on=True, reason=f"kill switch file unreadable ({exc.strerror}): failing closed")
        try:
            data = json.loads(text)
            return SwitchState(
                on=bool(data["on"]),
                reason=str(data.get("reason", "")),
                changed_ns=int(data.get("changed_ns", 0)),
                by=str(data.get("by", "")),
            )
        except (ValueError, KeyError, TypeError):
            return SwitchState(on=True, reason="kill switch file is corrupt: failing closed")

    def is_on(self) -> bool:
        """True while execution must stop."""
        return self.read().on

    def set(self, on: bool, reason: str = "", by: str = "") -> SwitchState:
        """Turn the switch on or off (atomic replace; readers see the old or the new file, never half of one)."""
        state = SwitchState(on=on, reason=reason, changed_ns=time.time_ns(), by=by)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            json.dump(asdict(state), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        with contextlib.suppress(OSError):  # make the rename itself durable where the filesystem allows it
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return state
