"""Executor settings, parsed once from a spec's ``risk.execution`` (frozen; every problem reported with its line).

The executor and flash-lender addresses may be given in the spec or read from a deployment file written by
``python -m ops.simulator.chain.deploy`` (``risk.execution.deployment`` or ``$PULSEARB_DEPLOYMENT``), so one spec runs
against any chain the contracts were deployed to.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from base.errors import ConfigError
from flows.execution.plan import CAPITAL_MODES
from flows.spec.problems import ADDRESS_RE, MISSING, Problems, address, choice, integer, number

DEPLOYMENT_ENV = "PULSEARB_DEPLOYMENT"
MODES = ("live", "dry_run")


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    """How the executor sends.

    Attributes:
        mode: ``live`` (simulate, then send) or ``dry_run`` (simulate only; nothing is signed or sent).
        capital: where a cycle's input comes from: ``flash_swap`` (the default: the cycle's first pool pays out
            first and is paid back at the end; no capital, no lender), ``own`` (the executor's balance) or
            ``flash_loan`` (an ERC-3156 loan from ``flash_lender``, its fee paid out of the profit).
        executor: ArbExecutor address (lower-case).
        flash_lender: FlashLender address, used when ``capital`` is ``flash_loan``.
        deployment: deployment file the addresses came from ("" if given in the spec).
        chain_id: the chain the flow must be connected to (0: take the node's, after checking the deployment's).
        gas_limit: gas limit of an execution, units of gas.
        priority_fee_wei: tip, wei per gas (capped by the risk limit ``max_gas_price_wei``).
        receipt_timeout_s: wait this long for a receipt before the replace-or-cancel policy acts, seconds.
        receipt_poll_ms: interval between receipt polls, ms.
        fee_bump_bps: fee increase of a replacement or cancellation, bps (nodes need >= 1000).
        abandon_after_s: after this long without any receipt, give the trade up as ``timeout``, seconds.
        retention_days: how long decided ids are remembered (keep it above the input topic's retention), days.
        simulation_tolerance_bps: how far the simulated profit may be from the predicted one, bps of the
            prediction; 0 (the default) sends only what the simulation reproduces to the wei, so an opportunity
            computed on a view of the pools that is no longer the chain's (a pool moved since, or a view taken
            between two Sync events of one transaction) is skipped rather than sent mis-sized.
    """

    mode: str = "live"
    capital: str = "flash_swap"
    executor: str = ""
    flash_lender: str = ""
    deployment: str = ""
    chain_id: int = 0
    gas_limit: int = 400_000
    priority_fee_wei: int = 1_000_000_000
    receipt_timeout_s: float = 30.0
    receipt_poll_ms: int = 10
    fee_bump_bps: int = 1_250
    abandon_after_s: float = 180.0
    retention_days: int = 8
    simulation_tolerance_bps: int = 0

    @property
    def dry_run(self) -> bool:
        """True when nothing is sent."""
        return self.mode == "dry_run"


FIELDS = frozenset(ExecutionConfig.__dataclass_fields__)


def parse_execution(raw: Any, problems: Problems, where: tuple[str, ...] = ("risk", "execution")) -> ExecutionConfig:
    """Validate a ``risk.execution`` mapping (absent: every default); problems go to ``problems``."""
    if raw is None or raw is MISSING:
        raw = {}
    if not isinstance(raw, Mapping):
        problems.add(where, "a mapping of executor settings", raw)
        raw = {}
    problems.unknown_keys(where, raw, set(FIELDS))
    d = ExecutionConfig()
    mode = choice(problems, (*where, "mode"), raw.get("mode", d.mode), MODES, default=d.mode)
    capital = choice(problems, (*where, "capital"), raw.get("capital", d.capital), CAPITAL_MODES, default=d.capital)
    deployment = raw.get("deployment", "")
    if not isinstance(deployment, str):
        problems.add((*where, "deployment"), "a file path", deployment)
        deployment = ""
    return ExecutionConfig(
        mode=mode,
        capital=capital,
        executor=address(problems, (*where, "executor"), raw.get("executor", ""), allow_empty=True),
        flash_lender=address(problems, (*where, "flash_lender"), raw.get("flash_lender", ""), allow_empty=True),
        deployment=deployment,
        chain_id=integer(problems, (*where, "chain_id"), raw.get("chain_id", MISSING), default=0),
        gas_limit=integer(
            problems, (*where, "gas_limit"), raw.get("gas_limit", MISSING), minimum=21_000, default=d.gas_limit
        ),
        priority_fee_wei=integer(
            problems, (*where, "priority_fee_wei"), raw.get("priority_fee_wei", MISSING), default=d.priority_fee_wei
        ),
        receipt_timeout_s=number(
            problems,
            (*where, "receipt_timeout_s"),
            raw.get("receipt_timeout_s", MISSING),
            minimum=0.1,
            default=d.receipt_timeout_s,
        ),
        receipt_poll_ms=integer(
            problems,
            (*where, "receipt_poll_ms"),
            raw.get("receipt_poll_ms", MISSING),
            minimum=1,
            default=d.receipt_poll_ms,
        ),
        fee_bump_bps=integer(
            problems, (*where, "fee_bump_bps"), raw.get("fee_bump_bps", MISSING), minimum=1_000, default=d.fee_bump_bps
        ),
        abandon_after_s=number(
            problems,
            (*where, "abandon_after_s"),
            raw.get("abandon_after_s", MISSING),
            minimum=1.0,
            default=d.abandon_after_s,
        ),
        retention_days=integer(
            problems,
            (*where, "retention_days"),
            raw.get("retention_days", MISSING),
            minimum=1,
            default=d.retention_days,
        ),
        simulation_tolerance_bps=integer(
            problems,
            (*where, "simulation_tolerance_bps"),
            raw.get("simulation_tolerance_bps", MISSING),
            maximum=10_000,
            default=d.simulation_tolerance_bps,
        ),
    )


def with_deployment(config: ExecutionConfig, env: Mapping[str, str] | None = None) -> ExecutionConfig:
    """Fill the executor (and lender, chain id) from the deployment file when the spec leaves them empty.

    Raises:
        ConfigError: no executor address anywhere, or the deployment file is unreadable or malformed.
    """
    if config.executor:
        return config
    env = os.environ if env is None else env
    path = env.get(DEPLOYMENT_ENV) or config.deployment
    if not path:
        msg = (
            "risk.execution.executor: no executor address: set it in the spec, or point risk.execution.deployment "
            f"or ${DEPLOYMENT_ENV} at the file `python -m ops.simulator.chain.deploy` wrote"
        )
        raise ConfigError(msg)
    try:
        data = json.loads(Path(path).read_text())
        executor = str(data["executor"]).lower()
        lender = str(data.get("flash_lender") or "").lower()
        chain_id = int(data.get("chain_id") or 0)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = f"deployment file {path}: cannot read the executor address ({type(exc).__name__}); redeploy or fix it"
        raise ConfigError(msg) from exc
    if not ADDRESS_RE.match(executor) or (lender and not ADDRESS_RE.match(lender)):
        msg = f"deployment file {path}: executor/flash_lender are not addresses"
        raise ConfigError(msg)
    if config.chain_id and chain_id and config.chain_id != chain_id:
        msg = f"deployment file {path} is for chain {chain_id}, but risk.execution.chain_id is {config.chain_id}"
        raise ConfigError(msg)
    return replace(
        config,
        executor=executor,
        flash_lender=config.flash_lender or lender,
        deployment=str(path),
        chain_id=config.chain_id or chain_id,
    )
