"""The local store server: the embedded ClickHouse (chdb) owned by one process that serves ClickHouse's HTTP
interface on loopback (:mod:`sinks.server`), so flows, ``pulsearb history`` and any ClickHouse client share it."""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

from ops.simulator.stack.process import ProcessSpec, free_port, port_open
from sinks.server import ServerRecord

DEFAULT_PORT = 8123  # ClickHouse's own HTTP port: what Grafana's data source and clients expect by default


def preferred_port() -> int:
    """``$PULSEARB_STORE_PORT``, else 8123 when it is free, else any free loopback port."""
    env = os.environ.get("PULSEARB_STORE_PORT")
    if env:
        return int(env)
    return DEFAULT_PORT if not port_open(DEFAULT_PORT) else free_port()


def store_ready(path: Path) -> bool:
    """True once the server has written its record and answers ``/ping``."""
    record = ServerRecord.read(path)
    if record is None:
        return False
    try:
        with urllib.request.urlopen(f"{record.url}/ping", timeout=0.5) as reply:
            return reply.status == 200
    except OSError:
        return False


def store_spec(path: Path, port: int, config_file: str | None = None) -> ProcessSpec:
    """Describe a store server owning ``path`` on 127.0.0.1:``port`` (0: any free port)."""
    argv = [sys.executable, "-m", "sinks.server", str(path), "--port", str(port)]
    if config_file:
        argv += ["--config-file", config_file]
    return ProcessSpec(name="store", argv=argv, ready=lambda: store_ready(path), start_timeout_s=30.0)
