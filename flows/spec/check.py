"""Validation of a spec document against the schema; problems are located through :class:`Problems`."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from flows.spec.problems import MISSING, Problems, found
from flows.spec.schema import Field


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


class Checker(Problems):
    """Walks a parsed document against the schema, collecting every problem (shown as JSON: :func:`found`)."""

    def check(self, value: Any, f: Field, path: str) -> bool:
        """Check ``value`` against ``f`` (recursively); return whether it is valid."""
        ok_type = isinstance(value, _PY_TYPES[f.type]) and not (isinstance(value, bool) and f.type != "boolean")
        if not ok_type:
            self.add_found(path, _expected(f), found(value))
            return False
        good = True
        if f.enum and value not in f.enum:
            self.add_found(path, _expected(f), found(value))
            good = False
        if f.type in ("integer", "number") and not self._in_range(value, f):
            self.add_found(path, _expected(f), found(value))
            good = False
        if f.pattern and not re.fullmatch(f.pattern, value):
            self.add_found(path, _expected(f), found(value))
            good = False
        if f.type == "array":
            if len(value) < f.min_items or (f.max_items is not None and len(value) > f.max_items):
                self.add_found(path, _expected(f), f"a list of {len(value)}")
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
                what = f"unknown key {json.dumps(str(key))}{hint}"
                self.add_found(f"{prefix}{key}", "one of " + ", ".join(fields), what)
                good = False
            else:
                good &= self.check(sub, f, f"{prefix}{key}")
        for key, f in fields.items():
            if f.required and key not in value:
                self.add_found(f"{prefix}{key}", _expected(f), found(MISSING))
                good = False
        return good


def check_rules(data: dict, c: Problems) -> None:
    """Rules that tie fields together (the JSON Schema checks shapes only); sections of a wrong shape are skipped."""
    window = data.get("window")
    need = {"latest": (), "tumbling": ("length_ms",), "sliding": ("length_ms", "slide_ms"), "session": ("gap_ms",)}
    if isinstance(window, dict) and window.get("type", "latest") in need:
        wtype = window.get("type", "latest")
        for key in ("length_ms", "slide_ms", "gap_ms"):
            if key in need[wtype] and key not in window:
                c.add_found(f"window.{key}", f"a length in ms for a {wtype} window", found(MISSING))
            elif key in window and key not in need[wtype]:
                c.add_found(f"window.{key}", f"no {key} for a {wtype} window", found(window[key]))
    store = data.get("store")
    dsn = store.get("dsn") if isinstance(store, dict) else None
    if isinstance(dsn, str) and re.search(r"//[^/@]*:[^/@]*@", dsn):
        c.add_found("store.dsn", "a DSN without a password (secrets go in PULSEARB_STORE_DSN)", "a DSN with a password")
