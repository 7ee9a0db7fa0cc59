"""Flow specs: one YAML file per flow, parsed once into frozen dataclasses.

Unknown keys are errors, and every problem is reported as one line naming the file, line, field path, what was
expected and what was found. Past this loader nothing sees a raw dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flows.errors import PulsearbError

SPEC_VERSION = 1
KINDS = ("bridge", "detector", "risk_execution", "archive")
SPECS_DIR = Path(__file__).resolve().parent / "specs"


class SpecError(PulsearbError):
    """One or more problems in a flow spec (each on its own line)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def __reduce__(self):
        return (type(self), (self.problems,))


@dataclass(frozen=True, slots=True)
class Inputs:
    """Where a flow reads."""

    topics: tuple[str, ...] = ()
    start_offset: str = "earliest"
    relay_socket: str = ""


@dataclass(frozen=True, slots=True)
class Strategy:
    """A detector's strategy and its parameters (validated by the strategy's params)."""

    name: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resources:
    """Processes and workers of a deployed flow."""

    processes: int = 1
    workers_per_process: int = 1


@dataclass(frozen=True, slots=True)
class Recovery:
    """Bytewax recovery: snapshot directory and interval."""

    directory: str = ""
    snapshot_interval_s: float = 1.0
    backup_interval_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Observability:
    """Metrics endpoint and log level."""

    metrics_port: int = 0
    log_level: str = "WARNING"


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """A validated flow spec."""

    name: str
    kind: str
    path: Path
    inputs: Inputs
    outputs: Mapping[str, str]
    strategy: Strategy
    risk: Mapping[str, Any]
    store: Mapping[str, Any]
    resources: Resources
    recovery: Recovery
    observability: Observability
    version: int = SPEC_VERSION


_TOP = {
    "version",
    "name",
    "kind",
    "description",
    "inputs",
    "outputs",
    "strategy",
    "risk",
    "store",
    "resources",
    "recovery",
    "observability",
}
_SECTIONS: dict[str, set[str]] = {
    "inputs": {"topics", "start_offset", "relay_socket"},
    "strategy": {"name", "params"},
    "resources": {"processes", "workers_per_process"},
    "recovery": {"directory", "snapshot_interval_s", "backup_interval_s"},
    "observability": {"metrics_port", "log_level"},
}


def _check_keys(where: str, data: Mapping[str, Any], allowed: set[str], problems: list[str], path: str) -> None:
    for key in data:
        if key not in allowed:
            problems.append(
                f"{where}: {path}{key}: unknown key; expected one of {', '.join(sorted(allowed))}"
            )


def load_spec(path: Path) -> FlowSpec:
    """Read and validate one spec file.

    Raises:
        SpecError: with one line per problem.
    """
    where = str(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SpecError([f"{where}: cannot read: {exc.strerror}"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise SpecError([f"{where}{line}: invalid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    if not isinstance(data, dict):
        raise SpecError([f"{where}: expected a mapping at the top level, got {type(data).__name__}"])
    problems: list[str] = []
    _check_keys(where, data, _TOP, problems, "")
    for section, allowed in _SECTIONS.items():
        value = data.get(section, {})
        if not isinstance(value, dict):
            problems.append(f"{where}: {section}: expected a mapping, got {type(value).__name__}")
        else:
            _check_keys(where, value, allowed, problems, f"{section}.")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"{where}: name: expected a non-empty string, got {name!r}")
    kind = data.get("kind")
    if kind not in KINDS:
        problems.append(f"{where}: kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    version = data.get("version", SPEC_VERSION)
    if version != SPEC_VERSION:
        problems.append(f"{where}: version: expected {SPEC_VERSION}, got {version!r}")
    if problems:
        raise SpecError(problems)
    inputs = data.get("inputs", {})
    strategy = data.get("strategy", {})
    return FlowSpec(
        name=name,
        kind=kind,
        path=path,
        inputs=Inputs(
            topics=tuple(inputs.get("topics", ())),
            start_offset=inputs.get("start_offset", "earliest"),
            relay_socket=inputs.get("relay_socket", ""),
        ),
        outputs=dict(data.get("outputs", {})),
        strategy=Strategy(name=strategy.get("name", ""), params=dict(strategy.get("params", {}))),
        risk=dict(data.get("risk", {})),
        store=dict(data.get("store", {})),
        resources=Resources(**data.get("resources", {})),
        recovery=Recovery(**data.get("recovery", {})),
        observability=Observability(**data.get("observability", {})),
        version=version,
    )


def load_specs(directory: Path = SPECS_DIR) -> list[FlowSpec]:
    """Load every ``*.yaml`` spec of a directory (all problems of all files reported together)."""
    specs, problems = [], []
    for path in sorted(directory.glob("*.yaml")):
        try:
            specs.append(load_spec(path))
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    return specs
