"""``pulsearb flows validate|schema|deploy|list|status|stop``: specs -> supervised Bytewax processes."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from base.errors import ConfigError
from base.paths import state_dir

if TYPE_CHECKING:
    from flows.spec import FlowSpec
    from ops.control.kafka_config import KafkaSettings
    from ops.control.plan import Endpoints


def register(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    """Add the ``flows`` group."""
    p = sub.add_parser(name, help=help_text, description=help_text)
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    v = verbs.add_parser("validate", help="check spec files: every problem as FILE:LINE: field: expected, got")
    v.add_argument("files", nargs="*", type=Path, help="spec files (default: flows/specs/*.yaml)")
    v.set_defaults(func=_validate)

    v = verbs.add_parser("schema", help="print the spec JSON Schema (version 1)")
    v.add_argument("--output", type=Path, help="write it to this file instead")
    v.add_argument("--check", action="store_true", help="exit 1 if the committed schema file differs")
    v.set_defaults(func=_schema)

    v = verbs.add_parser("deploy", help="start flows as supervised Bytewax processes against a Kafka cluster")
    v.add_argument("--bootstrap", default=os.environ.get("PULSEARB_BOOTSTRAP"), help="Kafka bootstrap servers")
    v.add_argument("--specs", nargs="+", type=Path, help="spec files (default: flows/specs/*.yaml)")
    v.add_argument("--processes", type=int, help="processes per detector/archive flow (default: the spec's)")
    v.add_argument("--relay-socket", default="", help="bridge: the AlphaPulse market-data relay socket")
    v.add_argument("--signals-socket", default="", help="risk_execution: the AlphaPulse signals relay socket")
    v.add_argument("--kafka-config", type=Path, help="Kafka security settings file (default $PULSEARB_KAFKA_CONFIG)")
    v.add_argument("--wait", type=float, default=30.0, help="seconds to wait for every process (default 30)")
    _root(v)
    v.set_defaults(func=_deploy)

    v = verbs.add_parser("list", help="deployed flows, one line each")
    _root(v)
    v.set_defaults(func=_list)

    v = verbs.add_parser("status", help="processes, ports, recovery, restarts and throughput of deployed flows")
    v.add_argument("names", nargs="*")
    v.add_argument("--json", action="store_true", help="machine-readable output")
    _root(v)
    v.set_defaults(func=_status)

    v = verbs.add_parser("stop", help="stop flows upstream first; each drains its input before it exits")
    v.add_argument("names", nargs="*", help="flows to stop (default: all)")
    v.add_argument("--timeout", type=float, default=60.0, help="seconds a flow may take to drain (default 60)")
    _root(v)
    v.set_defaults(func=_stop)


def _root(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", type=Path, help="deploy root (default: $PULSEARB_HOME/deploy)")


def _root_of(args: argparse.Namespace) -> Path:
    return (args.root or state_dir() / "deploy").resolve()


def _spec_paths(files: list[Path] | None) -> list[Path]:
    from flows.spec import SPECS_DIR

    return [f.resolve() for f in files] if files else sorted(SPECS_DIR.glob("*.yaml"))


def load_and_check(files: list[Path] | None) -> tuple[list[FlowSpec], list[str]]:
    """Load each spec and run every check on those that parse; return (specs, problems as located lines)."""
    from flows.spec import SpecError, load_spec
    from ops.control.checks import check_all

    specs, problems = [], []
    for path in _spec_paths(files):
        try:
            specs.append(load_spec(path))
        except SpecError as exc:
            problems.extend(exc.problems)
    problems.extend(str(p) for p in check_all(specs))
    return (specs if not problems else []), problems


def _validate(args: argparse.Namespace) -> int:
    paths = _spec_paths(args.files)
    if not paths:
        print("pulsearb flows validate: no spec files given or found", file=sys.stderr)
        return 2
    specs, problems = load_and_check(args.files)
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} problem(s) in {len(paths)} spec file(s)", file=sys.stderr)
        return 1
    print(f"{len(specs)} spec(s) valid: {', '.join(s.name for s in specs)}", file=sys.stderr)
    return 0


def _schema(args: argparse.Namespace) -> int:
    from flows.spec import SCHEMA_FILE, json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if args.check:
        if not SCHEMA_FILE.exists() or SCHEMA_FILE.read_text() != text:
            print(f"{SCHEMA_FILE} is out of date: run `pulsearb flows schema --output {SCHEMA_FILE}`", file=sys.stderr)
            return 1
        return 0
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _endpoints_for(specs: list[FlowSpec], args: argparse.Namespace) -> tuple[Endpoints, KafkaSettings]:
    from ops.control.kafka_config import load_kafka_settings
    from ops.control.plan import Endpoints

    kafka = load_kafka_settings(args.kafka_config)
    endpoints = Endpoints(
        bootstrap=args.bootstrap,
        store_dsn=os.environ.get("PULSEARB_STORE_DSN", ""),
        relay_socket=os.path.abspath(args.relay_socket) if args.relay_socket else "",
        rpc_url=os.environ.get("PULSEARB_RPC_URL", ""),
        signals_socket=os.path.abspath(args.signals_socket) if args.signals_socket else "",
        state_dir=str(state_dir()),
        env=kafka.env(),
    )
    for spec in specs:
        needs = {
            "bridge": (endpoints.relay_socket or spec.inputs.relay_socket, "--relay-socket PATH"),
            "archive": (endpoints.store_dsn or spec.store.get("dsn", ""), "PULSEARB_STORE_DSN or store.dsn"),
            "risk_execution": (endpoints.rpc_url, "PULSEARB_RPC_URL"),
            "collector": (endpoints.rpc_url, "PULSEARB_RPC_URL"),
        }
        have, how = needs.get(spec.kind, ("-", ""))
        if not have:
            msg = f"flow {spec.name} ({spec.kind}) needs {how} to be deployed"
            raise ConfigError(msg)
    return endpoints, kafka


def _deploy(args: argparse.Namespace) -> int:
    from ops.control.manager import DeployManager, check_topics

    if not args.bootstrap:
        msg = "flows deploy needs the Kafka cluster: --bootstrap HOST:PORT[,HOST:PORT] (or PULSEARB_BOOTSTRAP)"
        raise ConfigError(msg)
    if args.processes is not None and args.processes < 1:
        msg = f"--processes: expected an integer >= 1, got {args.processes}"
        raise ConfigError(msg)
    specs, problems = load_and_check(args.specs)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        return 1
    manager = DeployManager(_root_of(args))
    manager.refuse_running(specs)
    endpoints, kafka = _endpoints_for(specs, args)
    check_topics(args.bootstrap, specs, kafka.extra())
    recs = manager.deploy(specs, endpoints, processes=args.processes, wait_s=args.wait)
    for rec in recs:
        pids = ",".join(str(p.pid) for p in rec.processes)
        ports = ",".join(str(p.metrics_port) for p in rec.processes)
        print(f"deployed {rec.name} ({rec.kind}): {len(rec.processes)} process(es), pids {pids}, metrics {ports}")
    print(f"record: {_root_of(args) / 'deployments.json'}")
    return 0


def _age(ts: float) -> str:
    s = max(0, int(time.time() - ts))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ops.control.manager import DeployManager

    statuses = DeployManager(_root_of(args)).status()
    table = Table(title=f"flows deployed under {_root_of(args)}")
    for col in ("flow", "kind", "state", "processes", "restarts", "metrics ports", "since", "spec"):
        table.add_column(col)
    for st in statuses:
        rec = st.record
        state = (
            rec.state if st.supervisor_alive or rec.state in ("stopped", "failed") else f"{rec.state} (no supervisor)"
        )
        table.add_row(
            rec.name,
            rec.kind,
            state,
            f"{sum(st.alive)}/{len(st.alive)}",
            str(rec.restarts),
            ",".join(str(p.metrics_port) for p in rec.processes),
            _age(rec.started_at),
            "changed since deploy" if st.spec_changed else "as deployed",
        )
    Console().print(table)
    return 0


def _status(args: argparse.Namespace) -> int:
    from ops.control.manager import DeployManager

    statuses = DeployManager(_root_of(args)).status(args.names or None)
    if args.names and not statuses:
        msg = f"not deployed under {_root_of(args)}: {', '.join(args.names)}"
        raise ConfigError(msg)
    if args.json:
        from dataclasses import asdict

        print(json.dumps([asdict(s) | {"healthy": s.healthy} for s in statuses], indent=2))
        return 0 if statuses and all(s.healthy for s in statuses) else 3
    for st in statuses:
        rec = st.record
        sup = f"supervisor pid {rec.supervisor_pid} {'up' if st.supervisor_alive else 'DOWN'}"
        print(f"{rec.name} ({rec.kind}): {rec.state}, {sup}, restarts {rec.restarts}, last exit {rec.last_exit}")
        print(
            f"  spec {rec.options.get('source', rec.spec)} sha256 {rec.spec_sha256[:12]}"
            + (" (file changed since deploy)" if st.spec_changed else "")
        )
        for p, alive, up in zip(rec.processes, st.alive, st.metrics_up, strict=True):
            run, serving = "running" if alive else "down", "up" if up else "down"
            print(
                f"  process {p.process_id}: pid {p.pid or '-'} {run}, metrics :{p.metrics_port} {serving}, "
                f"cluster {p.address or '-'}, recovery {p.recovery_dir}, log {p.log}"
            )
        if st.totals:
            print("  " + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(st.totals.items())))
    if not statuses:
        print(f"nothing deployed under {_root_of(args)}")
    return 0 if statuses and all(s.healthy for s in statuses) else 3


def _stop(args: argparse.Namespace) -> int:
    from ops.control.manager import DeployManager

    stopped = DeployManager(_root_of(args)).stop(args.names or None, timeout_s=args.timeout)
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was deployed"))
    return 0
