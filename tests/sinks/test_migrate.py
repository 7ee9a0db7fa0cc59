"""Migrations apply once, refuse a changed history, and carry the retention policy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from base.trace import HOPS
from sinks.clickhouse import query_rows, session
from sinks.migrate import MIGRATIONS_DIR, MigrationError, migrate
from sinks.retention import RetentionError, RetentionPolicy, current
from sinks.views import HOP_SOURCES


def _ttl(client, table: str) -> str:
    _, rows = query_rows(
        client,
        "SELECT create_table_query FROM system.tables WHERE database='pulsearb' AND name={t:String}",
        {"t": table},
    )
    return rows[0][0].split(" TTL ", 1)[1]


def test_migrate_is_idempotent_and_records_every_file(store: str) -> None:
    with session(store) as client:
        assert migrate(client) == []
        _, rows = query_rows(client, "SELECT version FROM pulsearb.schema_migrations ORDER BY version")
    assert [r[0] for r in rows] == [int(p.name[:3]) for p in sorted(MIGRATIONS_DIR.glob("*.sql"))]


def test_a_changed_applied_migration_is_refused(store: str, tmp_path: Path) -> None:
    edited = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, edited)
    first = edited / "001_core_tables.sql"
    first.write_text(first.read_text() + "\n-- an innocent-looking edit\n")
    with (
        session(store) as client,
        pytest.raises(MigrationError, match=r"001_core_tables\.sql changed after it was applied"),
    ):
        migrate(client, directory=edited)


def test_a_database_newer_than_the_checkout_is_refused(store: str, tmp_path: Path) -> None:
    older = tmp_path / "migrations"
    older.mkdir()
    shutil.copy(MIGRATIONS_DIR / "001_core_tables.sql", older)
    with session(store) as client, pytest.raises(MigrationError, match="this checkout is older than the database"):
        migrate(client, directory=older)


def test_reapplying_a_retention_policy_alters_every_ttl(store: str) -> None:
    with session(store) as client:
        assert current(client, "pulsearb") == RetentionPolicy(90)
        migrate(client, retention_days=30)
        assert current(client, "pulsearb") == RetentionPolicy(30)
        assert "toIntervalDay(30)" in _ttl(client, "arb_execution")
        assert "toIntervalDay(30)" in _ttl(client, "hop_latency")
        migrate(client)  # no options: the recorded policy stays
        assert current(client, "pulsearb") == RetentionPolicy(30)
        with pytest.raises(RetentionError, match="volume 'cold' is not in storage policy 'default'"):
            migrate(client, retention=RetentionPolicy(30, 7, "cold"))


def test_policy_arguments_are_checked() -> None:
    with pytest.raises(RetentionError):
        RetentionPolicy(0)
    with pytest.raises(RetentionError):
        RetentionPolicy(30, 40, "cold")
    assert RetentionPolicy(30, 7, "cold").ttl() == (
        "toDate(archived_at) + INTERVAL 7 DAY TO VOLUME 'cold', toDate(archived_at) + INTERVAL 30 DAY DELETE"
    )


def test_every_hop_is_read_from_exactly_one_table() -> None:
    listed = [h for hops in HOP_SOURCES.values() for h in hops]
    assert sorted(listed) == sorted(name for name, _, _ in HOPS), "base/trace.py HOPS changed: add a migration"
