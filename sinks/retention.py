"""Retention policy of the archive: keep rows hot for some days, then drop them or move them to another volume.

TTLs count from ``archived_at``, so replaying old market data does not expire on
arrival. ``pnl_by_opportunity`` has no TTL: per-opportunity PnL is small and is the history users judge strategies
by. Applying a policy runs ``ALTER TABLE ... MODIFY TTL`` on every archive table and records the policy in
``retention_policy``; ClickHouse then rewrites the TTL of existing parts (``materialize_ttl_after_modify``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from base.errors import PulsearbError
from sinks.clickhouse import command, query_rows

DEFAULT_DAYS = 90
_NO_TTL = ("schema_migrations", "retention_policy", "pnl_by_opportunity")


class RetentionError(PulsearbError):
    """A retention policy cannot be applied to this store."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long rows live.

    Args:
        days: rows are deleted this many days after they were archived.
        move_after_days: rows move to ``volume`` this many days after they were archived (None: never).
        volume: the storage-policy volume cold rows move to.
        storage_policy: a storage policy (with ``volume`` and a ``default`` volume) to switch tables to first.
    """

    days: int = DEFAULT_DAYS
    move_after_days: int | None = None
    volume: str | None = None
    storage_policy: str | None = None

    def __post_init__(self) -> None:
        if self.days <= 0:
            msg = f"--retention-days must be a positive number of days, got {self.days}"
            raise RetentionError(msg)
        if (self.move_after_days is None) != (self.volume is None):
            msg = "--move-after-days and --volume go together (move rows to VOLUME after N days)"
            raise RetentionError(msg)
        if self.move_after_days is not None and not 0 < self.move_after_days < self.days:
            msg = f"--move-after-days ({self.move_after_days}) must be between 1 and --retention-days ({self.days})"
            raise RetentionError(msg)

    def ttl(self, column: str = "archived_at") -> str:
        """The TTL expression of a table whose age column is ``column``."""
        day = f"toDate({column})"
        drop = f"{day} + INTERVAL {self.days} DAY DELETE"
        if self.volume is None:
            return drop
        return f"{day} + INTERVAL {self.move_after_days} DAY TO VOLUME '{self.volume}', {drop}"

    def describe(self) -> str:
        """One line for people."""
        if self.volume is None:
            return f"keep {self.days} days, then drop"
        return f"keep {self.move_after_days} days hot, then move to volume {self.volume!r}; drop after {self.days} days"


def current(client: Any, database: str) -> RetentionPolicy | None:
    """The recorded policy, or None when none was recorded (or the table does not exist yet)."""
    _, exists = query_rows(
        client,
        "SELECT count() FROM system.tables WHERE database = {d:String} AND name = 'retention_policy'",
        {"d": database},
    )
    if not exists[0][0]:
        return None
    _, rows = query_rows(
        client,
        f"SELECT days, move_after_days, volume, storage_policy FROM {database}.retention_policy "
        "ORDER BY applied_at DESC LIMIT 1",
    )
    if not rows:
        return None
    days, move, volume, policy = rows[0]
    return RetentionPolicy(int(days), None if move is None else int(move), volume, policy)


def ttl_tables(client: Any, database: str) -> list[tuple[str, str, str]]:
    """``(table, age column, storage policy)`` of every table a retention policy applies to."""
    _, rows = query_rows(
        client,
        "SELECT t.name, c.name, t.storage_policy FROM system.tables AS t "
        "INNER JOIN system.columns AS c ON c.database = t.database AND c.table = t.name "
        "WHERE t.database = {d:String} AND t.engine LIKE '%MergeTree' "
        "AND c.name = 'archived_at' ORDER BY t.name",
        {"d": database},
    )
    return [(t, col, policy) for t, col, policy in rows if t not in _NO_TTL]


def _volumes(client: Any, policy: str) -> set[str]:
    _, rows = query_rows(
        client, "SELECT volume_name FROM system.storage_policies WHERE policy_name = {p:String}", {"p": policy}
    )
    return {r[0] for r in rows}


def apply(client: Any, database: str, policy: RetentionPolicy) -> list[str]:
    """Alter every archive table's TTL to ``policy`` and record it; return the tables altered.

    Raises:
        RetentionError: the volume (or storage policy) does not exist on this store.
    """
    tables = ttl_tables(client, database)
    if policy.storage_policy is not None and not _volumes(client, policy.storage_policy):
        msg = (
            f"storage policy {policy.storage_policy!r} does not exist on this store: define it in the server "
            "configuration (storage_configuration; for chdb pass ?config_file=FILE in the DSN), see docs/database.md"
        )
        raise RetentionError(msg)
    if policy.volume is not None:
        for table, _, table_policy in tables:
            target = policy.storage_policy or table_policy
            if policy.volume not in _volumes(client, target):
                msg = (
                    f"volume {policy.volume!r} is not in storage policy {target!r} of {database}.{table}: "
                    "configure a storage policy with that volume and pass --storage-policy (docs/database.md#retention)"
                )
                raise RetentionError(msg)
    altered = []
    for table, column, table_policy in tables:
        if policy.storage_policy is not None and policy.storage_policy != table_policy:
            command(client, f"ALTER TABLE {database}.{table} MODIFY SETTING storage_policy = '{policy.storage_policy}'")
        command(client, f"ALTER TABLE {database}.{table} MODIFY TTL {policy.ttl(column)}")
        altered.append(table)
    command(
        client,
        f"INSERT INTO {database}.retention_policy (days, move_after_days, volume, storage_policy) "
        "VALUES ({d:UInt32}, {m:Nullable(UInt32)}, {v:Nullable(String)}, {p:Nullable(String)})",
        parameters={"d": policy.days, "m": policy.move_after_days, "v": policy.volume, "p": policy.storage_policy},
    )
    return altered
