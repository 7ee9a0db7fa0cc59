"""flows.amm stays pure: exact integers only (no float, no true division) and no I/O framework imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import flows.amm

AMM_DIR = Path(flows.amm.__file__).parent
SOURCES = sorted(AMM_DIR.rglob("*.py"))
FORBIDDEN_IMPORTS = ("bytewax", "confluent_kafka", "web3", "clickhouse_connect")


def test_sources_found() -> None:
    names = {p.relative_to(AMM_DIR).as_posix() for p in SOURCES}
    assert {"v2.py", "cycle.py", "profit.py", "mixed.py", "v3/pool.py", "v3/tick_math.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(AMM_DIR).as_posix())
def test_no_float_anywhere(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    problems = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, float | complex):
            problems.append(f"{where}: float literal {node.value!r}")
        elif isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.Div):
            problems.append(f"{where}: true division '/' makes a float; use '//'")
        elif isinstance(node, ast.Name) and node.id == "float":
            problems.append(f"{where}: float()")
        elif isinstance(node, ast.ImportFrom) and node.module in {"math", "decimal", "fractions", "statistics"}:
            names = {a.name for a in node.names}
            if node.module != "math" or names - {"isqrt"}:
                problems.append(f"{where}: from {node.module} import {', '.join(sorted(names))}")
        elif isinstance(node, ast.Import) and any(a.name in {"math", "decimal", "fractions"} for a in node.names):
            problems.append(f"{where}: import of a float/decimal module")
    assert not problems, "\n".join(problems)


def test_imports_without_io_frameworks() -> None:
    blocker = "; ".join(f"sys.modules[{name!r}] = None" for name in FORBIDDEN_IMPORTS)
    modules = sorted(
        "flows.amm." + p.relative_to(AMM_DIR).with_suffix("").as_posix().replace("/", ".")
        for p in SOURCES
        if p.name != "__init__.py"
    )
    code = f"import sys; {blocker}\n" + "\n".join(f"import {m}" for m in modules)
    code += f"\nassert not [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN_IMPORTS!r} and sys.modules[m]]"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
