"""Where pulsearb finds its own files and keeps its state."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (pulsearb runs from a checkout, installed editable)."""


def state_dir() -> Path:
    """Directory for pid files, logs, the embedded store and recovery snapshots.

    ``$PULSEARB_HOME`` if set, else ``.pulsearb/`` in the repository root.
    """
    return Path(os.environ.get("PULSEARB_HOME") or ROOT / ".pulsearb").resolve()
