"""Checks a spec needs beyond its schema: the kind's contract, the strategy registry, the builder, other specs.

Builder convention (docs/flows.md, "Builders"): the module of a kind (``flows/builders/<kind>.py``) may expose

- ``SECTIONS``: the optional spec sections its flows read (a spec of that kind setting any other section is an
  error, so a setting the flow would ignore cannot pass silently);
- ``validate(spec) -> list[str]``: every problem of the sections it owns (``strategy.params``, ``risk``), each
  ``"field.path: what was expected, what was found"`` (the file and line are added here) or a full
  ``"FILE:LINE: field.path: ..."`` line; or ``check_spec(spec)`` raising ``SpecError``/``ConfigError`` with
  such lines. Neither may connect anywhere.

A builder with neither hook is built once against placeholder endpoints instead (so its ``build()`` must do no
I/O: clients belong in Bytewax partitions), and any ``ConfigError`` it raises is reported as a spec problem.
"""

from __future__ import annotations

import importlib
import re
import tempfile
from collections.abc import Sequence
from types import ModuleType

from base.errors import PulsearbError
from flows.spec import FlowSpec, SpecProblem, display_path

# Sections every kind may set: read by the runner and the deploy manager, not by builders.
COMMON = frozenset({"version", "name", "kind", "description", "resources", "recovery", "observability"})
# What each builder reads when its module does not say (its SECTIONS attribute wins).
DEFAULT_SECTIONS = {
    "bridge": frozenset({"inputs", "outputs"}),
    "detector": frozenset({"inputs", "strategy", "outputs"}),
    "archive": frozenset({"inputs", "outputs", "store"}),
    "risk_execution": frozenset({"inputs", "risk", "outputs"}),
    "collector": frozenset({"inputs", "collector", "outputs"}),
}
SINGLE_PROCESS = {
    "bridge": "a bridge is one relay connection (a second one would duplicate every frame)",
    "collector": "one poller per chain: a second one would publish every state twice",
}
_PATH = re.compile(r"^[A-Za-z_][\w.\[\]-]*$")


def builder_module(kind: str) -> ModuleType | None:
    """The builder module of a kind, or None when it is not built yet."""
    from flows.build import BUILDERS

    name = BUILDERS.get(kind, ":").split(":")[0]
    try:
        return importlib.import_module(name) if name else None
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def _from_message(spec: FlowSpec, text: str) -> SpecProblem:
    """A builder's message as a located problem (``[FILE[:LINE]: ]field.path: message``)."""
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


def _kind_rules(spec: FlowSpec, module: ModuleType | None) -> list[SpecProblem]:
    problems = []
    used = frozenset(getattr(module, "SECTIONS", DEFAULT_SECTIONS.get(spec.kind, frozenset()))) | COMMON
    for section in spec.lines:
        if "." not in section and "[" not in section and section and section not in used:
            problems.append(
                spec.problem(
                    section,
                    f"expected no {section} section in a {spec.kind} flow (its builder reads "
                    f"{', '.join(sorted(used - COMMON))}), got one: remove it, it would be ignored",
                )
            )
    if spec.kind in SINGLE_PROCESS and spec.resources.processes != 1:
        why = SINGLE_PROCESS[spec.kind]
        problems.append(
            spec.problem(
                "resources.processes", f"expected 1 for a {spec.kind} flow ({why}), got {spec.resources.processes}"
            )
        )
    if spec.kind == "detector" and not spec.strategy.name:
        problems.append(spec.problem("strategy.name", "expected the name of a strategy, got nothing"))
    return problems


def _strategy(spec: FlowSpec) -> list[SpecProblem]:
    if not spec.strategy.name:
        return []
    from flows.strategies import registry

    try:
        known = registry()
    except Exception as exc:  # a broken plugin must be reported, not crash validation
        return [spec.problem("strategy.name", f"a pulsearb.strategies entry point failed to load: {exc!r}")]
    if spec.strategy.name not in known:
        names = ", ".join(sorted(known))
        return [spec.problem("strategy.name", f"expected a registered strategy ({names}), got {spec.strategy.name!r}")]
    return []


def _builder(spec: FlowSpec, module: ModuleType | None) -> list[SpecProblem]:
    if module is None:
        return [spec.problem("kind", f"expected a kind this version can build, got {spec.kind!r} (no builder yet)")]
    if hasattr(module, "validate"):
        return [_from_message(spec, str(line)) for line in module.validate(spec)]
    if hasattr(module, "check_spec"):
        try:
            module.check_spec(spec)
        except PulsearbError as exc:
            return [_from_message(spec, line) for line in str(exc).splitlines() if line.strip()]
        return []
    from flows.build import RunEnv, build

    with tempfile.TemporaryDirectory(prefix="pulsearb-validate-") as tmp:
        env = RunEnv(
            bootstrap="127.0.0.1:9",
            store_dsn=f"chdb://{tmp}/store",
            relay_socket=f"{tmp}/market_data.sock",
            rpc_url="http://127.0.0.1:9",
            signals_socket=f"{tmp}/signals.sock",
            state_dir=tmp,
        )
        try:
            build(spec, env)
        except PulsearbError as exc:
            return [_from_message(spec, line) for line in str(exc).splitlines() if line.strip()]
        except Exception as exc:  # a builder bug: report it against the spec instead of a traceback
            return [spec.problem("(build)", f"the {spec.kind} builder failed: {type(exc).__name__}: {exc}")]
    return []


def check_spec(spec: FlowSpec) -> list[SpecProblem]:
    """Every problem of one schema-valid spec: kind contract, strategy name, builder checks."""
    module = builder_module(spec.kind)
    problems = _kind_rules(spec, module) + _strategy(spec)
    if not problems:
        problems = _builder(spec, module)
    return problems


def check_together(specs: Sequence[FlowSpec]) -> list[SpecProblem]:
    """Problems between specs deployed together: a shared name, metrics port, dead-letter topic or recovery dir."""
    problems = []
    claims: dict[tuple[str, object], FlowSpec] = {}
    for spec in specs:
        wants = [
            ("name", spec.name),
            ("observability.metrics_port", spec.observability.metrics_port),
            ("outputs.dlq", spec.dlq_topic),
            ("recovery.directory", spec.recovery.directory),
        ]
        for path, value in wants:
            if not value:
                continue
            other = claims.setdefault((path, value), spec)
            if other is not spec:
                where = f"{display_path(other.path)}:{other.line_of(path)}"
                problems.append(
                    spec.problem(path, f"expected a value of this flow only, got {value!r} (also in {where})")
                )
    return problems


def check_all(specs: Sequence[FlowSpec]) -> list[SpecProblem]:
    """:func:`check_spec` for each spec, then :func:`check_together`."""
    problems = [p for spec in specs for p in check_spec(spec)]
    return problems + check_together(specs)
