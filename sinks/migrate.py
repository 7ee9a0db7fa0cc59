"""Apply ClickHouse migrations (schemas/clickhouse/NNN_name.sql) in order, exactly once each.

Each file is recorded in ``schema_migrations`` with its sha256. A database whose recorded history differs from the
files (a changed, missing or reordered migration) is refused with a clear error instead of being patched over.
Statements inside a file are separated by lines holding only ``;``-terminated statements; ``{retention_days}`` and
``{database}`` placeholders are filled from the retention policy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.errors import PulsearbError
from ops.paths import ROOT
from sinks.clickhouse import command, query_rows

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


def migrate(client: Any, database: str = "pulsearb", retention_days: int = 90) -> list[Migration]:
    """Apply pending migrations to ``database``; return those applied (empty when up to date).

    Raises:
        MigrationError: the recorded history differs from the files.
    """
    command(client, f"CREATE DATABASE IF NOT EXISTS {database}")
    command(
        client,
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, checksum String, applied_at DateTime64(3) DEFAULT now64(3)) "
        "ENGINE = MergeTree ORDER BY version",
    )
    _, rows = query_rows(client, f"SELECT version, name, checksum FROM {database}.schema_migrations ORDER BY version")
    files = load_migrations()
    by_version = {m.version: m for m in files}
    for version, name, checksum in rows:
        m = by_version.get(version)
        if m is None:
            msg = (
                f"database {database} has migration {version:03d}_{name} which is not in {MIGRATIONS_DIR}: "
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
    for m in pending:
        sql = m.sql.replace("{database}", database).replace("{retention_days}", str(retention_days))
        for statement in split_statements(sql):
            command(client, statement)
        command(
            client,
            f"INSERT INTO {database}.schema_migrations (version, name, checksum) VALUES ({{v:UInt32}}, {{n:String}}, {{c:String}})",
            parameters={"v": m.version, "n": m.name, "c": m.checksum},
        )
    return pending
