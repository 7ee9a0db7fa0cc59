"""What is deployed: ``<root>/deployments.json``, one entry per flow, updated under a file lock.

Every writer (the CLI, each flow's supervisor) changes one flow's entry at a time through :func:`update`: it takes
an exclusive ``flock`` on ``deployments.lock``, re-reads the file, applies the change and replaces the file
atomically, so concurrent supervisors never lose each other's writes. No secret is ever recorded: DSNs, RPC URLs
and Kafka passwords travel to processes through their environment only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

RECORD_FILE = "deployments.json"


@dataclass(slots=True)
class ProcessRecord:
    """One Bytewax process of a flow."""

    process_id: int
    recovery_dir: str
    metrics_port: int
    log: str
    pid: int | None = None
    address: str = ""


@dataclass(slots=True)
class FlowRecord:
    """One deployed flow.

    Attributes:
        name: flow name.
        kind: spec kind.
        spec: absolute path of the spec file.
        spec_sha256: hash of the spec file as deployed (``flows status`` compares it with the file now).
        bootstrap: Kafka bootstrap servers.
        workers_per_process: worker threads per process.
        processes: one entry per process.
        supervisor_pid: the process that restarts crashed ones (``pulsearb up`` itself, or a daemon).
        state: starting, running, restarting, stopping, stopped or failed.
        restarts: restarts since deploy.
        last_exit: exit code (negative: signal) of the last process that ended unasked.
        started_at: deploy time, s since epoch.
        updated_at: last change, s since epoch.
        options: non-secret endpoints the processes got (relay socket, signals socket, state dir).
    """

    name: str
    kind: str
    spec: str
    spec_sha256: str
    bootstrap: str
    workers_per_process: int
    processes: list[ProcessRecord]
    supervisor_pid: int | None = None
    state: str = "starting"
    restarts: int = 0
    last_exit: int | None = None
    started_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict) -> FlowRecord:
        """Rebuild a record from its JSON form."""
        procs = [ProcessRecord(**p) for p in data.get("processes", [])]
        return cls(**{**data, "processes": procs})


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "deployments.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(root: Path) -> dict[str, FlowRecord]:
    try:
        data = json.loads((root / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {name: FlowRecord.from_json(rec) for name, rec in data.get("flows", {}).items()}


def _write(root: Path, flows: dict[str, FlowRecord]) -> None:
    tmp = root / f".{RECORD_FILE}.{os.getpid()}"
    body = {"version": 1, "flows": {name: asdict(rec) for name, rec in sorted(flows.items())}}
    tmp.write_text(json.dumps(body, indent=2) + "\n")
    os.replace(tmp, root / RECORD_FILE)


def read_all(root: Path) -> dict[str, FlowRecord]:
    """Every recorded flow (empty when nothing was ever deployed under ``root``)."""
    if not (root / RECORD_FILE).exists():
        return {}
    with _locked(root):
        return _read(root)


def update(root: Path, name: str, change: Callable[[FlowRecord | None], FlowRecord | None]) -> FlowRecord | None:
    """Apply ``change`` to one flow's record under the lock (returning None removes it); return the new record."""
    with _locked(root):
        flows = _read(root)
        new = change(flows.get(name))
        if new is None:
            flows.pop(name, None)
        else:
            new.updated_at = time.time()
            flows[name] = new
        _write(root, flows)
        return new
