"""The validation's steps, in order, and the entry point that runs them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flows.execution.chain import redact_url
from ops.validation import checks, foreign, trade
from ops.validation.options import Options
from ops.validation.runner import Listener, Report, Step, run_steps
from ops.validation.session import Session

CHAIN = Step("chain", "chain id and head block", checks.check_chain)
ACCOUNT = Step("account", "signing key and funds", checks.check_account)
CLEANUP = Step("cleanup", "withdraw the profit to the owner", trade.cleanup)
STEPS: tuple[Step, ...] = (
    CHAIN,
    ACCOUNT,
    Step("contracts", "contracts deployed or attached, code = committed artifacts", checks.check_contracts),
    Step("dislocation", "price gap between the two venues (found or created)", trade.dislocation),
    Step("detect", "opportunity sized with flows.amm's exact math", trade.detect),
    Step("dry-run", "eth_call simulation = predicted profit", trade.dry_run),
    Step("live", "live arbitrage: realized profit = predicted, to the wei", trade.live),
    CLEANUP,
)
POOL_STEPS: tuple[Step, ...] = (
    CHAIN,
    ACCOUNT,
    Step("pools", "each --pools address a genuine Uniswap V2 pair or V3 pool, one cycle", foreign.check_pools),
    Step("executor", "ArbExecutor attached or deployed alone, code = committed artifact", foreign.check_executor),
    Step("detect", "exact pool state, cycle sized with pulsearb's math", foreign.detect_cycle),
    Step("dry-run", "eth_call simulation = prediction (profit, or the PROFIT_TOO_LOW refusal)", trade.dry_run),
    Step("live", "live arbitrage (--live): realized profit = predicted, to the wei", trade.live),
    CLEANUP,
)
"""The steps of a ``--pools`` run (pools validate did not deploy)."""


def validate(options: Options, listener: Listener) -> tuple[Report, Mapping[str, Any]]:
    """Run every step against ``options.rpc_url``.

    Args:
        options: the settings (checked by the caller with :meth:`Options.check`).
        listener: progress callbacks.

    Returns:
        The report, and the figures gathered (chain id, amounts in raw units of the start token, gas, hashes).
    """
    session = Session(options)
    steps = POOL_STEPS if options.pools else STEPS
    try:
        report = run_steps(steps, session, listener, where=session.where, secrets=url_secrets(options.rpc_url))
    finally:
        session.close()
    return report, dict(session.figures)


def url_secrets(rpc_url: str) -> tuple[tuple[str, str], ...]:
    """What to scrub from messages: the full URL, and its path and query (where providers put API keys)."""
    parts = urlsplit(rpc_url)
    hidden = [(rpc_url, redact_url(rpc_url))]
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    if tail.strip("/"):
        hidden.append((tail, "/<redacted>"))
    if parts.password:
        hidden.append((parts.password, "<redacted>"))
    return tuple(hidden)
