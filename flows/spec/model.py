"""The parsed form of a flow spec: frozen dataclasses per section, and the problems a file can have."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from base.errors import ConfigError

SPEC_VERSION = 1
KINDS = ("bridge", "detector", "risk_execution", "archive", "collector")
SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"


@dataclass(frozen=True, slots=True)
class SpecProblem:
    """One problem in a spec file: where it is, what was expected and what was found."""

    file: str
    line: int
    path: str
    expected: str
    found: str
    note: str = ""  # free text instead of expected/found ("unknown parameter; expected one of ...")

    def __str__(self) -> str:
        what = self.note or f"expected {self.expected}, got {self.found}"
        # A section read on its own (no file: a mapping built in code) has no place to name.
        return f"{self.file}:{self.line}: {self.path}: {what}" if self.file else f"{self.path}: {what}"


class SpecError(ConfigError):
    """One or more problems in flow specs or their sections (one line each); a spec is configuration."""

    def __init__(self, problems: list[SpecProblem] | list[str]) -> None:
        self.details = [p for p in problems if isinstance(p, SpecProblem)]
        self.problems = [str(p) for p in problems]
        super().__init__("\n".join(self.problems))

    def __reduce__(self):
        return (type(self), (self.details or self.problems,))


@dataclass(frozen=True, slots=True)
class Inputs:
    """Where a flow reads."""

    topics: tuple[str, ...] = ()
    key: str = ""
    start_offset: str = "earliest"
    relay_socket: str = ""


@dataclass(frozen=True, slots=True)
class Clock:
    """Which time the flow's windows and staleness checks use."""

    type: str = "event"
    wait_for_system_ms: int = 0
    hold_ms: int = 0


@dataclass(frozen=True, slots=True)
class Window:
    """How inputs are grouped in time (ms)."""

    type: str = "latest"
    length_ms: int = 0
    slide_ms: int = 0
    gap_ms: int = 0


@dataclass(frozen=True, slots=True)
class Join:
    """Which states a detector evaluates together, and which it keeps at all.

    ``pairs`` hold lower-case addresses sorted within each pair, so ``"a/b"`` equals ``PoolState.pair``.
    """

    by: str = ""
    pairs: tuple[tuple[str, str], ...] = ()
    tokens: tuple[str, ...] = ()
    venues: tuple[int, ...] = ()

    def accepts(self, token0: str, token1: str, venue: int | None = None) -> bool:
        """True when a pool of these tokens (and venue) belongs to this flow."""
        a, b = sorted((token0.lower(), token1.lower()))
        if self.pairs and (a, b) not in self.pairs:
            return False
        if self.tokens and not {a, b} <= set(self.tokens):
            return False
        return not (self.venues and venue is not None and venue not in self.venues)


@dataclass(frozen=True, slots=True)
class Strategy:
    """A detector's strategy and its parameters (checked by the builder)."""

    name: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resources:
    """Processes and workers of a deployed flow."""

    processes: int = 1
    workers_per_process: int = 1


@dataclass(frozen=True, slots=True)
class Recovery:
    """Bytewax recovery: snapshot directory and intervals (s)."""

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
    """A validated flow spec. ``outputs``, ``store`` and ``risk`` hold only the keys the file sets."""

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
    description: str = ""
    clock: Clock = field(default_factory=Clock)
    window: Window = field(default_factory=Window)
    join: Join = field(default_factory=Join)
    collector: Mapping[str, Any] = field(default_factory=dict)
    sha256: str = ""
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dlq_topic(self) -> str:
        """The flow's dead-letter topic."""
        return self.outputs.get("dlq") or f"dlq.{self.name}"

    def line_of(self, path: str) -> int:
        """Line of a field path in the file (of its nearest written ancestor; 1 when unknown)."""
        return line_in(self.lines, path, 1)

    def problem(self, path: str, note: str) -> SpecProblem:
        """A problem about ``path`` in this spec, located by line (for checks that run after loading)."""
        return SpecProblem(display_path(self.path), self.line_of(path), path, "", "", note=note)


def parent_path(path: str) -> str:
    """The field path one level up: ``a.b[0][1]`` -> ``a.b[0]`` -> ``a.b`` -> ``a`` -> ``''``."""
    if path.endswith("]") and "[" in path:
        return path[: path.rindex("[")]
    return path.rsplit(".", 1)[0] if "." in path else ""


def line_in(lines: Mapping[str, int], path: str, default: int) -> int:
    """Line of ``path`` in a spec's line table, else of its nearest ancestor written in the file, else ``default``.

    The table maps dotted field paths (list items as ``[i]``) to 1-based lines, as the loader records them.
    """
    while path:
        if path in lines:
            return lines[path]
        path = parent_path(path)
    return default


def display_path(path: Path) -> str:
    """The path as the user is likely to have written it (relative to the working directory when inside it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
