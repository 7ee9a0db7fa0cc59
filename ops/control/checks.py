"""Checks a spec needs beyond its schema: the kind's builder contract, the strategy registry, other specs.

Each kind's builder registers a :class:`~flows.builders.contract.BuilderContract` (flows/build.py,
docs/flows.md "Builders"): the optional sections its flows read, whether it runs as one process, and a ``config``
function that reads its sections into a typed config, reporting every problem with its line and doing no I/O.
These checks call that function; they never build a flow (except for a builder written before contracts: see
:func:`flows.build.legacy_contract`).
"""

from __future__ import annotations

from collections.abc import Sequence

from base.errors import PulsearbError
from flows.builders.contract import COMMON, BuilderContract
from flows.spec import FlowSpec, SpecProblem, display_path


def _kind_rules(spec: FlowSpec, contract: BuilderContract) -> list[SpecProblem]:
    problems = []
    used = contract.sections | COMMON
    for section in spec.lines:
        if "." not in section and "[" not in section and section and section not in used:
            problems.append(
                spec.problem(
                    section,
                    f"expected no {section} section in a {spec.kind} flow (its builder reads "
                    f"{', '.join(sorted(contract.sections - COMMON))}), got one: remove it, it would be ignored",
                )
            )
    if contract.single_process and spec.resources.processes != 1:
        why = contract.single_process
        problems.append(
            spec.problem(
                "resources.processes", f"expected 1 for a {spec.kind} flow ({why}), got {spec.resources.processes}"
            )
        )
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


def check_spec(spec: FlowSpec) -> list[SpecProblem]:
    """Every problem of one schema-valid spec: its kind's rules (sections, processes), its strategy's name, then,
    when those pass (a spec of the wrong shape for its kind is fixed first), every problem its builder's config
    finds."""
    from flows.build import contract as contract_of

    try:
        contract = contract_of(spec.kind)
    except PulsearbError as exc:
        return [spec.problem("kind", str(exc))]
    problems = _kind_rules(spec, contract) + _strategy(spec)
    return problems or contract.problems(spec)


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
