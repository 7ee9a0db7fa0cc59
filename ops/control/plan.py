"""How one flow is laid out when deployed: processes, ports, recovery partitions, directories, endpoints.

Layout under a deploy root (``$PULSEARB_HOME/deploy`` for ``flows deploy``, ``$PULSEARB_HOME/up`` for ``up``)::

    flows/<name>/spec.yaml                the spec as deployed (restarts run this copy, not the edited file)
    flows/<name>/recovery/process-<i>/    recovery partition i (part-<i>.sqlite3), one directory per process
    flows/<name>/logs/<name>-<i>.log      process logs; supervisor.log for the supervisor
    flows/<name>/state/                   risk_execution state when no shared state directory is given

A flow of N processes has N recovery partitions, partition i in process i's own directory (Bytewax only needs the
cluster as a whole to reach every partition). The count is fixed once snapshots exist: redeploying with another
process count is refused rather than silently starting from empty state.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from base.errors import ConfigError
from flows.spec import FlowSpec, load_spec
from ops.control.flowproc import FlowProcess
from ops.control.record import FlowRecord, ProcessRecord
from ops.simulator.stack.process import free_port, port_open

SCALABLE = frozenset({"detector", "archive"})
"""Kinds ``--processes`` applies to (a bridge is one relay connection; risk_execution one nonce writer)."""
RPC_KINDS = frozenset({"risk_execution", "collector"})
"""Kinds given the chain's RPC endpoint (``PULSEARB_RPC_URL``, environment only: it may hold an API key)."""
PARTITIONS_FILE = "partitions.json"


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where flows connect. ``store_dsn`` and ``rpc_url`` may hold secrets: they go to the environment only."""

    bootstrap: str
    store_dsn: str = ""
    relay_socket: str = ""
    rpc_url: str = ""
    signals_socket: str = ""
    state_dir: str = ""  # shared state (kill switch, ledgers): the one `pulsearb kill-switch` writes to
    env: Mapping[str, str] = field(default_factory=dict)  # PULSEARB_KAFKA_* security settings
    kind_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # kind -> its own (the signing key)

    def env_for(self, kind: str) -> dict[str, str]:
        """The environment a flow of ``kind`` gets on top of its inherited one: shared settings, then its own."""
        return {**self.env, **self.kind_env.get(kind, {})}


@dataclass(slots=True)
class FlowPlan:
    """Everything needed to start (and restart) every process of one flow."""

    spec: FlowSpec
    source: Path  # the spec file the user deployed
    root: Path
    endpoints: Endpoints
    processes: int
    workers: int
    metrics_ports: list[int]
    recovery_dirs: list[Path]

    @property
    def log_dir(self) -> Path:
        """Process logs."""
        return self.root / "logs"

    @property
    def state_dir(self) -> Path:
        """Persisted state of risk_execution flows: the shared state directory, else the flow's own."""
        return Path(self.endpoints.state_dir) if self.endpoints.state_dir else self.root / "state"

    def process(self, i: int, addresses: Sequence[str]) -> FlowProcess:
        """Process ``i`` of the flow; endpoints are given only to the kinds that use them."""
        kind = self.spec.kind
        e = self.endpoints
        return FlowProcess(
            self.spec,
            e.bootstrap,
            self.log_dir,
            store_dsn=e.store_dsn if kind == "archive" else "",
            relay_socket=e.relay_socket if kind == "bridge" else "",
            recovery_dir=str(self.recovery_dirs[i]),
            process_id=i if self.processes > 1 else None,
            addresses=list(addresses),
            metrics_port=self.metrics_ports[i],
            workers=self.workers,
            rpc_url=e.rpc_url if kind in RPC_KINDS else "",
            signals_socket=e.signals_socket if kind == "risk_execution" else "",
            state_dir=str(self.state_dir) if kind == "risk_execution" else "",
            env_extra=e.env_for(kind),
        )

    def record(self) -> FlowRecord:
        """The deployment record of this plan (no pids yet, no secrets)."""
        procs = [
            ProcessRecord(
                i, str(self.recovery_dirs[i]), self.metrics_ports[i], str(self.log_dir / f"{self.spec.name}-{i}.log")
            )
            for i in range(self.processes)
        ]
        e = self.endpoints
        options = {"relay_socket": e.relay_socket, "signals_socket": e.signals_socket, "state_dir": e.state_dir}
        options = {k: v for k, v in options.items() if v} | {"source": str(self.source), "root": str(self.root)}
        return FlowRecord(
            self.spec.name,
            self.spec.kind,
            str(self.spec.path),
            self.spec.sha256,
            self.endpoints.bootstrap,
            self.workers,
            procs,
            options=options,
        )


