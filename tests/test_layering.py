"""Every import points down the layers: ops -> flows -> sinks -> schemas -> base (docs/architecture.md, "Layers").

A module may import its own package and any package below it, never one above. The check reads every import
statement (module level and inside functions, ``TYPE_CHECKING`` blocks included) of every source file, so an
upward import fails here before it can make two packages depend on each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("base", "schemas", "sinks", "flows", "ops")  # bottom first
RANK = {name: i for i, name in enumerate(LAYERS)}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def upward_imports(root: Path = ROOT) -> list[str]:
    """``path:line: layer imports higher`` for every import that points up."""
    problems = []
    for layer in LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            for line, module in _imports(path):
                top = module.split(".")[0]
                if top in RANK and RANK[top] > RANK[layer]:
                    problems.append(f"{path.relative_to(root)}:{line}: {layer} imports {module} ({top} is above)")
    return problems


def test_every_import_points_down() -> None:
    problems = upward_imports()
    assert not problems, "\n".join(problems)


def test_the_check_fails_on_an_upward_import(tmp_path: Path) -> None:
    for layer in LAYERS:
        (tmp_path / layer).mkdir()
    (tmp_path / "sinks" / "bad.py").write_text("from flows.errors import PulsearbError\n")
    (tmp_path / "flows" / "fine.py").write_text("import sinks.writer\nfrom base.errors import PulsearbError\n")
    (tmp_path / "base" / "late.py").write_text("def f():\n    import ops.paths\n")
    assert upward_imports(tmp_path) == [
        "base/late.py:2: base imports ops.paths (ops is above)",
        "sinks/bad.py:1: sinks imports flows.errors (flows is above)",
    ]


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_is_a_package(layer: str) -> None:
    assert (ROOT / layer / "__init__.py").is_file()
