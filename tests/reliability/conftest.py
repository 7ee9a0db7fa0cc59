"""Fixtures for fault drills: a broker reachable only through a cuttable proxy, and a broker of a module's own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ops.simulator.stack import process, stack
from ops.simulator.stack.broker import tansu_binary
from ops.simulator.stack.stack import StackInfo
from sinks.clickhouse import default_dsn, session
from sinks.migrate import migrate
from tests.reliability.proxy import CuttableProxy


@dataclass
class ProxiedBroker:
    info: StackInfo
    proxy: CuttableProxy
    home: Path


@pytest.fixture
def proxied_broker(tmp_path: Path) -> Iterator[ProxiedBroker]:
    """A Tansu broker that advertises the proxy's port, so every client connection crosses the proxy."""
    broker_port, proxy_port = process.free_port(), process.free_port()
    argv = [
        str(tansu_binary()), "broker",
        "--listener-url", f"tcp://127.0.0.1:{broker_port}",
        "--advertised-listener-url", f"tcp://127.0.0.1:{proxy_port}",
        "--storage-engine", "memory://tansu/",
    ]  # fmt: skip
    spec = process.ProcessSpec("broker", argv, ready=lambda: process.port_open(broker_port))
    pid = process.start(spec, tmp_path)
    proxy = CuttableProxy(proxy_port, broker_port).start()
    dsn = default_dsn(tmp_path)
    with session(dsn) as client:
        migrate(client)
    try:
        yield ProxiedBroker(StackInfo(f"127.0.0.1:{proxy_port}", None, dsn, pid, None), proxy, tmp_path)
    finally:
        proxy.stop()
        process.stop_pid(pid)


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackInfo]:
    """A Tansu broker for one drill module (the drills write the real topic names, which other tests count)."""
    home = tmp_path_factory.mktemp("drill-broker")
    info = stack.up(home, chain=False, store=False)
    try:
        yield info
    finally:
        stack.down(home)
