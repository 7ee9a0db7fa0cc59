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

from base.errors import PulsearbError
from sinks.server import ServerRecord


class StoreError(PulsearbError):
    """A query or insert was rejected by ClickHouse."""


class SinkUnavailable(PulsearbError):
    """The store cannot be reached right now; retry after ``retry_after_s``."""

    def __init__(self, reason: str, retry_after_s: float = 1.0) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s

    def __reduce__(self):
        return (type(self), (str(self), self.retry_after_s))


class StoreBusy(SinkUnavailable):
    """An embedded store's data directory is owned by another process (chdb allows one owner at a time)."""

    def __init__(self, reason: str, path: str, pid: int | None, what: str) -> None:
        super().__init__(reason)
        self.path = path
        self.pid = pid
        self.what = what

    def __reduce__(self):
        return (type(self), (str(self), self.path, self.pid, self.what))


def default_dsn(state_dir: Path) -> str:
    """The embedded store's DSN under the state directory."""
    return f"chdb://{state_dir / 'store'}"


def split_chdb_dsn(dsn: str) -> tuple[str, str | None]:
    """Split ``chdb://PATH[?config_file=FILE]`` into (``chdb://PATH``, FILE or None)."""
    base, _, query = dsn.partition("?")
    config = None
    for part in filter(None, query.split("&")):
        key, _, value = part.partition("=")
        if key not in ("config_file", "config-file"):
            msg = f"unknown option {key!r} in {base}: a chdb DSN takes only ?config_file=FILE"
            raise StoreError(msg)
        config = value
    return base, config


def chdb_path(dsn: str) -> Path | None:
    """The data directory of an embedded store DSN, or None for servers and ``chdb://memory``."""
    base, _ = split_chdb_dsn(dsn) if dsn.startswith("chdb://") else (dsn, None)
    if not base.startswith("chdb://") or base == "chdb://memory":
        return None
    return Path(base.removeprefix("chdb://"))


def served(dsn: str) -> ServerRecord | None:
    """The running store server (:mod:`sinks.server`) that owns an embedded store's directory, if any.

    A record counts only when its process is alive and is that server, and it names this very directory (a
    ``cp -r`` of a served store copies the record, which then names the original).
    """
    path = chdb_path(dsn) if dsn.startswith("chdb://") else None
    if path is None:
        return None
    record = ServerRecord.read(path)
    if record is None or record.path != str(path.resolve()):
        return None
    try:
        cmdline = Path(f"/proc/{record.pid}/cmdline").read_bytes()
    except OSError:
        return None
    return record if b"serve" in cmdline else None  # `python -m sinks.server` or `pulsearb db serve`


def connect(dsn: str, database: str | None = None, config_file: str | None = None) -> Any:
    """Open a clickhouse-connect client for ``dsn`` (``chdb://PATH``, ``chdb://memory`` or ``http(s)://...``).

    The one rule for embedded stores: while a store server (:mod:`sinks.server`, started by ``pulsearb stack up``,
    ``pulsearb up`` or ``pulsearb db serve``) owns the directory, a ``chdb://`` DSN of it is served through that
    server's HTTP interface; otherwise this process opens the directory itself (and owns it until the client is
    closed).

    Args:
        dsn: where the store is; an embedded store may carry ``?config_file=FILE`` (a ClickHouse XML/YAML config
            for storage policies, backup paths, ...).
        database: default database of the session.
        config_file: overrides the DSN's config file (embedded stores only; a served store keeps its server's).

    Raises:
        SinkUnavailable: the store cannot be opened (for chdb: another process owns the data directory).
    """
    record = served(dsn)
    if record is not None:
        return _connect_served(record, database)
    kwargs: dict[str, Any] = {"dsn": dsn}
    if dsn.startswith("chdb://"):
        base, dsn_config = split_chdb_dsn(dsn)
        kwargs["dsn"] = base
        config_file = config_file or dsn_config
        if config_file:
            kwargs["chdb_options"] = {"config-file": config_file}
        path = chdb_path(base)
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
    if database:
        kwargs["database"] = database
    try:
        return clickhouse_connect.get_client(**kwargs)
    except (ProgrammingError, OperationalError, DatabaseError, OSError) as exc:
        first = _reason(exc)
        path = chdb_path(dsn)
        if path is not None and ("already initialized" in str(exc) or "Error initializing" in str(exc)):
            pid, what = held_by(path)
            who = f"process {pid} ({what})" if pid else "another process"
            msg = f"the embedded store {path} is in use by {who}: chdb allows one owner process at a time"
            raise StoreBusy(msg, str(path), pid, what) from exc
        msg = f"cannot open ClickHouse store {redact_dsn(dsn)}: {first}"
        raise SinkUnavailable(msg) from exc


