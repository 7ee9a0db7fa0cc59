"""Bytewax recovery partitions: created once, each in the directory of the process that owns it.

A flow of N processes has a recovery store of N partitions (``part-<i>.sqlite3``, Bytewax's ``init_db_dir``);
partition i lives in process i's own directory (a StatefulSet volume, or ``recovery/process-<i>/`` under
``flows deploy``), since Bytewax only needs the cluster as a whole to reach every partition. ``flows deploy``
creates every partition of a flow up front (ops/control/plan.py); a process started on its own (``python -m
flows.run --recovery-dir``) creates just its own.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from bytewax.recovery import init_db_dir


def init_partitions(partitions: int, directories: Mapping[int, Path]) -> None:
    """Create partitions of a recovery store of ``partitions``: partition i in ``directories[i]``.

    The store is made whole in a temporary directory beside the first partition's, then each wanted partition is
    moved into its directory (created if missing); the others are discarded.

    Args:
        partitions: how many partitions the store has (the flow's process count).
        directories: partition index -> the directory it goes to (every index, or only this process's).
    """
    if not directories:
        return
    for directory in directories.values():
        directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=next(iter(directories.values()))) as tmp:
        init_db_dir(Path(tmp), partitions)
        for i, directory in directories.items():
            for part in Path(tmp).glob(f"part-{i}.*"):
                shutil.move(str(part), directory / part.name)


__all__ = ["init_partitions"]
