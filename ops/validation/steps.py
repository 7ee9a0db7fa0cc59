"""The validation's steps, in order, and the entry point that runs them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flows.execution.chain import redact_url
from ops.validation import checks, trade
from ops.validation.options import Options
from ops.validation.runner import Listener, Report, Step, run_steps
from ops.validation.session import Session

STEPS: tuple[Step, ...] = (
    Step("chain", "chain id and head block", checks.check_chain),
    Step("account", "signing key and funds", checks.check_account),
    Step("contracts", "contracts deployed or attached, code = committed artifacts", checks.check_contracts),
    Step("dislocation", "price gap between the two venues (found or created)", trade.dislocation),
    Step("detect", "opportunity sized with flows.amm's exact math", trade.detect),
    Step("dry-run", "eth_call simulation = predicted profit", trade.dry_run),
    Step("live", "live arbitrage: realized profit = predicted, to the wei", trade.live),
    Step("cleanup", "withdraw the profit to the owner", trade.cleanup),
)


def validate(options: Options, listener: Listener) -> tuple[Report, Mapping[str, Any]]:
    """Run every step against ``options.rpc_url``.

    Args:
        options: the settings (checked by the caller with :meth:`Options.check`).
        listener: progress callbacks.

    Returns:
        The report, and the figures gathered (chain id, amounts in raw units of the start token, gas, hashes).
    """
    session = Session(options)
    try:
        report = run_steps(STEPS, session, listener, where=session.where, secrets=url_secrets(options.rpc_url))
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
