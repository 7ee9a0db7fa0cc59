"""What a builder promises about the specs of its kind: :class:`BuilderContract`, registered in flows/build.py.

The checks (``pulsearb flows validate``, ``flows deploy``; ops/control/checks.py) and :func:`flows.build.build`
read a kind's contract and nothing else of its module: which optional sections its flows read, whether it runs as
one process and why, how its sections become a typed config (every problem of them at once, no I/O), and how a
spec becomes a Bytewax dataflow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from base.errors import PulsearbError
from flows.spec import FlowSpec, SpecError, SpecProblem, display_path

if TYPE_CHECKING:
    from bytewax.dataflow import Dataflow

    from flows.builders.common import RunEnv

COMMON = frozenset({"version", "name", "kind", "description", "resources", "recovery", "observability"})
"""Sections every kind may set: read by the runner and the deploy manager, not by builders."""

_PATH = re.compile(r"^[A-Za-z_][\w.\[\]-]*$")


@dataclass(frozen=True, slots=True)
class BuilderContract:
    """A kind's builder, as the checks and :func:`flows.build.build` see it.

    Attributes:
        kind: the spec ``kind`` it builds.
        sections: the optional sections its flows read (besides :data:`COMMON`); a spec of this kind setting any
            other section is refused, so a setting the flow would ignore cannot pass silently.
        config: the spec's sections as the builder's typed config; raises :class:`~flows.spec.SpecError` with every
            problem (file, line, field), and may do no I/O. The builder reads its config through this same function
            when it builds, once.
        build: the spec as a Bytewax dataflow, for the endpoints of a run.
        single_process: why a flow of this kind runs as exactly one process ('' when any number may run).
    """

    kind: str
    sections: frozenset[str]
    config: Callable[[FlowSpec], Any]
    build: Callable[[FlowSpec, RunEnv], Dataflow]
    single_process: str = ""

    def problems(self, spec: FlowSpec) -> list[SpecProblem]:
        """Every problem :attr:`config` finds in ``spec`` (empty when it reads), each located by file and line.

        A builder bug (an exception that is not a :class:`PulsearbError`) is reported against the spec as one
        problem instead of a traceback.
        """
        try:
            self.config(spec)
        except SpecError as exc:
            return exc.details or [located(spec, line) for line in exc.problems]
        except PulsearbError as exc:
            return [located(spec, line) for line in str(exc).splitlines() if line.strip()]
        except Exception as exc:  # a builder bug: one located line, not a traceback out of `flows validate`
            return [spec.problem("(build)", f"the {self.kind} builder failed: {type(exc).__name__}: {exc}")]
        return []


def located(spec: FlowSpec, text: str) -> SpecProblem:
    """A message as a located problem: ``[FILE[:LINE]: ]field.path: what`` (the spec's line of the field if none).

    For messages a builder wrote itself (a third-party builder, a ``ConfigError`` naming a field).
    """
    shown = display_path(spec.path)
    for prefix in (f"{spec.path}: ", f"{shown}: "):
        text = text.removeprefix(prefix)
    m = re.match(r"^(?P<file>[^:\s]+\.ya?ml):(?P<line>\d+): (?P<rest>.*)$", text)
    line = int(m["line"]) if m else 0
    text = m["rest"] if m else text
    path, _, rest = text.partition(": ")
    if not rest or not _PATH.match(path):
        path, rest = "(spec)", text
    return SpecProblem(shown, line or spec.line_of(path), path, "", "", note=rest)
