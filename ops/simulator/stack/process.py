"""Start, health-check and stop one local background process, tracked by a pid file.

The local stack's pieces (broker, chain) are plain child processes: each has a pid file and a log file under the
state directory, binds only to 127.0.0.1, and is stopped by pid (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from base.errors import StackError


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    """Return True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """Return True when a process with this pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """What to run for one stack component.

    Args:
        name: component name, used for the pid and log file names.
        argv: the command line.
        ready: a health check returning True once the component serves requests.
        start_timeout_s: how long to wait for ``ready``.
    """

    name: str
    argv: Sequence[str]
    ready: Callable[[], bool]
    start_timeout_s: float = 20.0


def start(spec: ProcessSpec, state_dir: Path, env: dict[str, str] | None = None) -> int:
    """Start ``spec`` in the background, wait until it is ready, record its pid; return the pid.

    Raises:
        StackError: the process exited or did not become ready in time (the message names its log file).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / f"{spec.name}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            list(spec.argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal must not kill the stack behind our back
            env=env,
        )
    (state_dir / f"{spec.name}.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + spec.start_timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            msg = f"{spec.name} exited with code {proc.returncode} during start-up; see {log_path}"
            raise StackError(msg)
        if spec.ready():
            return proc.pid
        time.sleep(0.05)
    stop_pid(proc.pid)
    msg = f"{spec.name} did not become ready within {spec.start_timeout_s:.0f} s; see {log_path}"
    raise StackError(msg)


def read_pid(name: str, state_dir: Path) -> int | None:
    """Return the recorded pid of component ``name`` if that process is still alive."""
    path = state_dir / f"{name}.pid"
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def stop_pid(pid: int, grace_s: float = 5.0) -> None:
    """Stop a process (and its process group) with SIGTERM, then SIGKILL after ``grace_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not pid_alive(pid):
                return
            time.sleep(0.05)


def stop(name: str, state_dir: Path) -> bool:
    """Stop component ``name`` if it runs; return True if something was stopped."""
    pid = read_pid(name, state_dir)
    (state_dir / f"{name}.pid").unlink(missing_ok=True)
    if pid is None:
        return False
    stop_pid(pid)
    return True
