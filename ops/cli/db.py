"""``pulsearb db migrate|backup|restore|status``: the ClickHouse store (embedded chdb by default, or --dsn)."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from base.errors import PulsearbError


def default_store_dsn() -> str:
    """``$PULSEARB_STORE_DSN``, else the local stack's embedded store."""
    from base.paths import state_dir
    from sinks.clickhouse import default_dsn

    return os.environ.get("PULSEARB_STORE_DSN") or default_dsn(state_dir())


def add_dsn(p: argparse.ArgumentParser) -> None:
    """The --dsn and --database options every store command shares."""
    p.add_argument(
        "--dsn",
        default=None,
        help="store: chdb:///PATH[?config_file=FILE] or http(s)://USER:PASS@HOST:PORT "
        "(default $PULSEARB_STORE_DSN, else the local stack's embedded store)",
    )
    p.add_argument("--database", default="pulsearb", help="database (default pulsearb)")


def register(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    """Add the ``db`` group."""
    p = sub.add_parser(name, help=help_text, description=help_text)
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    m = verbs.add_parser(
        "migrate",
        help="apply schemas/clickhouse migrations in order and the retention policy",
        description="Apply pending schemas/clickhouse/NNN_name.sql migrations (each once, recorded with its sha256) "
        "and the retention policy. Without retention options the recorded policy is kept (90 days on a new store).",
    )
    add_dsn(m)
    m.add_argument("--retention-days", type=int, default=None, help="delete rows this many days after archiving")
    m.add_argument("--move-after-days", type=int, default=None, help="move rows to --volume after this many days")
    m.add_argument("--volume", default=None, help="storage-policy volume for cold rows (server or configured chdb)")
    m.add_argument("--storage-policy", default=None, help="switch tables to this storage policy first")
    m.set_defaults(func=_migrate)
    b = verbs.add_parser("backup", help="BACKUP DATABASE to DIR (ClickHouse's own backup format)")
    b.add_argument("dir", type=Path, help="new directory (for a server: a path on the server, or use --disk)")
    b.add_argument("--disk", default=None, help="write to Disk(DISK, DIR) on the server instead of File(DIR)")
    add_dsn(b)
    b.set_defaults(func=_backup)
    r = verbs.add_parser("restore", help="RESTORE DATABASE from DIR into a store that does not have it")
    r.add_argument("dir", type=Path, help="a directory `db backup` wrote")
    r.add_argument("--as", dest="as_database", default=None, help="restore under another database name")
    r.add_argument("--disk", default=None, help="read from Disk(DISK, DIR) on the server instead of File(DIR)")
    add_dsn(r)
    r.set_defaults(func=_restore)
    s = verbs.add_parser("status", help="applied migrations, retention policy and rows per table")
    add_dsn(s)
    s.set_defaults(func=_status)
    v = verbs.add_parser(
        "serve",
        help="own an embedded store and serve ClickHouse's HTTP interface on loopback (foreground)",
        description="Own the embedded store and serve ClickHouse's HTTP interface on 127.0.0.1 until Ctrl-C, so "
        "flows, `pulsearb history` and any ClickHouse client share it (`pulsearb stack up` and `pulsearb up` run "
        "this for the local stack). Every chdb:// DSN of the store goes through the server while it runs.",
    )
    v.add_argument("--port", type=int, default=None, help="loopback port (default $PULSEARB_STORE_PORT, else 8123 "
                   "when free, else any free port)")  # fmt: skip
    add_dsn(v)
    v.set_defaults(func=_serve)


def _dsn(args: argparse.Namespace) -> str:
    return args.dsn or default_store_dsn()


@contextlib.contextmanager
def open_store(dsn: str, command: str) -> Iterator[Any]:
    """A client on the store, closed afterwards; a busy embedded store ends in one line saying how to proceed."""
    from sinks.clickhouse import StoreBusy, connect

    try:
        client = connect(dsn)
    except StoreBusy as exc:
        raise PulsearbError(busy_line(exc, command)) from exc
    try:
        yield client
    finally:
        client.close()


def busy_line(exc: object, command: str) -> str:
    """One line saying who holds the embedded store and how to proceed."""
    path = getattr(exc, "path", "?")
    return (
        f"{exc}; serve the store so every process can use it (start its writer after `pulsearb stack up` or "
        f"`pulsearb db serve`), stop that process first, or run on a copy: "
        f"cp -r {path} /tmp/pulsearb-store-copy && {command} --dsn chdb:///tmp/pulsearb-store-copy"
    )


def _migrate(args: argparse.Namespace) -> int:
    from sinks import retention
    from sinks.migrate import migrate
    from sinks.retention import RetentionPolicy

    dsn = _dsn(args)
    policy = None
    if args.retention_days is not None or args.volume is not None or args.storage_policy is not None:
        with open_store(dsn, "pulsearb db migrate") as client:
            recorded = retention.current(client, args.database) or RetentionPolicy()
        policy = RetentionPolicy(
            args.retention_days if args.retention_days is not None else recorded.days,
            args.move_after_days,
            args.volume,
            args.storage_policy,
        )
    with open_store(dsn, "pulsearb db migrate") as client:
        applied = migrate(client, args.database, retention=policy)
        now = retention.current(client, args.database)
    for m in applied:
        print(f"applied {m.version:03d}_{m.name}.sql")
    if not applied:
        print(f"{args.database}: up to date")
    if now is not None:
        print(f"retention: {now.describe()}")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from sinks.backup import backup
    from sinks.clickhouse import StoreBusy

    try:
        sums = backup(_dsn(args), args.dir, args.database, args.disk)
    except StoreBusy as exc:
        raise PulsearbError(busy_line(exc, f"pulsearb db backup {args.dir}")) from exc
    total = sum(s.rows for s in sums.values())
    print(f"backed up {args.database}: {len(sums)} tables, {total} rows -> {args.dir}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from sinks.backup import restore
    from sinks.clickhouse import StoreBusy

    try:
        sums = restore(_dsn(args), args.dir, args.database, args.as_database, args.disk)
    except StoreBusy as exc:
        raise PulsearbError(busy_line(exc, f"pulsearb db restore {args.dir}")) from exc
    total = sum(s.rows for s in sums.values())
    print(f"restored {args.as_database or args.database}: {len(sums)} tables, {total} rows from {args.dir}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sinks import retention
    from sinks.backup import table_sums
    from sinks.clickhouse import query_rows

    with open_store(_dsn(args), "pulsearb db status") as client:
        _, migs = query_rows(
            client, f"SELECT version, name, applied_at FROM {args.database}.schema_migrations ORDER BY version"
        )
        policy = retention.current(client, args.database)
        sums = table_sums(client, args.database)
    t = Table(title=f"{args.database}: migrations")
    for col in ("version", "name", "applied at"):
        t.add_column(col)
    for v, n, at in migs:
        t.add_row(f"{int(v):03d}", str(n), str(at))
    console = Console()
    console.print(t)
    rows = Table(title="rows per table (physical, before FINAL)")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for table, s in sums.items():
        rows.add_row(table, str(s.rows))
    console.print(rows)
    console.print(f"retention: {policy.describe() if policy else 'none recorded (run pulsearb db migrate)'}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import signal
    import threading

    from ops.simulator.stack.store import preferred_port
    from sinks.clickhouse import chdb_path, held_by, served, split_chdb_dsn
    from sinks.server import EngineError, serving

    dsn = _dsn(args)
    path = chdb_path(dsn)
    if path is None:
        msg = f"db serve serves an embedded store: --dsn chdb:///PATH, got {dsn.split('://', 1)[0]}://..."
        raise PulsearbError(msg)
    record = served(dsn)
    if record is not None:
        msg = f"{path} is already served at {record.url} by process {record.pid}"
        raise PulsearbError(msg)
    holder, what = held_by(path)
    if holder is not None and holder != os.getpid():
        msg = f"cannot serve the store {path}: process {holder} ({what}) owns it: stop it first"
        raise PulsearbError(msg)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    port = args.port if args.port is not None else preferred_port()
    try:
        with serving(path, port, split_chdb_dsn(dsn)[1]) as server:
            print(f"serving {path} at {server.url} (user default; password $PULSEARB_STORE_PASSWORD or in "
                  f"{path}/pulsearb-server.json); Ctrl-C stops", flush=True)  # fmt: skip
            stop.wait()
    except EngineError as exc:
        pid, what = held_by(path)
        who = f"process {pid} ({what}) owns it: stop it first" if pid else str(exc).splitlines()[0][:300]
        msg = f"cannot serve the store {path}: {who}"
        raise PulsearbError(msg) from exc
    except OSError as exc:
        msg = f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}; pick another --port"
        raise PulsearbError(msg) from exc
    print("stopped")
    return 0
