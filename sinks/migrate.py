"""Apply ClickHouse migrations (schemas/clickhouse/NNN_name.sql) in order, exactly once each.

Each file is recorded in ``schema_migrations`` with its sha256. A database whose recorded history differs from the
files (a changed, missing or reordered migration) is refused with a clear error instead of being patched over.
Statements end with a ``;`` at the end of a line; ``{database}`` is filled with the target database and
``{retention_days}`` from the retention policy in force (:mod:`sinks.retention`), which migrate also applies.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from base.errors import PulsearbError
from base.paths import ROOT
from sinks import retention as retention_mod
from sinks.clickhouse import command, query_rows
from sinks.retention import RetentionPolicy

MIGRATIONS_DIR = ROOT / "schemas" / "clickhouse"
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


class MigrationError(PulsearbError):
    """The migrations on disk and the history recorded in the database disagree."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str
    checksum: str


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read and order the migration files.

    Raises:
        MigrationError: a file name does not match NNN_name.sql or two files share a version.
    """
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            msg = f"{path}: migration files must be named NNN_snake_name.sql"
            raise MigrationError(msg)
        version = int(m.group(1))
        if version in found:
            msg = f"{path}: version {version:03d} is used twice"
            raise MigrationError(msg)
        sql = path.read_text()
        found[version] = Migration(version, m.group(2), sql, hashlib.sha256(sql.encode()).hexdigest())
    return [found[v] for v in sorted(found)]


def split_statements(sql: str) -> list[str]:
    """Split a migration into statements at semicolons that end a line (comments stripped)."""
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [p.strip() for p in parts if p.strip()]


def migrate(
    client: Any,
    database: str = "pulsearb",
    retention_days: int | None = None,
    retention: RetentionPolicy | None = None,
    directory: Path = MIGRATIONS_DIR,
) -> list[Migration]:
    """Apply pending migrations to ``database`` and the retention policy; return the migrations applied.

    Args:
        client: an open clickhouse-connect client.
        database: target database.
        retention_days: shorthand for ``RetentionPolicy(retention_days)``.
        retention: the policy to apply; None keeps the recorded one (90 days on a new store).
        directory: where the migration files are.

    Raises:
        MigrationError: the recorded history differs from the files.
        RetentionError: the policy names a volume or storage policy the store does not have.
    """
    command(client, f"CREATE DATABASE IF NOT EXISTS {database}")
    command(
        client,
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, checksum String, applied_at DateTime64(3) DEFAULT now64(3)) "
        "ENGINE = MergeTree ORDER BY version",
    )
    _, rows = query_rows(client, f"SELECT version, name, checksum FROM {database}.schema_migrations ORDER BY version")
    files = load_migrations(directory)
    by_version = {m.version: m for m in files}
    for version, name, checksum in rows:
        m = by_version.get(version)
        if m is None:
            msg = (
                f"database {database} has migration {version:03d}_{name} which is not in {directory}: "
                "this checkout is older than the database"
            )
            raise MigrationError(msg)
        if m.checksum != checksum or m.name != name:
            msg = (
                f"migration {version:03d}_{m.name}.sql changed after it was applied to {database}; "
                "never edit an applied migration: add a new NNN_name.sql instead"
            )
            raise MigrationError(msg)
    applied_versions = {r[0] for r in rows}
    pending = [m for m in files if m.version not in applied_versions]
    if applied_versions and pending and min(m.version for m in pending) < max(applied_versions):
        msg = f"migration {pending[0].version:03d}_{pending[0].name}.sql is older than the newest applied one"
        raise MigrationError(msg)
    recorded = retention_mod.current(client, database)
    if retention is None and retention_days is not None:
        retention = RetentionPolicy(retention_days)
    policy = retention or recorded or RetentionPolicy()
    for m in pending:
        sql = m.sql.replace("{database}", database).replace("{retention_days}", str(policy.days))
        for statement in split_statements(sql):
            command(client, statement)
        command(
            client,
            f"INSERT INTO {database}.schema_migrations (version, name, checksum) "
            "VALUES ({v:UInt32}, {n:String}, {c:String})",
            parameters={"v": m.version, "n": m.name, "c": m.checksum},
        )
    if policy != recorded or (pending and policy.volume is not None):
        retention_mod.apply(client, database, policy)
    return pending
