"""The bridge's routing and the signal builder are pure: they import without Bytewax, Kafka, web3 or ClickHouse."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN_IMPORTS = ("bytewax", "confluent_kafka", "web3", "clickhouse_connect")


def test_bridge_and_signals_import_without_io_frameworks() -> None:
    blocker = "; ".join(f"sys.modules[{name!r}] = None" for name in FORBIDDEN_IMPORTS)
    code = f"import sys; {blocker}; import flows.bridge, flows.signals, flows.deadletter"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
