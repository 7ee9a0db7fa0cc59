"""Located problems: the one way a spec, or any section of it, reports what is wrong.

Every check of a flow spec (the schema walk of the whole document, strategy parameters, risk limits, execution and
collector settings, a builder's own rules) adds its findings to a :class:`Problems` bound to the spec's file and
line table, and every finding becomes one :class:`~flows.spec.model.SpecProblem` line::

    flows/specs/risk_execution.yaml:23: risk.limits.max_gas_price_wei: expected an integer >= 1, got 'abc'

The line is that of the field in the YAML file, else of its nearest parent written there (a key added by
``--set``, a list item inside a flow mapping). Nothing stops at the first problem: a section parser reads on with a
default in place of each bad value and the caller raises :class:`~flows.spec.model.SpecError` with all of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from flows.spec.model import FlowSpec, SpecError, SpecProblem, display_path, line_in

ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
FieldPath = str | tuple[str, ...]
"""A field's path: dotted (``risk.limits.max_notional``) or as its keys (``("risk", "limits", "max_notional")``)."""


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


MISSING: Any = _Missing()
"""Stands for an absent key (a field without a default, a required key that is not there); shown as ``nothing``."""


def dotted(field: FieldPath) -> str:
    """A field path as one dotted string."""
    return field if isinstance(field, str) else ".".join(field)


def found(value: Any) -> str:
    """How the schema check shows a value it rejects: JSON for scalars (``"0.1"``, ``true``), the shape of lists and
    mappings. Section parsers show Python's repr instead (``'abc'``, ``1500.0``; :meth:`Problems.add`)."""
    if value is MISSING:
        return "nothing (the key is missing)"
    if isinstance(value, bool | str | int | float) or value is None:
        return json.dumps(value)
    return "a list" if isinstance(value, list | tuple) else "a mapping"


class Problems:
    """Collects every problem of a spec or of one of its sections, each located by file and line.

    Args:
        file: the spec file (shown as the user wrote it, see :func:`~flows.spec.model.display_path`); None for a
            section built in code, whose problems then name only the field.
        lines: field path -> 1-based line (:attr:`FlowSpec.lines <flows.spec.model.FlowSpec.lines>`, or
            :func:`yaml_lines`); unknown fields take the line of their nearest known parent.
    """

    def __init__(self, file: Path | str | None = None, lines: Mapping[str, int] | None = None) -> None:
        self.file = display_path(file) if isinstance(file, Path) else (file or "")
        self.lines: Mapping[str, int] = {} if lines is None else lines
        self.details: list[SpecProblem] = []

    @classmethod
    def of(cls, spec: FlowSpec) -> Problems:
        """A collector for the sections of a loaded spec (its file, and the lines the loader recorded)."""
        return cls(spec.path, spec.lines)

    def line(self, field: FieldPath) -> int:
        """Line of ``field``, else of its nearest parent written in the file (0: unknown)."""
        return line_in(self.lines, dotted(field), self.lines.get("", 0))

    def add(self, field: FieldPath, expected: str, value: Any) -> None:
        """Record ``field: expected EXPECTED, got VALUE`` (the value's repr; ``nothing`` for ``MISSING``)."""
        self.add_found(field, expected, repr(value))

    def add_found(self, field: FieldPath, expected: str, found: str) -> None:
        """Record ``field: expected EXPECTED, got FOUND`` with ``found`` already written out."""
        path = dotted(field) or "(document)"
        self.details.append(SpecProblem(self.file, self.line(field), path, expected, found))

    def note(self, field: FieldPath, text: str) -> None:
        """Record a problem said in free text (``field: TEXT``), for what is not a wrong value."""
        path = dotted(field) or "(document)"
        self.details.append(SpecProblem(self.file, self.line(field), path, "", "", note=text))

    def unknown_keys(
        self, field: FieldPath, data: Mapping[Any, Any], allowed: Iterable[str], noun: str = "key"
    ) -> None:
        """Record every key of ``data`` that is not in ``allowed`` (``field.KEY: unknown key; expected one of ...``)."""
        names = sorted(allowed)
        prefix = dotted(field)
        for key in data:
            if key not in names:
                where = f"{prefix}.{key}" if prefix else str(key)
                self.note(where, f"unknown {noun}; expected one of {', '.join(names)}")

    def extend(self, problems: Iterable[SpecProblem]) -> None:
        """Add problems found elsewhere (already located)."""
        self.details.extend(problems)

    @property
    def items(self) -> list[str]:
        """Every problem as its one-line message, in the order found."""
        return [str(p) for p in self.details]

    def raise_any(self) -> None:
        """Raise every problem recorded so far, in file order, as one :class:`SpecError` (nothing when none)."""
        if self.details:
            raise SpecError(sorted(self.details, key=lambda p: p.line))

    def __bool__(self) -> bool:
        return bool(self.details)


