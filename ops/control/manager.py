"""Deploy, list, inspect and stop flows under one deploy root (what ``pulsearb flows ...`` drives).

``deploy`` lays each flow out (:mod:`ops.control.plan`), records it, and starts one supervisor daemon per flow in
its own session, so flows outlive the command and a Ctrl-C in the terminal does not reach them. Flows start
downstream first (archive, risk_execution, detectors, bridge) and stop upstream first, so each stage drains what
the previous one produced.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from base.errors import ConfigError, StackError
from flows.spec import FlowSpec
from ops.control import record
from ops.control.flowproc import SIGNER_ENV
from ops.control.metrics import scrape
from ops.control.plan import RPC_KINDS, Endpoints, make_plan, prepare_recovery
from ops.simulator.stack.process import pid_alive, port_open, stop_pid

STOP_ORDER = ("bridge", "collector", "detector", "risk_execution", "archive")
"""Upstream first: each stage drains what the one before it produced."""


def stop_rank(kind: str) -> int:
    """Position of a kind in :data:`STOP_ORDER` (unknown kinds last)."""
    return STOP_ORDER.index(kind) if kind in STOP_ORDER else len(STOP_ORDER)


def required_topics(specs: Iterable[FlowSpec]) -> dict[str, str]:
    """Topic -> the spec field that needs it (inputs, outputs, dead letters)."""
    need: dict[str, str] = {}
    for spec in specs:
        for i, t in enumerate(spec.inputs.topics):
            need.setdefault(t, f"{spec.path.name}: inputs.topics[{i}]")
        for role, t in spec.outputs.items():
            need.setdefault(t, f"{spec.path.name}: outputs.{role}")
        need.setdefault(spec.dlq_topic, f"{spec.path.name}: dead letters")
    return need


def check_topics(bootstrap: str, specs: Sequence[FlowSpec], extra: Mapping[str, str] | None = None) -> None:
    """Refuse to deploy flows whose topics do not exist (a source would silently read nothing).

    Raises:
        StackError: the broker is unreachable, or topics are missing (one line with the fix).
    """
    from ops.control.topics import admin_client, existing_topics

    have = existing_topics(admin_client(bootstrap, extra), bootstrap)
    missing = {t: why for t, why in required_topics(specs).items() if t not in have}
    if missing:
        listed = ", ".join(f"{t} ({why})" for t, why in sorted(missing.items()))
        msg = (
            f"topics missing on {bootstrap}: {listed}; create them with `pulsearb topics apply --bootstrap {bootstrap}`"
        )
        raise StackError(msg)


def _flow_env(kind: str, endpoints: Endpoints) -> dict[str, str]:
    """The supervisor's environment: each secret only for the kind that needs it, plus Kafka security settings."""
    dropped = {"PULSEARB_STORE_DSN", "PULSEARB_RPC_URL"}
    if kind != "risk_execution":
        dropped.update(SIGNER_ENV)  # only the flow that signs may hold the key, down to its supervisor
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(endpoints.env_for(kind))
    if kind == "archive" and endpoints.store_dsn:
        env["PULSEARB_STORE_DSN"] = endpoints.store_dsn
    if kind in RPC_KINDS and endpoints.rpc_url:
        env["PULSEARB_RPC_URL"] = endpoints.rpc_url
    return env


@dataclass(slots=True)
class FlowStatus:
    """A recorded flow and what is true of it now."""

    record: record.FlowRecord
    supervisor_alive: bool
    alive: list[bool]
    metrics_up: list[bool]
    spec_changed: bool
    totals: dict[str, float] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        """Every process runs and its metrics endpoint answers."""
        return self.record.state == "running" and all(self.alive) and all(self.metrics_up)


