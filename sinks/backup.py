"""Backups with ClickHouse's own ``BACKUP`` / ``RESTORE`` (``File`` or ``Disk`` destinations).

ClickHouse only writes backups under paths its configuration allows (``backups.allowed_path``). For an embedded
store this module opens chdb with a generated configuration that allows exactly the backup directory (keeping the
store's own ``?config_file=``, merged through ``config.d/``). For a server, ``DIR`` is a path on the server and
must be under its ``backups.allowed_path``, or pass ``disk`` to write to ``Disk(disk, DIR)``.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from base.errors import PulsearbError
from sinks.clickhouse import chdb_path, command, query_rows, served, session, split_chdb_dsn
from sinks.server import engine_config


class BackupError(PulsearbError):
    """A backup or restore cannot be made as asked."""


@dataclass(frozen=True, slots=True)
class TableSum:
    """Row count and an order-independent checksum of one table's contents."""

    rows: int
    checksum: int


def _destination(directory: str, disk: str | None) -> str:
    quoted = directory.replace("\\", "\\\\").replace("'", "\\'")
    return f"Disk('{disk}', '{quoted}')" if disk else f"File('{quoted}')"


@contextlib.contextmanager
def _backup_session(dsn: str, allowed: Path) -> Iterator[Any]:
    """A session whose embedded store may read and write backups under ``allowed``.

    A served store goes through its server, whose engine allows backups anywhere it can write; an embedded store
    no server owns is opened here with a config that allows exactly ``allowed``.
    """
    if chdb_path(dsn) is None or served(dsn) is not None:
        with session(dsn) as client:
            yield client
        return
    base, user_config = split_chdb_dsn(dsn)
    with tempfile.TemporaryDirectory(prefix="pulsearb-backup-config-") as tmp:
        config = engine_config(Path(tmp), allowed, user_config)
        with session(base, config_file=str(config)) as client:
            yield client


def table_sums(client: Any, database: str) -> dict[str, TableSum]:
    """Rows and checksum of every MergeTree table of ``database`` (what a restore must reproduce)."""
    _, tables = query_rows(
        client,
        "SELECT name FROM system.tables WHERE database = {d:String} AND engine LIKE '%MergeTree' ORDER BY name",
        {"d": database},
    )
    out = {}
    for (table,) in tables:
        _, cols = query_rows(
            client,
            "SELECT name, type FROM system.columns WHERE database = {d:String} AND table = {t:String} "
            "ORDER BY position",
            {"d": database, "t": table},
        )
        # Aggregate states hash through their finalized value, the rest through its text form (NULL as '').
        parts = [
            f"toString(finalizeAggregation({n}))" if t.startswith("AggregateFunction") else f"ifNull(toString({n}), '')"
            for n, t in cols
        ]
        digest = f"sum(cityHash64({', '.join(parts)}))"
        _, rows = query_rows(client, f"SELECT count(), ifNull({digest}, 0) FROM {database}.{table}")
        out[table] = TableSum(int(rows[0][0]), int(rows[0][1]))
    return out


def backup(dsn: str, directory: Path, database: str = "pulsearb", disk: str | None = None) -> dict[str, TableSum]:
    """``BACKUP DATABASE`` to ``directory``; return the rows and checksums of what was backed up.

    Raises:
        BackupError: the directory already holds something, or the store refused the backup.
    """
    directory = directory.resolve() if disk is None else directory
    if disk is None:
        if directory.exists() and any(directory.iterdir()):
            msg = f"{directory} is not empty: back up into a new directory"
            raise BackupError(msg)
        directory.parent.mkdir(parents=True, exist_ok=True)
        if directory.exists():
            directory.rmdir()  # ClickHouse creates the backup directory itself
    with _backup_session(dsn, directory) as client:
        sums = table_sums(client, database)
        if not sums:
            msg = f"database {database} has no tables in {dsn}: nothing to back up (run `pulsearb db migrate`?)"
            raise BackupError(msg)
        _run(client, f"BACKUP DATABASE {database} TO {_destination(str(directory), disk)}", "backup")
    return sums


def restore(
    dsn: str,
    directory: Path,
    database: str = "pulsearb",
    as_database: str | None = None,
    disk: str | None = None,
) -> dict[str, TableSum]:
    """``RESTORE DATABASE`` from ``directory`` into a store that does not have it; return the restored sums.

    Raises:
        BackupError: no backup there, the target database already exists, or the store refused the restore.
    """
    target = as_database or database
    if disk is None:
        directory = directory.resolve()
        if not (directory / ".backup").exists():
            msg = f"{directory} holds no ClickHouse backup (no .backup file): pass the directory `db backup` wrote"
            raise BackupError(msg)
    with _backup_session(dsn, directory) as client:
        _, exists = query_rows(client, "SELECT count() FROM system.databases WHERE name = {d:String}", {"d": target})
        if exists[0][0]:
            msg = (
                f"database {target} already exists in this store: restore into an empty store "
                f"(--dsn chdb:///new/path) or under another name (--as {target}_restored)"
            )
            raise BackupError(msg)
        rename = f" AS {target}" if target != database else ""
        _run(client, f"RESTORE DATABASE {database}{rename} FROM {_destination(str(directory), disk)}", "restore")
        return table_sums(client, target)


def _run(client: Any, sql: str, what: str) -> None:
    try:
        command(client, sql)
    except PulsearbError as exc:
        msg = f"{what} failed: {exc}"
        raise BackupError(msg) from exc
