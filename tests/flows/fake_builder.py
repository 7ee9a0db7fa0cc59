"""A builder module that follows the documented convention (SECTIONS, validate), for the checks' tests."""

from __future__ import annotations

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource

from flows.builders.common import RunEnv
from flows.spec import FlowSpec

SECTIONS = frozenset({"inputs", "risk", "outputs"})


def validate(spec: FlowSpec) -> list[str]:
    """Check the ``risk`` section the way a real builder would: one line per problem."""
    problems = []
    limits = spec.risk.get("limits", {})
    if not isinstance(limits.get("max_gas_price_wei"), int):
        problems.append(f"risk.limits.max_gas_price_wei: expected an integer, got {limits.get('max_gas_price_wei')!r}")
    if "kill_switch" in spec.risk:
        problems.append(
            f"{spec.path}:{spec.line_of('risk.kill_switch')}: risk.kill_switch: expected a path, got a bool"
        )
    return problems


def flow(spec: FlowSpec, env: RunEnv) -> Dataflow:
    """A trivial flow (the checks only build it)."""
    df = Dataflow(spec.name)
    op.inspect("noop", op.input("in", df, TestingSource([1])))
    return df