def _connect_served(record: ServerRecord, database: str | None) -> Any:
    """A client of a store server on loopback: no compression (nothing to save on loopback), no session ids (the
    server keeps none)."""
    host, _, port = record.url.removeprefix("http://").rpartition(":")
    kwargs: dict[str, Any] = {
        "host": host,
        "port": int(port),
        "username": record.user,
        "password": record.password,
        "compress": False,
        "autogenerate_session_id": False,
    }
    if database:
        kwargs["database"] = database
    try:
        return clickhouse_connect.get_client(**kwargs)
    except (ProgrammingError, OperationalError, DatabaseError, OSError) as exc:
        msg = f"cannot reach the store server at {record.url} (pid {record.pid}): {_reason(exc)}"
        raise SinkUnavailable(msg) from exc


def _reason(exc: BaseException) -> str:
    """The readable cause of a failed connect: the innermost OS error (``Connection refused``, a DNS failure),
    rather than the HTTP pool's wrapper text, which ends cut off; else the first line of the error."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if type(seen).__module__ == "builtins" and isinstance(seen, OSError) and seen.strerror:
            return f"{seen.strerror} (is the ClickHouse server running and the DSN's host and port right?)"
        seen = seen.__cause__ or seen.__context__
    return str(exc).splitlines()[0][:300]


def held_by(path: Path) -> tuple[int | None, str]:
    """Which process holds an embedded store (chdb writes its pid into ``status``): (pid, what it is)."""
    try:
        pid = int((path / "status").read_text().split("PID:", 1)[1].split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except (OSError, ValueError, IndexError):
        return None, "unknown"
    if "flows.run" in cmdline and "archive" in cmdline:
        return pid, "the archive flow"
    if "sinks.server" in cmdline:
        return pid, "the store server"
    if "pulsearb" in cmdline:
        return pid, "a pulsearb command"
    return pid, cmdline[:80]


def redact_dsn(dsn: str) -> str:
    """Hide the password of a DSN for messages and logs."""
    if "@" not in dsn or "://" not in dsn:
        return dsn
    scheme, rest = dsn.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


@contextlib.contextmanager
def session(dsn: str, database: str | None = None, config_file: str | None = None) -> Iterator[Any]:
    """Open a client for the duration of a ``with`` block and always close it (chdb frees its data dir)."""
    client = connect(dsn, database, config_file)
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


def _query(client: Any, sql: str, parameters: dict[str, Any] | None) -> Any:
    try:
        return client.query(sql, parameters=parameters)
    except (OperationalError, OSError) as exc:
        raise SinkUnavailable(str(exc).splitlines()[0]) from exc
    except ClickHouseError as exc:
        raise StoreError(str(exc).splitlines()[0][:500]) from exc


def query_rows(client: Any, sql: str, parameters: dict[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
    """Run a query; return (column names, rows)."""
    result = _query(client, sql, parameters)
    return list(result.column_names), [tuple(r) for r in result.result_rows]


def query_columns(
    client: Any, sql: str, parameters: dict[str, Any] | None = None
) -> tuple[list[str], list[Sequence[Any]]]:
    """Run a query; return (column names, columns): no tuple per row, for readers that go column by column."""
    result = _query(client, sql, parameters)
    return list(result.column_names), list(result.result_columns)


def insert_avro(client: Any, table: str, container: bytes, dedup_token: str | None = None) -> None:
    """Insert an Avro object container (see :mod:`sinks.container`) in one INSERT; ClickHouse decodes it.

    Fields missing from an older writer schema take the column default; ``dedup_token`` makes a retried or
    replayed batch a no-op. Rows of one INSERT that share a natural key are not collapsed on insert
    (``optimize_on_insert = 0``, which halves the insert's cost): like rows replayed by another INSERT, they
    collapse in background merges and under ``FINAL``; materialized views see the same block either way.

    Raises:
        SinkUnavailable: the store could not be reached (retry later).
        StoreError: the insert was rejected (unknown table: run `pulsearb db migrate`; or corrupt data).
    """
    settings: dict[str, Any] = {"input_format_avro_allow_missing_fields": 1, "optimize_on_insert": 0}
    if dedup_token:
        settings["insert_deduplication_token"] = dedup_token
    try:
        client.raw_insert(table, None, container, settings=settings, fmt="Avro")
    except (OperationalError, OSError) as exc:
        raise SinkUnavailable(str(exc).splitlines()[0]) from exc
    except ClickHouseError as exc:
        first = str(exc).splitlines()[0][:500]
        hint = " (run `pulsearb db migrate` on this store)" if "UNKNOWN_TABLE" in str(exc) else ""
        msg = f"insert into {table} failed: {first}{hint}"
        raise StoreError(msg) from exc


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
        msg = f"insert into {table} failed: {str(exc).splitlines()[0][:500]}"
        raise StoreError(msg) from exc
