"""Flow spec -> Bytewax Dataflow, through the contract of the spec's kind (flows/builders/<kind>.py).

Every flow follows one shape: a source, pure steps from flows/ (decode, fold, join, strategy), an oks/errs split
where input can fail, and sinks; rejected inputs become dead letters on ``dlq.<flow>`` (``dlq.relay`` for the
bridge). Step ids are snake_case nouns ("decode", "pool_state", "pair_join", "detect").

The registry is :data:`BUILDERS`: kind -> ``module:attribute`` of its :class:`BuilderContract`. The checks
(ops/control/checks.py) and :func:`build` both go through :func:`contract`.
"""

from __future__ import annotations

import importlib
import tempfile
from types import ModuleType
from typing import Any

from bytewax.dataflow import Dataflow

from base.errors import ConfigError, PulsearbError
from flows.builders.common import RunEnv
from flows.builders.contract import BuilderContract, located
from flows.spec import FlowSpec, SpecError

__all__ = ["BUILDERS", "BUILTIN", "BuilderContract", "RunEnv", "build", "contract"]

BUILTIN = {
    "bridge": "flows.builders.bridge:CONTRACT",
    "detector": "flows.builders.detector:CONTRACT",
    "risk_execution": "flows.builders.risk_execution:CONTRACT",
    "archive": "flows.builders.archive:CONTRACT",
    "collector": "flows.builders.collector:CONTRACT",
}
"""The builders this repository ships, one per kind."""

BUILDERS = dict(BUILTIN)
"""kind -> ``module:attribute`` of its builder: a :class:`BuilderContract` (or, for a builder written before
contracts, its build function: see :func:`legacy_contract`). Another package's builder replaces an entry here."""


def _resolve(target: str) -> tuple[ModuleType, Any] | None:
    """The module and attribute a ``module:attribute`` target names (None when the module does not exist)."""
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the builder exists but one of its imports does not: a broken install, not a missing kind
        return None
    return module, getattr(module, attribute, None)


def contract(kind: str) -> BuilderContract:
    """The contract of a kind's builder.

    Raises:
        ConfigError: no builder builds that kind, or its target is neither a contract nor a build function (the
            message is what a ``kind:`` problem line says).
    """
    target = BUILDERS.get(kind)
    found = _resolve(target) if target else None
    if found is None:
        msg = f"expected a kind this version can build, got {kind!r} (no builder yet)"
        raise ConfigError(msg)
    module, registered = found
    if isinstance(registered, BuilderContract):
        if registered.kind != kind:
            msg = f"expected the contract of a {kind} builder at {target}, got the contract of {registered.kind!r}"
            raise ConfigError(msg)
        return registered
    if callable(registered):
        return legacy_contract(kind, module, registered)
    msg = (
        f"expected a builder contract at {target} (a flows.builders.contract.BuilderContract, docs/flows.md "
        f'"Builders"), got {"nothing" if registered is None else type(registered).__name__}'
    )
    raise ConfigError(msg)


def legacy_contract(kind: str, module: ModuleType, build_fn: Any) -> BuilderContract:
    """The contract of a builder written before contracts: ``BUILDERS`` names its build function, not a contract.

    Such a module is read by the convention that preceded contracts, here and nowhere else: ``SECTIONS`` (else
    the sections of the built-in builder of that kind), ``validate(spec) -> list[str]`` or ``check_spec(spec)``
    raising; with neither, the config step is one build against placeholder endpoints (its ``build()`` must do
    no I/O) whose ``ConfigError`` lines become the problems. Every builder this repository ships has a contract.
    """
    builtin = _resolve(BUILTIN[kind]) if kind in BUILTIN else None
    default = builtin[1] if builtin is not None and isinstance(builtin[1], BuilderContract) else None
    sections = frozenset(getattr(module, "SECTIONS", default.sections if default else ()))
    validate = getattr(module, "validate", None)
    check = getattr(module, "check_spec", None)

    def config(spec: FlowSpec) -> None:
        if validate is not None:
            lines = [located(spec, str(line)) for line in validate(spec)]
            if lines:
                raise SpecError(lines)
        elif check is not None:
            check(spec)
        else:
            with tempfile.TemporaryDirectory(prefix="pulsearb-validate-") as tmp:
                build_fn(spec, _placeholder_env(tmp))

    return BuilderContract(kind, sections, config, build_fn, default.single_process if default else "")


def _placeholder_env(tmp: str) -> RunEnv:
    """Endpoints nothing listens on, for a legacy builder's trial build (its build must not connect)."""
    return RunEnv(
        bootstrap="127.0.0.1:9",
        store_dsn=f"chdb://{tmp}/store",
        relay_socket=f"{tmp}/market_data.sock",
        rpc_url="http://127.0.0.1:9",
        signals_socket=f"{tmp}/signals.sock",
        state_dir=tmp,
    )


def build(spec: FlowSpec, env: RunEnv) -> Dataflow:
    """Turn a validated spec into a Bytewax Dataflow, with the builder of its kind.

    Raises:
        SpecError: the spec's kind has no builder, or its sections have problems (every one, located).
        ConfigError: a setting of the run is missing (a relay socket, a state directory).
    """
    try:
        chosen = contract(spec.kind)
    except PulsearbError as exc:
        raise SpecError([spec.problem("kind", str(exc))]) from exc
    return chosen.build(spec, env)
