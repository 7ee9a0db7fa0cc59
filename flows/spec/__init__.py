"""Flow specs: one YAML file per flow, checked against one versioned schema, parsed once into frozen dataclasses.

The schema (:data:`SCHEMA`, version :data:`SPEC_VERSION`) is the single source of truth: :func:`load_spec`
validates with it and :func:`json_schema` exports it as JSON Schema (committed as
``flows/specs/schema/flow-spec.v1.json``; ``pulsearb flows schema`` prints it). Unknown keys are errors, every
problem is reported (not just the first), and each is one line naming the file, the line, the field path, what was
expected and what was found::

    flows/specs/eth.yaml:14: strategy.params.min_net_profit: expected an integer, got "0.1"

The sections whose keys belong to a builder (``strategy.params``, ``risk``, ``collector``, ``store``) are read by
that builder's contract into typed configs (docs/flows.md, "Builders"), through the same :class:`Problems`
mechanism: every problem of them, each with its file and line.
"""

from flows.spec.load import load_spec, load_specs, parse_spec
from flows.spec.model import (
    KINDS,
    SPEC_VERSION,
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
from flows.spec.problems import Problems, yaml_lines
from flows.spec.schema import SCHEMA, SCHEMA_FILE, Field, json_schema

__all__ = [
    "KINDS",
    "SCHEMA",
    "SCHEMA_FILE",
    "SPECS_DIR",
    "SPEC_VERSION",
    "Clock",
    "Field",
    "FlowSpec",
    "Inputs",
    "Join",
    "Observability",
    "Problems",
    "Recovery",
    "Resources",
    "SpecError",
    "SpecProblem",
    "Strategy",
    "Window",
    "display_path",
    "json_schema",
    "load_spec",
    "load_specs",
    "parse_spec",
    "yaml_lines",
]
