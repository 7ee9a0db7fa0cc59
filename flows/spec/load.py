"""Reading spec files: parse, validate (every problem), build the frozen :class:`FlowSpec`."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import yaml

from flows.spec.check import Checker, check_rules, found, read_yaml
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
from flows.spec.schema import MISSING, SCHEMA, TOP


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
        store=dict(data.get("store") or {}),
        resources=Resources(**section("resources")),
        recovery=Recovery(**section("recovery")),
        observability=Observability(**section("observability")),
        sha256=digest,
        lines=dict(lines),
    )


def parse_spec(text: str, path: Path) -> tuple[FlowSpec | None, list[SpecProblem]]:
    """Validate spec text; return the spec (None when there are problems) and every problem found."""
    checker = Checker(display_path(path), {})
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
    checker.check(data, TOP, "")
    check_rules(data, checker)
    if checker.problems:
        return None, sorted(checker.problems, key=lambda p: p.line)
    return _build(data, path, hashlib.sha256(text.encode()).hexdigest(), checker.lines), []


def load_spec(path: Path) -> FlowSpec:
    """Read and validate one spec file.

    Raises:
        SpecError: with one line per problem.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(
            [SpecProblem(display_path(path), 0, "(file)", "a readable file", exc.strerror or str(exc))]
        ) from exc
    spec, problems = parse_spec(text, path)
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
