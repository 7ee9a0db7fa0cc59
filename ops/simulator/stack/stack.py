"""Start, stop and inspect the whole local stack; its endpoints are recorded in ``<state>/stack.json``."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from base.errors import StackError
from flows.connectors.broker_health import wait_reachable
from ops.simulator.stack import process
from ops.simulator.stack.broker import broker_spec
from ops.simulator.stack.chain import chain_ready, chain_spec
from ops.simulator.stack.store import store_spec
from sinks.clickhouse import chdb_path, default_dsn, held_by, served, session
from sinks.migrate import migrate
from sinks.server import RECORD_NAME, ServerRecord

COMPONENTS = ("broker", "chain", "store")


@dataclass(frozen=True, slots=True)
class StackInfo:
    """Endpoints of a running local stack."""

    bootstrap: str | None
    rpc_url: str | None
    store_dsn: str
    broker_pid: int | None = None
    chain_pid: int | None = None
    store_url: str | None = None  # ClickHouse HTTP interface of the store server, when the stack serves the store
    store_pid: int | None = None


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    """Health of one component."""

    name: str
    running: bool
    endpoint: str
    pid: int | None
    detail: str = ""


def _info_path(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def load_info(state_dir: Path) -> StackInfo | None:
    """Return the recorded stack endpoints, or None when no stack was started here."""
    try:
        data = json.loads(_info_path(state_dir).read_text())
    except (OSError, ValueError):
        return None
    return StackInfo(**data)


def up(
    state_dir: Path,
    *,
    broker: bool = True,
    chain: bool = True,
    store: bool = True,
    block_time_s: float | None = None,
    serve_store: bool = False,
    store_port: int = 0,
) -> StackInfo:
    """Start the requested components on free loopback ports (reusing ones already running); return endpoints.

    Args:
        state_dir: where pid files, logs and the embedded store live.
        broker: start the Kafka-protocol broker.
        chain: start anvil.
        store: create and migrate the embedded store.
        block_time_s: anvil's interval mining (None: a block per transaction).
        serve_store: start the store server (:mod:`sinks.server`), which owns the store and serves ClickHouse's
            HTTP interface; every ``chdb://`` DSN of the store then goes through it (see
            :func:`sinks.clickhouse.connect`), so history can be queried while the archive writes.
        store_port: the server's loopback port (0: any free port).

    Raises:
        StackError: a component is missing or failed to start (one line naming the fix or the log file).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    previous = load_info(state_dir)
    bootstrap = rpc_url = None
    broker_pid = chain_pid = None
    if broker:
        broker_pid = process.read_pid("broker", state_dir)
        if broker_pid and previous and previous.bootstrap:
            bootstrap = previous.bootstrap
        else:
            port = process.free_port()
            broker_pid = process.start(broker_spec(port), state_dir)
            bootstrap = f"127.0.0.1:{port}"
    if chain:
        chain_pid = process.read_pid("chain", state_dir)
        if chain_pid and previous and previous.rpc_url and chain_ready(previous.rpc_url):
            rpc_url = previous.rpc_url
        else:
            port = process.free_port()
            chain_pid = process.start(chain_spec(port, block_time_s), state_dir)
            rpc_url = f"http://127.0.0.1:{port}"
    dsn = default_dsn(state_dir)
    store_url = store_pid = None
    if serve_store:
        store_pid, store_url = _serve_store(state_dir, dsn, store_port)
    if store or serve_store:
        with session(dsn) as client:
            migrate(client)
    info = StackInfo(bootstrap, rpc_url, dsn, broker_pid, chain_pid, store_url, store_pid)
    _info_path(state_dir).write_text(json.dumps(asdict(info), indent=2))
    return info


def _serve_store(state_dir: Path, dsn: str, port: int) -> tuple[int, str]:
    """Start the store server (or reuse the one serving this store); return its pid and URL.

    Raises:
        StackError: the store is owned by another process, or the server did not start.
    """
    record = served(dsn)
    if record is not None:
        return record.pid, record.url
    path = chdb_path(dsn)
    assert path is not None
    (path / RECORD_NAME).unlink(missing_ok=True)  # a record left by a killed server names a dead pid
    try:
        pid = process.start(store_spec(path, port), state_dir)
    except StackError as exc:
        holder, what = held_by(path)
        if port and not os.environ.get("PULSEARB_STORE_PORT") and process.port_open(port) and holder is None:
            # The default port was taken between choosing it and binding it: any free port will do.
            pid = process.start(store_spec(path, 0), state_dir)
            record = ServerRecord.read(path)
            assert record is not None
            return pid, record.url
        if holder is None or not process.pid_alive(holder):
            raise
        msg = f"cannot serve the store {path}: process {holder} ({what}) owns it; stop it and start the stack again"
        raise StackError(msg) from exc
    record = ServerRecord.read(path)
    assert record is not None  # the readiness check read it
    return pid, record.url


def down(state_dir: Path) -> list[str]:
    """Stop every running component; return the names of those stopped."""
    stopped = [name for name in ("chain", "broker", "store") if process.stop(name, state_dir)]
    _info_path(state_dir).unlink(missing_ok=True)
    return stopped


def status(state_dir: Path) -> list[ComponentStatus]:
    """Report each component's health."""
    info = load_info(state_dir)
    rows = []
    pid = process.read_pid("broker", state_dir)
    endpoint = info.bootstrap if info and info.bootstrap else "-"
    up_ = bool(pid and info and info.bootstrap and process.port_open(int(info.bootstrap.rsplit(":", 1)[1])))
    rows.append(ComponentStatus("broker", up_, endpoint, pid, "tansu, in-memory storage"))
    pid = process.read_pid("chain", state_dir)
    endpoint = info.rpc_url if info and info.rpc_url else "-"
    up_ = bool(pid and info and info.rpc_url and chain_ready(info.rpc_url))
    rows.append(ComponentStatus("chain", up_, endpoint, pid, "anvil, chain id 31337"))
    dsn = info.store_dsn if info else default_dsn(state_dir)
    record = served(dsn)
    if record is not None:
        detail = f"chdb {dsn.removeprefix('chdb://')}, served over ClickHouse HTTP"
        rows.append(ComponentStatus("store", True, record.url, record.pid, detail))
    else:
        path = Path(dsn.removeprefix("chdb://"))
        rows.append(ComponentStatus("store", path.exists(), dsn, None, "embedded chdb (opened by its user process)"))
    return rows


def wait_for_broker(bootstrap: str, timeout_s: float = 10.0) -> None:
    """Block until the broker accepts connections (the check every flow runs at start-up).

    Raises:
        StackError: it did not within ``timeout_s``.
    """
    wait_reachable(bootstrap, timeout_s)
