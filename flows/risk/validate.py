"""Validation of YAML configuration sections, reporting every problem as one line with its file and line.

A line reads ``FILE:LINE: risk.limits.max_gas_price_wei: expected an integer >= 0, got 'abc'``. The line numbers
come from re-composing the YAML file (PyYAML keeps node marks), so a problem points at the key that holds it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


def yaml_lines(path: Path | None) -> dict[tuple[str, ...], int]:
    """Map every mapping-key path of a YAML file to its 1-based line (empty if the file cannot be read)."""
    if path is None:
        return {}
    try:
        root = yaml.compose(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: Any, prefix: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = str(key.value)
                lines[(*prefix, name)] = key.start_mark.line + 1
                walk(value, (*prefix, name))

    walk(root, ())
    return lines


class Problems:
    """Collects configuration problems as one-line messages.

    Args:
        path: the file being validated (named in every message).
        lines: key path -> line, from :func:`yaml_lines`.
    """

    def __init__(self, path: Path | None, lines: Mapping[tuple[str, ...], int] | None = None) -> None:
        self.path = path
        self.lines = dict(lines or {})
        self.items: list[str] = []

    def where(self, field: tuple[str, ...]) -> str:
        """``FILE:LINE`` of the deepest known key of ``field`` (the file alone if unknown)."""
        name = str(self.path) if self.path is not None else "<config>"
        for n in range(len(field), 0, -1):
            line = self.lines.get(field[:n])
            if line is not None:
                return f"{name}:{line}"
        return name

    def add(self, field: tuple[str, ...], expected: str, found: Any) -> None:
        """Record ``field: expected EXPECTED, got FOUND``."""
        shown = "nothing" if found is _MISSING else repr(found)
        self.items.append(f"{self.where(field)}: {'.'.join(field)}: expected {expected}, got {shown}")

    def unknown_keys(self, field: tuple[str, ...], data: Mapping[str, Any], allowed: set[str]) -> None:
        """Record every key of ``data`` that is not in ``allowed``."""
        for key in data:
            if key not in allowed:
                self.items.append(
                    f"{self.where((*field, str(key)))}: {'.'.join((*field, str(key)))}: unknown key; "
                    f"expected one of {', '.join(sorted(allowed))}"
                )

    def __bool__(self) -> bool:
        return bool(self.items)


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


_MISSING: Any = _Missing()
MISSING: Any = _MISSING
"""Sentinel for a required key that is absent."""


def integer(
    problems: Problems,
    field: tuple[str, ...],
    value: Any,
    *,
    minimum: int = 0,
    maximum: int | None = None,
    default: int | None = None,
) -> int:
    """Return ``value`` as an int within bounds, or record a problem and return the default/minimum.

    Booleans and floats are rejected: amounts are exact integers (a YAML ``1e18`` is a float and would round).
    """
    if value is _MISSING:
        if default is not None:
            return default
        problems.add(field, _describe(minimum, maximum), value)
        return minimum
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        problems.add(field, _describe(minimum, maximum), value)
        return minimum
    return value


def number(problems: Problems, field: tuple[str, ...], value: Any, *, minimum: float, default: float) -> float:
    """Return a positive number (int or float) or record a problem."""
    if value is _MISSING:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        problems.add(field, f"a number >= {minimum}", value)
        return default
    return float(value)


def address(problems: Problems, field: tuple[str, ...], value: Any, *, allow_empty: bool = False) -> str:
    """Return a lower-case 0x address, or record a problem and return ''."""
    if allow_empty and value in (_MISSING, "", None):
        return ""
    if not isinstance(value, str) or not ADDRESS_RE.match(value):
        problems.add(field, "a 0x-prefixed 20-byte hex address", value)
        return ""
    return value.lower()


def _describe(minimum: int, maximum: int | None) -> str:
    if maximum is None:
        return f"an integer >= {minimum}"
    return f"an integer in [{minimum}, {maximum}]"
