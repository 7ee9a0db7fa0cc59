"""A store server (``python -m sinks.server``) on a migrated embedded store, as `pulsearb stack up` starts it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ops.simulator.stack import process
from ops.simulator.stack.store import store_spec
from sinks.server import ServerRecord
from tests.sinks.conftest import migrated


@contextmanager
def served_store(tmp: Path) -> Iterator[tuple[str, ServerRecord]]:
    """Migrate a new store under ``tmp``, serve it on a free loopback port; yield its chdb DSN and the record."""
    path = tmp / "store"
    dsn = migrated(path)
    pid = process.start(store_spec(path, 0), tmp)
    try:
        record = ServerRecord.read(path)
        assert record is not None and record.pid == pid
        yield dsn, record
    finally:
        process.stop_pid(pid)
