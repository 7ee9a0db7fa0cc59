"""Recovery partitions are created by one function (flows/connectors/recovery.py) for `flows deploy` and `flows.run`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from flows.connectors.recovery import init_partitions


def _partition(path: Path) -> tuple[int, int]:
    """(index, count) Bytewax wrote into a partition file."""
    with sqlite3.connect(path) as db:
        return db.execute("SELECT part_index, part_count FROM parts").fetchone()


def test_every_partition_goes_to_its_own_directory(tmp_path: Path) -> None:
    dirs = {i: tmp_path / f"process-{i}" for i in range(3)}
    init_partitions(3, dirs)
    assert {i: sorted(p.name for p in d.iterdir()) for i, d in dirs.items()} == {
        0: ["part-0.sqlite3"],
        1: ["part-1.sqlite3"],
        2: ["part-2.sqlite3"],
    }
    assert [_partition(d / f"part-{i}.sqlite3") for i, d in dirs.items()] == [(0, 3), (1, 3), (2, 3)]


def test_a_process_started_alone_creates_only_its_own_partition(tmp_path: Path) -> None:
    mine = tmp_path / "volume"  # a StatefulSet volume: nothing else is written there
    init_partitions(4, {2: mine})
    assert sorted(p.name for p in mine.iterdir()) == ["part-2.sqlite3"]
    assert _partition(mine / "part-2.sqlite3") == (2, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["volume"]
