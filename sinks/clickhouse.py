"""ClickHouse access through clickhouse-connect: embedded chdb by default, any server by DSN.

This is the only module that imports clickhouse_connect. Its errors become :class:`SinkUnavailable` (the store
cannot be reached right now: retry) or :class:`StoreError` (a query is wrong: do not retry) at this seam.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.exceptions import (
    ClickHouseError,
    DatabaseError,
    OperationalError,
    ProgrammingError,
)

from flows.errors import PulsearbError


class StoreError(PulsearbError):
    """A query or insert was rejected by ClickHouse."""


class SinkUnavailable(PulsearbError):
    """The store cannot be reached right now; retry after ``retry_after_s``."""

    def __init__(self, reason: str, retry_after_s: float = 1.0) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s

    def __reduce__(self):
        return (type(self), (str(self), self.retry_after_s))


def default_dsn(state_dir: Path) -> str:
    """The embedded store's DSN under the state directory."""
    return f"chdb://{state_dir / 'store'}"


def connect(dsn: str, database: str | None = None) -> Any:
    """Open a clickhouse-connect client for ``dsn`` (``chdb://PATH``, ``chdb://memory`` or ``http(s)://...``).

    Raises:
        SinkUnavailable: the store cannot be opened (for chdb: another process owns the data directory).
    """
    if dsn.startswith("chdb://") and dsn != "chdb://memory":
        Path(dsn.removeprefix("chdb://")).mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"dsn": dsn}
    if database:
        kwargs["database"] = database
    try:
        return clickhouse_connect.get_client(**kwargs)
    except (ProgrammingError, OperationalError, DatabaseError, OSError) as exc:
        first = str(exc).splitlines()[0][:300]
        hint = ""
        text = str(exc)
        if dsn.startswith("chdb://") and ("already initialized" in text or "Error initializing" in text):
            hint = " (an embedded store is owned by one process at a time: stop the process holding it)"
        msg = f"cannot open ClickHouse store {redact_dsn(dsn)}: {first}{hint}"
        raise SinkUnavailable(msg) from exc


def redact_dsn(dsn: str) -> str:
    """Hide the password of a DSN for messages and logs."""
    if "@" not in dsn or "://" not in dsn:
        return dsn
    scheme, rest = dsn.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


@contextlib.contextmanager
def session(dsn: str, database: str | None = None) -> Iterator[Any]:
    """Open a client for the duration of a ``with`` block and always close it (chdb frees its data dir)."""
    client = connect(dsn, database)
    try:
        yield client
    finally:
        client.close()


def command(client: Any, sql: str, parameters: dict[str, Any] | None = None) -> Any:
    """Run a statement; translate clickhouse-connect errors into pulsearb errors."""
    try:
        return client.command(sql, parameters=parameters)
    except (OperationalError, OSError) as exc:
        raise SinkUnavailable(str(exc).splitlines()[0]) from exc
    except ClickHouseError as exc:
        raise StoreError(str(exc).splitlines()[0][:500]) from exc


def query_rows(client: Any, sql: str, parameters: dict[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
    """Run a query; return (column names, rows)."""
    try:
        result = client.query(sql, parameters=parameters)
    except (OperationalError, OSError) as exc:
        raise SinkUnavailable(str(exc).splitlines()[0]) from exc
    except ClickHouseError as exc:
        raise StoreError(str(exc).splitlines()[0][:500]) from exc
    return list(result.column_names), [tuple(r) for r in result.result_rows]


def insert_rows(
    client: Any,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    dedup_token: str | None = None,
) -> None:
    """Insert rows in one INSERT; ``dedup_token`` makes a retried or replayed batch a no-op.

    Raises:
        SinkUnavailable: the store could not be reached (retry later).
        StoreError: the insert was rejected (bad table or values).
    """
    settings = {"insert_deduplication_token": dedup_token} if dedup_token else None
    try:
        client.insert(table, rows, column_names=list(columns), settings=settings)
    except (OperationalError, OSError) as exc:
        raise SinkUnavailable(str(exc).splitlines()[0]) from exc
    except ClickHouseError as exc:
        raise StoreError(f"insert into {table} failed: {str(exc).splitlines()[0][:500]}") from exc
