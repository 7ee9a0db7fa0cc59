"""The end-of-run report counts one run: rows archived since it started, in a store that keeps earlier runs."""

from __future__ import annotations

import time
from pathlib import Path

from ops.simulator.report import collect
from sinks.clickhouse import connect, session
from sinks.migrate import migrate
from sinks.writer import ArchiveWriter
from tests.sinks.records import T0, encode, execution


def _archive(dsn: str, first: int, n: int) -> None:
    recs = [execution(f"o{i}", T0 + i * 10**9, 10**15 * i) for i in range(first, first + n)]
    writer = ArchiveWriter(lambda: connect(dsn))
    writer.add_many("arb.execution", 0, list(enumerate(encode("arb.execution", recs), start=first)))
    writer.close()


def test_a_run_reports_only_what_it_archived(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 'store'}"
    with session(dsn) as client:
        migrate(client)
    _archive(dsn, 0, 3)  # an earlier run
    time.sleep(0.05)  # archived_at has millisecond resolution
    started = time.time_ns()
    _archive(dsn, 3, 2)
    this_run, everything = collect(dsn, since_ns=started), collect(dsn)
    assert (this_run.rows["arb_execution"], everything.rows["arb_execution"]) == (2, 5)
    assert (this_run.mined, everything.mined) == (2, 5)
    assert this_run.pnl[0].realized == 10**15 * (3 + 4)
    assert collect(dsn, since_ns=time.time_ns() + 10**12).rows["arb_execution"] == 0
