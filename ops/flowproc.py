"""One running flow process: started as ``python -m flows.run``, stopped cleanly with SIGTERM (drain, flush)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from flows.spec import FlowSpec
from ops.stack.process import stop_pid


@dataclass(slots=True)
class FlowProcess:
    """A flow spec running as one Bytewax process.

    Args:
        spec: the flow.
        bootstrap: Kafka bootstrap servers.
        log_dir: where its log goes (``<flow>-<process_id>.log``).
        store_dsn: ClickHouse DSN for archive flows.
        relay_socket: relay socket for bridge flows.
        recovery_dir: Bytewax recovery directory ('' for none).
        process_id: index in a multi-process cluster.
        addresses: every process's host:port for a multi-process cluster.
    """

    spec: FlowSpec
    bootstrap: str
    log_dir: Path
    store_dsn: str = ""
    relay_socket: str = ""
    recovery_dir: str = ""
    process_id: int | None = None
    addresses: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        """The process's log file."""
        return self.log_dir / f"{self.spec.name}-{self.process_id or 0}.log"

    def argv(self) -> list[str]:
        """The command line of the process."""
        argv = [sys.executable, "-m", "flows.run", "--spec", str(self.spec.path), "--bootstrap", self.bootstrap]
        if self.relay_socket:
            argv += ["--relay-socket", self.relay_socket]
        if self.recovery_dir:
            argv += ["--recovery-dir", self.recovery_dir]
        if self.process_id is not None and self.addresses:
            argv += ["--process-id", str(self.process_id), "--addresses", ";".join(self.addresses)]
        return argv

    def start(self) -> None:
        """Start the process (its output goes to :attr:`log_path`)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env()
            )

    def env(self) -> dict[str, str]:
        """The process environment: the store DSN travels here, not in argv, so its password is not in `ps`."""
        env = os.environ.copy()
        if self.store_dsn:
            env["PULSEARB_STORE_DSN"] = self.store_dsn
        return env

    @property
    def pid(self) -> int | None:
        """Process id while it runs."""
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """Ask the flow to finish (SIGTERM: sources drain, sinks flush), wait, kill after ``timeout_s``."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while self.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.proc.poll() is None:
                stop_pid(self.proc.pid, grace_s=2.0)
        return self.proc.wait()

    def kill(self) -> None:
        """kill -9 (for fault drills)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def tail(self, lines: int = 20) -> str:
        """Last lines of the log (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
