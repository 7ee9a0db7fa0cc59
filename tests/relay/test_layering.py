"""flows.relay stays pure of the pipeline's heavy I/O libraries (DESIGN: domain logic imports none of them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import flows.relay

BLOCKED = ("confluent_kafka", "bytewax", "web3", "clickhouse_connect")


def test_relay_imports_without_kafka_bytewax_web3_clickhouse() -> None:
    modules = sorted(p.stem for p in Path(flows.relay.__file__).parent.glob("*.py") if p.stem != "__init__")
    code = (
        "import sys\n"
        f"for name in {BLOCKED!r}: sys.modules[name] = None\n"
        f"for m in {modules!r}: __import__('flows.relay.' + m)\n"
        "import ops.cli.relay\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert len(modules) >= 10
