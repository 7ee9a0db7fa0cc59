"""One running flow process: started as ``python -m flows.run``, stopped cleanly with SIGTERM (drain, flush).

Each process runs in its own session, so a Ctrl-C in the terminal reaches only the command that owns it
(``pulsearb up`` or a supervisor), which then stops flows in pipeline order. Secrets (store DSN, RPC URL, Kafka
password) travel in the environment, never in argv where ``ps`` shows them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flows.spec import FlowSpec
from ops.simulator.stack.process import stop_pid

SIGNER_ENV = ("PULSEARB_PRIVATE_KEY", "PULSEARB_KEYSTORE", "PULSEARB_KEYSTORE_PASSWORD")
"""flows.execution.signer's variables (named here: importing it would load eth-account into every CLI command)."""


@dataclass(slots=True)
class FlowProcess:
    """A flow spec running as one Bytewax process.

    Args:
        spec: the flow.
        bootstrap: Kafka bootstrap servers.
        log_dir: where its log goes (``<flow>-<process_id>.log``).
        store_dsn: ClickHouse DSN for archive flows (environment: ``PULSEARB_STORE_DSN``).
        relay_socket: relay socket for bridge flows.
        recovery_dir: Bytewax recovery directory ('' for none).
        process_id: index in a multi-process cluster.
        addresses: every process's host:port for a multi-process cluster.
        metrics_port: Prometheus port of this process (None: the spec's).
        workers: worker threads (0: the spec's).
        rpc_url: JSON-RPC endpoint for risk_execution flows (environment: ``PULSEARB_RPC_URL``).
        signals_socket: AlphaPulse signals relay socket for risk_execution flows.
        state_dir: persisted flow state (risk state, ledgers).
        env_extra: more environment (``PULSEARB_KAFKA_*`` security settings).
    """

    spec: FlowSpec
    bootstrap: str
    log_dir: Path
    store_dsn: str = ""
    relay_socket: str = ""
    recovery_dir: str = ""
    process_id: int | None = None
    addresses: list[str] = field(default_factory=list)
    metrics_port: int | None = None
    workers: int = 0
    rpc_url: str = ""
    signals_socket: str = ""
    state_dir: str = ""
    env_extra: Mapping[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        """The process's log file."""
        return self.log_dir / f"{self.spec.name}-{self.process_id or 0}.log"

    def argv(self) -> list[str]:
        """The command line of the process (no secrets)."""
        argv = [sys.executable, "-m", "flows.run", "--spec", str(self.spec.path), "--bootstrap", self.bootstrap]
        options = {
            "--relay-socket": self.relay_socket,
            "--recovery-dir": self.recovery_dir,
            "--signals-socket": self.signals_socket,
            "--state-dir": self.state_dir,
        }
        for flag, value in options.items():
            if value:
                argv += [flag, value]
        if self.metrics_port is not None:
            argv += ["--metrics-port", str(self.metrics_port)]
        if self.workers:
            argv += ["--workers", str(self.workers)]
        if self.process_id is not None and self.addresses:
            argv += ["--process-id", str(self.process_id), "--addresses", ";".join(self.addresses)]
        return argv

    def env(self) -> dict[str, str]:
        """The process environment: inherited, plus the secrets and settings that must not sit in argv.

        The signing key (or keystore and its password) is passed on to risk_execution flows only: no other flow
        signs, so no other process holds it.
        """
        env = os.environ.copy()
        if self.spec.kind != "risk_execution":
            for name in SIGNER_ENV:
                env.pop(name, None)
        env.update(self.env_extra)
        if self.store_dsn:
            env["PULSEARB_STORE_DSN"] = self.store_dsn
        if self.rpc_url:
            env["PULSEARB_RPC_URL"] = self.rpc_url
        return env

    def start(self) -> None:
        """Start the process in its own session (its output goes to :attr:`log_path`)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env(),
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        """Process id while it runs."""
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self) -> int | None:
        """The exit code once it ended (negative: killed by that signal), else None."""
        return None if self.proc is None else self.proc.poll()

    def terminate(self) -> None:
        """Ask the flow to finish (SIGTERM: sources drain, sinks flush) without waiting."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """Ask the flow to finish (SIGTERM), wait up to ``timeout_s``, then kill it; return its exit code."""
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
        """kill -9 (fault drills, and the rest of a cluster one of whose processes died)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def tail(self, lines: int = 20) -> str:
        """Last lines of the log (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
