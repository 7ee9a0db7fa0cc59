"""flows.risk and the pure parts of flows.execution import none of bytewax, confluent_kafka, web3, clickhouse."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("bytewax", "confluent_kafka", "web3", "clickhouse_connect")
PURE = (
    "flows.risk.engine",
    "flows.risk.limits",
    "flows.risk.state",
    "flows.risk.kill_switch",
    "flows.spec.problems",
    "flows.execution.plan",
    "flows.execution.policy",
    "flows.execution.logs",
    "flows.execution.nonce",
    "flows.execution.ledger",
    "flows.execution.outcome",
    "flows.execution.records",
    "flows.execution.config",
    "flows.execution.errors",
    "flows.execution.signer",
    "flows.execution.abi",
)


def test_pure_modules_import_without_io_frameworks() -> None:
    blocker = "; ".join(f"sys.modules[{name!r}] = None" for name in FORBIDDEN)
    code = f"import sys; {blocker}\n" + "\n".join(f"import {m}" for m in PURE)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
