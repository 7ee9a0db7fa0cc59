"""BACKUP/RESTORE round trip: an empty store gets back every table with the same rows and checksums."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.cli import main
from sinks.backup import BackupError, backup, restore
from sinks.clickhouse import connect
from sinks.writer import ArchiveWriter
from tests.sinks.records import T0, encode, execution, pool_sync


def test_backup_restores_into_an_empty_store_with_equal_checksums(store: str, tmp_path: Path, capsys) -> None:
    w = ArchiveWriter(lambda: connect(store))
    w.add_many("market.pool_sync", 0, list(enumerate(encode("market.pool_sync", [pool_sync(i) for i in range(40)]))))
    w.add_many(
        "arb.execution", 1, list(enumerate(encode("arb.execution", [execution("a", T0, 5), execution("b", T0, 7)])))
    )
    w.close()
    sums = backup(store, tmp_path / "bk")
    assert sums["market_pool_sync"].rows == 40 and sums["pnl_by_opportunity"].rows == 2
    empty = f"chdb://{tmp_path / 'empty'}"
    restored = restore(empty, tmp_path / "bk")
    assert restored == sums
    with pytest.raises(BackupError, match="already exists in this store"):
        restore(empty, tmp_path / "bk")
    # The CLI does the same, in one line each.
    assert main(["db", "backup", str(tmp_path / "bk2"), "--dsn", store]) == 0
    assert main(["db", "restore", str(tmp_path / "bk2"), "--dsn", f"chdb://{tmp_path / 'empty2'}"]) == 0
    assert main(["db", "backup", str(tmp_path / "bk2"), "--dsn", store]) == 1  # not empty: refused
    out, err = capsys.readouterr()
    assert "backed up pulsearb" in out and "restored pulsearb" in out and "is not empty" in err
