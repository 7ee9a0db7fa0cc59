"""Hold an embedded store for a while, as a running archive flow would: ``python -m tests.sinks.holder PATH S``."""

from __future__ import annotations

import sys
import time

from sinks.clickhouse import session

if __name__ == "__main__":
    with session(f"chdb://{sys.argv[1]}"):
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