def _ports(spec: FlowSpec, count: int, taken: set[int]) -> list[int]:
    base = spec.observability.metrics_port
    if base:
        ports = [base + i for i in range(count)]
        busy = [p for p in ports if p in taken or port_open(p)]
        if busy:
            msg = f"{spec.path}: observability.metrics_port: port {busy[0]} is already in use on 127.0.0.1"
            raise ConfigError(msg)
    else:
        ports = []
        while len(ports) < count:
            p = free_port()
            if p not in taken and p not in ports:
                ports.append(p)
    taken.update(ports)
    return ports


def make_plan(
    spec: FlowSpec,
    root: Path,
    endpoints: Endpoints,
    *,
    processes: int | None = None,
    taken_ports: set[int] | None = None,
) -> FlowPlan:
    """Lay out one flow under ``root/flows/<name>`` and copy its spec there.

    Args:
        spec: the validated spec.
        root: the deploy root.
        endpoints: where the flow connects.
        processes: override of ``resources.processes`` (kinds in :data:`SCALABLE` only).
        taken_ports: metrics ports already given to other flows of this deploy (updated).

    Raises:
        ConfigError: the spec's metrics port is in use.
    """
    count = processes if processes and spec.kind in SCALABLE else spec.resources.processes
    flow_root = (root / "flows" / spec.name).resolve()
    flow_root.mkdir(parents=True, exist_ok=True)
    copy = flow_root / "spec.yaml"
    if spec.path.resolve() != copy:
        shutil.copyfile(spec.path, copy)
    deployed = load_spec(copy)
    recovery = Path(spec.recovery.directory).resolve() if spec.recovery.directory else flow_root / "recovery"
    return FlowPlan(
        spec=deployed,
        source=spec.path.resolve(),
        root=flow_root,
        endpoints=endpoints,
        processes=count,
        workers=spec.resources.workers_per_process,
        metrics_ports=_ports(spec, count, taken_ports if taken_ports is not None else set()),
        recovery_dirs=[recovery / f"process-{i}" for i in range(count)],
    )


def prepare_recovery(plan: FlowPlan) -> None:
    """Create the recovery partitions (one per process, in its own directory) unless they exist.

    Raises:
        ConfigError: the existing partitions were made for another process count.
    """
    base = plan.recovery_dirs[0].parent
    marker = base / PARTITIONS_FILE
    if marker.exists():
        count = json.loads(marker.read_text())["partitions"]
        if count != plan.processes:
            msg = (
                f"flow {plan.spec.name}: its recovery in {base} has {count} partitions (deployed with {count} "
                f"processes): deploy it with --processes {count}, or remove {base} to start from "
                f"inputs.start_offset again"
            )
            raise ConfigError(msg)
        return
    from flows.connectors.recovery import init_partitions  # Bytewax: imported only when a flow is deployed

    init_partitions(plan.processes, dict(enumerate(plan.recovery_dirs)))
    marker.write_text(json.dumps({"partitions": plan.processes}) + "\n")


def plan_from_record(rec: FlowRecord, endpoints: Endpoints) -> FlowPlan:
    """Rebuild the plan a record describes (the supervisor daemon starts from it)."""
    spec = load_spec(Path(rec.spec))
    return FlowPlan(
        spec=spec,
        source=Path(rec.options.get("source", rec.spec)),
        root=Path(rec.options["root"]),
        endpoints=endpoints,
        processes=len(rec.processes),
        workers=rec.workers_per_process,
        metrics_ports=[p.metrics_port for p in rec.processes],
        recovery_dirs=[Path(p.recovery_dir) for p in rec.processes],
    )
