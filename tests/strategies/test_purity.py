"""Strategies, pool state and the opportunity record stay pure: no Kafka, Bytewax, web3 or ClickHouse import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import flows.state
import flows.strategies

BLOCKED = ("bytewax", "confluent_kafka", "web3", "clickhouse_connect")


def test_domain_modules_import_without_io_frameworks() -> None:
    modules = ["flows.pools", "flows.opportunity"]
    for package in (flows.state, flows.strategies):
        base = Path(package.__file__).parent
        modules += [f"{package.__name__}.{p.stem}" for p in sorted(base.glob("*.py")) if p.stem != "__init__"]
    code = f"import sys\nfor name in {BLOCKED!r}: sys.modules[name] = None\n"
    code += "\n".join(f"import {m}" for m in modules)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert len(modules) >= 12
