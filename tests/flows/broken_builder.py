"""A builder module with no check hooks and a bug in its build function (for the checks' tests)."""

from __future__ import annotations

from bytewax.dataflow import Dataflow

from flows.builders.common import RunEnv
from flows.spec import FlowSpec


def flow(spec: FlowSpec, env: RunEnv) -> Dataflow:
    """Fail the way a builder bug would."""
    raise KeyError("oops")