def read_yaml(text: str, problems: Problems) -> Any:
    """Parse YAML, recording the line of every key and list item in ``problems.lines``; duplicate keys are problems.

    Raises:
        yaml.YAMLError: the text is not YAML (the caller reports it with the mark's line).
    """
    loader = yaml.SafeLoader(text)
    lines: dict[str, int] = problems.lines  # type: ignore[assignment]
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        lines[""] = node.start_mark.line + 1

        def walk(n: yaml.Node, path: str) -> Any:
            if isinstance(n, yaml.MappingNode):
                loader.flatten_mapping(n)
                out: dict[Any, Any] = {}
                for key_node, value_node in n.value:
                    key = loader.construct_object(key_node, deep=True)
                    sub = f"{path}.{key}" if path else str(key)
                    line = key_node.start_mark.line + 1
                    if not isinstance(key, str | int | float | bool):
                        where = path or "(document)"
                        problems.details.append(SpecProblem(problems.file, line, where, "plain keys", found(key)))
                        continue
                    if key in out:
                        again = f"{json.dumps(str(key))} again (first on line {lines.get(sub, 0)})"
                        problems.details.append(SpecProblem(problems.file, line, sub, "each key once", again))
                        continue
                    lines.setdefault(sub, line)
                    out[key] = walk(value_node, sub)
                return out
            if isinstance(n, yaml.SequenceNode):
                items = []
                for i, child in enumerate(n.value):
                    lines.setdefault(f"{path}[{i}]", child.start_mark.line + 1)
                    items.append(walk(child, f"{path}[{i}]"))
                return items
            return loader.construct_object(n, deep=True)

        return walk(node, "")
    finally:
        loader.dispose()


def yaml_lines(path: Path) -> dict[str, int]:
    """The line table of a YAML file, as the spec loader records it (empty when it cannot be read or parsed).

    For a section read from a file that is not a whole spec; a loaded spec has its table in ``spec.lines``.
    """
    problems = Problems(path, {})
    try:
        read_yaml(path.read_text(), problems)
    except (OSError, yaml.YAMLError):
        return {}
    return dict(problems.lines)


def integer(
    problems: Problems,
    field: FieldPath,
    value: Any,
    *,
    minimum: int = 0,
    maximum: int | None = None,
    default: int | None = None,
) -> int:
    """Return ``value`` as an int within bounds, or record a problem and return the default (else the minimum).

    Booleans and floats are rejected: amounts are exact integers (a YAML ``1e18`` is a float and would round).
    ``MISSING`` takes ``default``, and is a problem when there is none.
    """
    if value is MISSING and default is not None:
        return default
    out_of_range = isinstance(value, int) and (value < minimum or (maximum is not None and value > maximum))
    if isinstance(value, bool) or not isinstance(value, int) or out_of_range:
        problems.add(field, _describe(minimum, maximum), value)
        return minimum
    return value


def number(problems: Problems, field: FieldPath, value: Any, *, minimum: float, default: float) -> float:
    """Return a number (int or float) of at least ``minimum`` as a float, or record a problem (absent: ``default``)."""
    if value is MISSING:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        problems.add(field, f"a number >= {minimum}", value)
        return default
    return float(value)


def address(problems: Problems, field: FieldPath, value: Any, *, allow_empty: bool = False) -> str:
    """Return a lower-case 0x address, or record a problem and return ''."""
    if allow_empty and value in (MISSING, "", None):
        return ""
    if not isinstance(value, str) or not ADDRESS_RE.match(value):
        problems.add(field, "a 0x-prefixed 20-byte hex address", value)
        return ""
    return value.lower()


def choice(
    problems: Problems, field: FieldPath, value: Any, options: Iterable[Any], *, default: Any, expected: str = ""
) -> Any:
    """Return ``value`` when it is one of ``options``, else record a problem and return ``default``."""
    allowed = list(options)
    if value not in allowed:
        problems.add(field, expected or "one of " + ", ".join(map(str, allowed)), value)
        return default
    return value


def _describe(minimum: int, maximum: int | None) -> str:
    if maximum is None:
        return f"an integer >= {minimum}"
    return f"an integer in [{minimum}, {maximum}]"
