"""Run one flow spec as a Bytewax process: ``python -m flows.run --spec FILE --bootstrap HOST:PORT ...``.

This is what ``pulsearb up`` and ``pulsearb flows deploy`` start for every process of every flow. SIGTERM/SIGINT
stop it cleanly (sources finish, sinks flush). Errors a user can cause end in one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from datetime import timedelta
from pathlib import Path

from base.errors import ConfigError, PulsearbError


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build the flow and run it until it ends or is stopped."""
    p = argparse.ArgumentParser(prog="python -m flows.run", description=__doc__)
    p.add_argument("--spec", required=True, type=Path)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--store-dsn", default="")
    p.add_argument("--relay-socket", default="")
    p.add_argument("--recovery-dir", default="")
    p.add_argument("--rpc-url", default="", help="JSON-RPC endpoint for risk_execution flows")
    p.add_argument("--signals-socket", default="", help="AlphaPulse signals relay socket (accepted opportunities)")
    p.add_argument("--state-dir", default="", help="where persisted flow state lives (risk state, ledgers)")
    p.add_argument("--workers", type=int, default=0, help="workers per process (default: from the spec)")
    p.add_argument("--process-id", default=None, help="index in a cluster, or auto: the hostname ordinal")
    p.add_argument("--addresses", default="", help="semicolon-separated host:port of every process in the cluster")
    p.add_argument(
        "--peers",
        default="",
        help="address template expanded for i in range(processes): {i} the index, {p} = --peer-base-port + i "
        "(e.g. 'pulsearb-bridge-{i}.pulsearb-bridge:2101' on Kubernetes, '127.0.0.1:{p}' under systemd)",
    )
    p.add_argument("--peer-base-port", type=int, default=2101)
    p.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics (default: the spec's)")
    p.add_argument("--epoch-interval", type=float, default=0.0, help="seconds (default: the spec's snapshot interval)")
    args = p.parse_args(argv)
    from flows.connectors.stop import install_signal_handlers

    # First thing: a SIGTERM during start-up must stop the flow cleanly, not kill it half-built.
    install_signal_handlers()

    from flows.spec import load_spec

    try:
        spec = load_spec(args.spec)
        from flows.connectors.broker_health import wait_reachable

        wait_reachable(args.bootstrap, timeout_s=5.0)  # one line with the fix, before building anything
        from flows.logs import json_handler

        logging.basicConfig(
            level=os.environ.get("PULSEARB_LOG_LEVEL", spec.observability.log_level).upper(),
            handlers=[json_handler(sys.stderr, {"flow": spec.name})],
        )
        from bytewax.recovery import RecoveryConfig
        from bytewax.run import cli_main

        from flows.build import RunEnv, build
        from flows.metrics import serve

        process_id = _process_id(args.process_id)
        if args.metrics_port is None:
            port = spec.observability.metrics_port
            if port and process_id:
                port += process_id  # processes of one cluster on one host need one port each
        else:
            port = args.metrics_port
        serve(port)
        from flows.connectors.broker_health import watch
        from flows.metrics import ENDPOINT_UP, FLOW_INFO

        FLOW_INFO.labels(spec.name, spec.kind, str(process_id or 0)).set(1)
        watch(ENDPOINT_UP.labels(spec.name, "broker"), args.bootstrap)
        env = RunEnv(
            bootstrap=args.bootstrap,
            store_dsn=args.store_dsn or os.environ.get("PULSEARB_STORE_DSN", ""),
            relay_socket=args.relay_socket,
            rpc_url=args.rpc_url or os.environ.get("PULSEARB_RPC_URL", ""),
            signals_socket=args.signals_socket,
            state_dir=args.state_dir,
        )
        flow = build(spec, env)
        _tune_gc()  # after start-up: the heap built so far is frozen out of the collector's full passes
        recovery = None
        recovery_dir = args.recovery_dir or spec.recovery.directory
        if recovery_dir:
            path = Path(recovery_dir)
            if not path.exists() or not any(path.iterdir()):
                from flows.connectors.recovery import init_partitions

                init_partitions(spec.resources.processes, {process_id or 0: path})  # this process's partition
            backup = timedelta(seconds=spec.recovery.backup_interval_s)
            recovery = RecoveryConfig(path, backup_interval=backup)
        epoch = timedelta(seconds=args.epoch_interval or spec.recovery.snapshot_interval_s)
        addresses = args.addresses.split(";") if args.addresses else None
        if args.peers and spec.resources.processes > 1:
            addresses = [args.peers.format(i=i, p=args.peer_base_port + i) for i in range(spec.resources.processes)]
        if addresses is None:
            process_id = None
        cli_main(
            flow,
            workers_per_process=args.workers or spec.resources.workers_per_process,
            process_id=process_id,
            addresses=addresses,
            epoch_interval=epoch,
            recovery_config=recovery,
        )
    except PulsearbError as exc:
        print(f"pulsearb flow {args.spec}: error: {exc}", file=sys.stderr)
        return 2
    return 0


#: Allocations between two young-generation collections in a flow process (CPython's default is 700).
GC_GEN0_THRESHOLD = 20_000


def _tune_gc() -> None:
    """Make the garbage collector cheap for a flow process (once the flow is built).

    A batch holds thousands of short-lived tracked objects (frames, records, events, states) until it is processed,
    so with CPython's defaults the collector runs many times per batch, promotes them, and every full collection
    walks the whole import-time heap (Bytewax, confluent-kafka, fastavro, web3): in the bridge about 2 us per
    record, a fifth of its CPU. Nearly everything is freed by reference counting anyway. Freezing the heap built so
    far keeps full collections off it, and a larger young generation makes collections rarer; cycles are still
    collected.
    """
    import gc

    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GC_GEN0_THRESHOLD), gen1, gen2)


def _process_id(value: str | None) -> int | None:
    """Parse --process-id: an integer, or 'auto' for the trailing ordinal of the hostname (StatefulSet pods)."""
    if value is None:
        return None
    if value == "auto":
        host = socket.gethostname()
        tail = host.rsplit("-", 1)[-1]
        if not tail.isdigit():
            msg = f"--process-id auto: hostname {host!r} does not end in -<ordinal>"
            raise ConfigError(msg)
        return int(tail)
    if not value.isdigit():
        msg = f"--process-id: expected an integer or 'auto', got {value!r}"
        raise ConfigError(msg)
    return int(value)


if __name__ == "__main__":
    sys.exit(main())
