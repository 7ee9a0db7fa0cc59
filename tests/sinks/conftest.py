"""Fixtures for the store tests: a freshly migrated embedded store per test (chdb, one path at a time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sinks.clickhouse import session
from sinks.migrate import migrate


def migrated(path: Path) -> str:
    """Migrate an embedded store at ``path``; return its DSN."""
    dsn = f"chdb://{path}"
    with session(dsn) as client:
        migrate(client)
    return dsn


@pytest.fixture
def store(tmp_path: Path) -> str:
    """DSN of a new, migrated embedded store."""
    return migrated(tmp_path / "store")
