"""Reading spec files: parse, validate (every problem), build the frozen :class:`FlowSpec`."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from flows.spec.check import Checker, check_rules
from flows.spec.model import (
    SPECS_DIR,
    Clock,
    FlowSpec,
    Inputs,
    Join,
    Observability,
    Recovery,
    Resources,
    SpecError,
    SpecProblem,
    Strategy,
    Window,
    display_path,
)
from flows.spec.problems import MISSING, found, read_yaml
from flows.spec.schema import SCHEMA, TOP


def _build(data: dict, path: Path, digest: str, lines: Mapping[str, int]) -> FlowSpec:
    def section(name: str) -> dict:
        defaults = {k: f.default for k, f in SCHEMA[name].fields.items() if f.default is not MISSING}  # type: ignore[union-attr]
        return {**defaults, **(data.get(name) or {})}

    inputs, join, strategy = section("inputs"), section("join"), section("strategy")
    return FlowSpec(
        name=data["name"],
        kind=data["kind"],
        path=path,
        version=data["version"],
        description=data.get("description", ""),
        inputs=Inputs(
            topics=tuple(inputs["topics"]),
            key=inputs["key"],
            start_offset=inputs["start_offset"],
            relay_socket=inputs["relay_socket"],
        ),
        clock=Clock(**section("clock")),
        window=Window(**section("window")),
        join=Join(
            by=join["by"],
            pairs=tuple(tuple(sorted(t.lower() for t in p)) for p in join["pairs"]),  # type: ignore[misc]
            tokens=tuple(t.lower() for t in join["tokens"]),
            venues=tuple(join["venues"]),
        ),
        outputs={k: v for k, v in (data.get("outputs") or {}).items() if v},
        strategy=Strategy(name=strategy["name"], params=dict(strategy["params"])),
        risk=dict(data.get("risk") or {}),
        collector=dict(data.get("collector") or {}),
        store=dict(data.get("store") or {}),
        resources=Resources(**section("resources")),
        recovery=Recovery(**section("recovery")),
        observability=Observability(**section("observability")),
        sha256=digest,
        lines=dict(lines),
    )


def _override(data: dict, text: str, checker: Checker) -> str | None:
    """Apply one ``PATH=VALUE`` override to the parsed document; return its path, or None (a problem recorded).

    ``PATH`` is dot-separated keys (``strategy.params.min_net_profit``), created where missing; ``VALUE`` is read
    as YAML (``5``, ``true``, ``[a, b]``, ``{k: v}``), so it is checked like the same value written in the file.
    """
    key_path, eq, raw = text.partition("=")
    keys = key_path.strip().split(".")
    if not eq or not all(k.strip() for k in keys):
        expected = "PATH=VALUE, PATH dot-separated keys (strategy.params.min_net_profit=5)"
        checker.details.append(SpecProblem(checker.file, 0, "--set", expected, repr(text)))
        return None
    key_path = ".".join(k.strip() for k in keys)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        checker.add_found(key_path, "a YAML value", f"{raw!r}, {what} (--set {text})")
        return None
    node: Any = data
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key.strip())
        if child is None:
            child = node[key.strip()] = {}
        if not isinstance(child, dict):
            where = ".".join(k.strip() for k in keys[: depth + 1])
            checker.add_found(where, f"a mapping to set {key_path} in", f"{found(child)} (--set {text})")
            return None
        node = child
    node[keys[-1].strip()] = value
    return key_path


def parse_spec(text: str, path: Path, overrides: Sequence[str] = ()) -> tuple[FlowSpec | None, list[SpecProblem]]:
    """Validate spec text; return the spec (None when there are problems) and every problem found.

    Args:
        text: the spec file's text.
        path: where it was read from (problems name it).
        overrides: ``PATH=VALUE`` changes applied before validation, in order (``pulsearb backtest --set``); a
            problem one causes keeps the line of the key in the file (else of its nearest parent) and names the
            override.
    """
    checker = Checker(path, {})
    try:
        data = read_yaml(text, checker)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [SpecProblem(checker.file, line, "(document)", "valid YAML", f"a syntax error: {what}")]
    if not isinstance(data, dict):
        what = "an empty file" if data is None else found(data)
        return None, [SpecProblem(checker.file, 1, "(document)", "a mapping of spec sections", what)]
    applied: dict[str, str] = {}
    for change in overrides:
        key_path = _override(data, change, checker)
        if key_path is not None:
            applied[key_path] = change
    before = len(checker.details)
    checker.check(data, TOP, "")
    check_rules(data, checker)
    for i in range(before, len(checker.details)):
        problem = checker.details[i]
        cause = next((c for k, c in applied.items() if problem.path == k or problem.path.startswith(k + ".")), None)
        if cause is not None:
            checker.details[i] = replace(problem, found=f"{problem.found} (--set {cause})")
    if checker.details:
        return None, sorted(checker.details, key=lambda p: p.line)
    digest = hashlib.sha256("\n".join((text, *overrides)).encode()).hexdigest()
    return _build(data, path, digest, checker.lines), []


def load_spec(path: Path, overrides: Sequence[str] = ()) -> FlowSpec:
    """Read and validate one spec file, with ``PATH=VALUE`` overrides applied (see :func:`parse_spec`).

    Raises:
        SpecError: with one line per problem.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(
            [SpecProblem(display_path(path), 0, "(file)", "a readable file", exc.strerror or str(exc))]
        ) from exc
    spec, problems = parse_spec(text, path, overrides)
    if spec is None:
        raise SpecError(problems)
    return spec


def load_specs(directory: Path = SPECS_DIR, paths: list[Path] | None = None) -> list[FlowSpec]:
    """Load every ``*.yaml`` spec of a directory (or ``paths``); all problems of all files reported together.

    Raises:
        SpecError: any file has a problem, or two specs share a name.
    """
    specs: list[FlowSpec] = []
    problems: list[SpecProblem] = []
    for path in paths if paths is not None else sorted(directory.glob("*.yaml")):
        try:
            specs.append(load_spec(path))
        except SpecError as exc:
            problems.extend(exc.details)
    seen: dict[str, FlowSpec] = {}
    for spec in specs:
        if spec.name in seen:
            other = seen[spec.name]
            where = f"{display_path(other.path)}:{other.line_of('name')}"
            problems.append(
                spec.problem("name", f"expected a unique flow name, got {spec.name!r} again (also in {where})")
            )
        seen.setdefault(spec.name, spec)
    if problems:
        raise SpecError(problems)
    return specs
