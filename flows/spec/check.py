"""Validation of a spec document against the schema, with the line of every key (YAML node marks)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from flows.spec.model import SpecProblem
from flows.spec.schema import MISSING, Field


def found(value: Any) -> str:
    """How a found value reads in a problem line: JSON for scalars, its shape for lists and mappings."""
    if value is MISSING:
        return "nothing (the key is missing)"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, str | int | float):
        return json.dumps(value)
    return "a list" if isinstance(value, list) else "a mapping"


def _expected(f: Field) -> str:
    if f.enum:
        return "one of " + ", ".join(json.dumps(v) for v in f.enum)
    if f.expect:
        return f.expect
    base = {
        "string": "a string",
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
        "array": "a list",
        "object": "a mapping",
        "mapping": "a mapping",
    }[f.type]
    if f.type == "array" and f.max_items is not None and f.min_items == f.max_items:
        return f"a list of {f.min_items}"
    if f.minimum is not None and f.maximum is not None:
        return f"{base} from {f.minimum:g} to {f.maximum:g}"
    if f.minimum is not None:
        return f"{base} {'>' if f.exclusive else '>='} {f.minimum:g}"
    return base


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "mapping": (dict,),
}


class Checker:
    """Walks a parsed document against the schema, collecting every problem."""

    def __init__(self, file: str, lines: Mapping[str, int]) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[SpecProblem] = []

    def line(self, path: str) -> int:
        """Line of ``path``, else of its nearest ancestor written in the file."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rsplit(".", 1)[0] if "." in path else ""
        return self.lines.get("", 1)

    def add(self, path: str, expected: str, found: str) -> None:
        """Record a problem at ``path``."""
        self.problems.append(SpecProblem(self.file, self.line(path), path or "(document)", expected, found))

    def check(self, value: Any, f: Field, path: str) -> bool:
        """Check ``value`` against ``f`` (recursively); return whether it is valid."""
        ok_type = isinstance(value, _PY_TYPES[f.type]) and not (isinstance(value, bool) and f.type != "boolean")
        if not ok_type:
            self.add(path, _expected(f), found(value))
            return False
        good = True
        if f.enum and value not in f.enum:
            self.add(path, _expected(f), found(value))
            good = False
        if f.type in ("integer", "number") and not self._in_range(value, f):
            self.add(path, _expected(f), found(value))
            good = False
        if f.pattern and not re.fullmatch(f.pattern, value):
            self.add(path, _expected(f), found(value))
            good = False
        if f.type == "array":
            if len(value) < f.min_items or (f.max_items is not None and len(value) > f.max_items):
                self.add(path, _expected(f), f"a list of {len(value)}")
                good = False
            for i, item in enumerate(value):
                good &= f.items is None or self.check(item, f.items, f"{path}[{i}]")
        if f.type == "mapping" and f.values is not None:
            for k, v in value.items():
                good &= self.check(v, f.values, f"{path}.{k}")
        if f.type == "object" and f.fields is not None:
            good &= self._object(value, f.fields, path)
        return good

    @staticmethod
    def _in_range(value: float, f: Field) -> bool:
        if f.minimum is not None and (value <= f.minimum if f.exclusive else value < f.minimum):
            return False
        return f.maximum is None or value <= f.maximum

    def _object(self, value: dict, fields: Mapping[str, Field], path: str) -> bool:
        good = True
        prefix = f"{path}." if path else ""
        for key, sub in value.items():
            f = fields.get(str(key))
            if f is None:
                close = difflib.get_close_matches(str(key), list(fields), n=1)
                hint = f" (did you mean {json.dumps(close[0])}?)" if close else ""
                self.add(f"{prefix}{key}", "one of " + ", ".join(fields), f"unknown key {json.dumps(str(key))}{hint}")
                good = False
            else:
                good &= self.check(sub, f, f"{prefix}{key}")
        for key, f in fields.items():
            if f.required and key not in value:
                self.add(f"{prefix}{key}", _expected(f), found(MISSING))
                good = False
        return good


def read_yaml(text: str, checker: Checker) -> Any:
    """Parse YAML keeping the line of every key (``checker.lines``); duplicate keys are problems."""
    loader = yaml.SafeLoader(text)
    lines: dict[str, int] = checker.lines  # type: ignore[assignment]
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
                    if not isinstance(key, str | int | float | bool):
                        line = key_node.start_mark.line + 1
                        checker.problems.append(
                            SpecProblem(checker.file, line, path or "(document)", "plain keys", found(key))
                        )
                        continue
                    if key in out:
                        again = f"{json.dumps(str(key))} again (first on line {lines.get(sub, 0)})"
                        line = key_node.start_mark.line + 1
                        checker.problems.append(SpecProblem(checker.file, line, sub, "each key once", again))
                        continue
                    lines.setdefault(sub, key_node.start_mark.line + 1)
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


def check_rules(data: dict, c: Checker) -> None:
    """Rules that tie fields together (the JSON Schema checks shapes only); sections of a wrong shape are skipped."""
    window = data.get("window")
    need = {"latest": (), "tumbling": ("length_ms",), "sliding": ("length_ms", "slide_ms"), "session": ("gap_ms",)}
    if isinstance(window, dict) and window.get("type", "latest") in need:
        wtype = window.get("type", "latest")
        for key in ("length_ms", "slide_ms", "gap_ms"):
            if key in need[wtype] and key not in window:
                c.add(f"window.{key}", f"a length in ms for a {wtype} window", found(MISSING))
            elif key in window and key not in need[wtype]:
                c.add(f"window.{key}", f"no {key} for a {wtype} window", found(window[key]))
    store = data.get("store")
    dsn = store.get("dsn") if isinstance(store, dict) else None
    if isinstance(dsn, str) and re.search(r"//[^/@]*:[^/@]*@", dsn):
        c.add("store.dsn", "a DSN without a password (secrets go in PULSEARB_STORE_DSN)", "a DSN with a password")
