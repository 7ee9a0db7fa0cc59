"""Arbitrage strategies, registered by name.

A strategy is a pure function ``evaluate(states, params, now_ns) -> list[Opportunity]``. Built-in strategies are
listed here; other packages add theirs through the ``pulsearb.strategies`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from flows.errors import ConfigError
from flows.opportunity import Opportunity
from flows.pools import PoolState
from flows.strategies import cross_dex
from flows.strategies.params import StrategyParams

Strategy = Callable[[Sequence[PoolState], StrategyParams, int], list[Opportunity]]

BUILTIN: dict[str, Strategy] = {cross_dex.NAME: cross_dex.evaluate}


def registry() -> dict[str, Strategy]:
    """Built-in strategies plus those installed under the ``pulsearb.strategies`` entry-point group."""
    found = dict(BUILTIN)
    for ep in entry_points(group="pulsearb.strategies"):
        found.setdefault(ep.name, ep.load())
    return found


def strategy(name: str) -> Strategy:
    """Look a strategy up by name.

    Raises:
        ConfigError: no strategy has that name (the message lists those that exist).
    """
    known = registry()
    if name not in known:
        msg = f"unknown strategy {name!r}: expected one of {', '.join(sorted(known))}"
        raise ConfigError(msg)
    return known[name]
