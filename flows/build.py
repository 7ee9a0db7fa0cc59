"""Flow spec -> Bytewax Dataflow: dispatch to the builder of the spec's kind (flows/builders/<kind>.py).

Every flow follows one shape: a source, pure steps from flows/ (decode, fold, join, strategy), an oks/errs split
where input can fail, and sinks; rejected inputs become dead letters on ``dlq.<flow>`` (``dlq.relay`` for the
bridge). Step ids are snake_case nouns ("decode", "pool_state", "pair_join", "detect").
"""

from __future__ import annotations

import importlib

from bytewax.dataflow import Dataflow

from base.errors import ConfigError
from flows.builders.common import RunEnv
from flows.spec import FlowSpec

__all__ = ["BUILDERS", "RunEnv", "build"]

BUILDERS = {
    "bridge": "flows.builders.bridge:bridge_flow",
    "detector": "flows.builders.detector:detector_flow",
    "risk_execution": "flows.builders.risk_execution:risk_execution_flow",
    "archive": "flows.builders.archive:archive_flow",
    "collector": "flows.builders.collector:collector_flow",
}


def build(spec: FlowSpec, env: RunEnv) -> Dataflow:
    """Turn a validated spec into a Bytewax Dataflow.

    Raises:
        ConfigError: the spec's kind has no builder yet, or a required setting is missing.
    """
    target = BUILDERS.get(spec.kind)
    module_name, func = (target or ":").split(":")
    try:
        module = importlib.import_module(module_name) if module_name else None
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        module = None
    if module is None:
        msg = f"{spec.path}: kind: {spec.kind!r} flows are not built yet in this version"
        raise ConfigError(msg)
    return getattr(module, func)(spec, env)