class DeployManager:
    """Flows deployed under ``root`` (``deployments.json`` and each flow's directory)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def records(self) -> dict[str, record.FlowRecord]:
        """Every recorded flow."""
        return record.read_all(self.root)

    def _running(self, rec: record.FlowRecord) -> bool:
        pids = [rec.supervisor_pid] + [p.pid for p in rec.processes]
        return rec.state not in ("stopped", "failed") and any(pid and pid_alive(pid) for pid in pids)

    def refuse_running(self, specs: Sequence[FlowSpec]) -> None:
        """Refuse to deploy a flow that runs already.

        Raises:
            ConfigError: naming the running flows and the command that stops them.
        """
        recorded = self.records()
        running = [s.name for s in specs if s.name in recorded and self._running(recorded[s.name])]
        if running:
            names = " ".join(running)
            msg = f"already deployed and running: {names}; stop them first with `pulsearb flows stop {names}`"
            raise ConfigError(msg)

    def deploy(
        self,
        specs: Sequence[FlowSpec],
        endpoints: Endpoints,
        *,
        processes: int | None = None,
        wait_s: float = 20.0,
    ) -> list[record.FlowRecord]:
        """Start a supervisor per flow (downstream first) and wait until every process serves its metrics.

        Raises:
            ConfigError: a flow is already running, a port is taken, or recovery partitions do not fit.
            StackError: a flow did not come up (the message carries its log tail); it is stopped again.
        """
        self.refuse_running(specs)
        recorded = self.records()
        taken = {p.metrics_port for r in recorded.values() if self._running(r) for p in r.processes}
        plans = [make_plan(s, self.root, endpoints, processes=processes, taken_ports=taken) for s in specs]
        for plan in sorted(plans, key=lambda p: -stop_rank(p.spec.kind)):
            prepare_recovery(plan)
            record.update(self.root, plan.spec.name, lambda _old, plan=plan: plan.record())
            log = (plan.root / "logs").resolve()
            log.mkdir(parents=True, exist_ok=True)
            with (log / "supervisor.log").open("ab") as out:
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "ops.control.supervisor",
                        "--root",
                        str(self.root),
                        "--flow",
                        plan.spec.name,
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=_flow_env(plan.spec.kind, endpoints),
                    start_new_session=True,
                )

            def started(rec: record.FlowRecord | None, pid: int = proc.pid) -> record.FlowRecord | None:
                if rec is not None and rec.supervisor_pid is None:
                    rec.supervisor_pid = pid
                return rec

            record.update(self.root, plan.spec.name, started)
        names = [p.spec.name for p in plans]
        self.wait_ready(names, wait_s)
        recs = self.records()
        return [recs[n] for n in names]

    def wait_ready(self, names: Sequence[str], timeout_s: float) -> None:
        """Wait until every process of the flows serves metrics.

        Raises:
            StackError: a flow failed or did not become ready (it is stopped; the message has its log tail).
        """
        deadline = time.monotonic() + timeout_s
        pending = set(names)
        while pending:
            recs = self.records()
            for name in sorted(pending):
                rec = recs[name]
                up = rec.state == "running" and all(
                    p.pid and pid_alive(p.pid) and port_open(p.metrics_port) for p in rec.processes
                )
                if up:
                    pending.discard(name)
                elif rec.state in ("restarting", "failed") or time.monotonic() > deadline:
                    self.stop([name], timeout_s=10)
                    why = "did not start" if time.monotonic() > deadline else f"exited with code {rec.last_exit}"
                    msg = f"flow {name} {why}; log {rec.processes[0].log}:\n{_tail(rec.processes[0].log)}"
                    raise StackError(msg)
            time.sleep(0.1)

    def status(self, names: Sequence[str] | None = None) -> list[FlowStatus]:
        """What is recorded and what runs (metrics totals scraped from each process)."""
        out = []
        for name, rec in sorted(self.records().items(), key=lambda kv: (stop_rank(kv[1].kind), kv[0])):
            if names and name not in names:
                continue
            alive = [bool(p.pid and pid_alive(p.pid)) for p in rec.processes]
            metrics = [scrape(p.metrics_port) if a else None for p, a in zip(rec.processes, alive, strict=True)]
            totals: dict[str, float] = {}
            for m in metrics:
                for k, v in (m or {}).items():
                    totals[k] = totals.get(k, 0.0) + v
            out.append(
                FlowStatus(
                    record=rec,
                    supervisor_alive=bool(rec.supervisor_pid and pid_alive(rec.supervisor_pid)),
                    alive=alive,
                    metrics_up=[m is not None for m in metrics],
                    spec_changed=_sha256(rec.options.get("source", rec.spec)) not in ("", rec.spec_sha256),
                    totals=totals,
                )
            )
        return out

    def stop(self, names: Sequence[str] | None = None, timeout_s: float = 60.0) -> list[str]:
        """Stop flows upstream first (each drains its input); return the names stopped."""
        recs = self.records()
        chosen = [r for n, r in recs.items() if not names or n in names]
        unknown = sorted(set(names or ()) - set(recs))
        if unknown:
            msg = f"not deployed here: {', '.join(unknown)} (deployed: {', '.join(sorted(recs)) or 'none'})"
            raise ConfigError(msg)
        stopped = []
        for kind_rank in sorted({stop_rank(r.kind) for r in chosen}):
            batch = [r for r in chosen if stop_rank(r.kind) == kind_rank]
            for rec in batch:  # ask the whole stage first, then wait: its flows drain in parallel
                if rec.supervisor_pid and pid_alive(rec.supervisor_pid):
                    os.kill(rec.supervisor_pid, 15)
            for rec in batch:
                self._wait_stopped(rec, timeout_s)
                stopped.append(rec.name)
        return stopped

    def _wait_stopped(self, rec: record.FlowRecord, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s + 5
        sup = rec.supervisor_pid
        while sup and pid_alive(sup) and time.monotonic() < deadline:
            time.sleep(0.05)
        if sup and pid_alive(sup):
            stop_pid(sup, grace_s=2.0)
        for p in rec.processes:  # a supervisor that was killed leaves its processes behind
            if p.pid and pid_alive(p.pid):
                stop_pid(p.pid, grace_s=timeout_s)

        def done(r: record.FlowRecord | None) -> record.FlowRecord | None:
            if r is not None:
                r.state = "stopped"
                for p in r.processes:
                    p.pid = None
            return r

        record.update(self.root, rec.name, done)


def _sha256(path: str) -> str:
    import hashlib

    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def _tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
