"""Arbitrage strategies, registered by name.

A strategy is a pure function ``evaluate(states, params, now_ns) -> list[Opportunity]``. Built-in strategies are
listed here; other packages add theirs through the ``pulsearb.strategies`` entry-point group.

``states`` is a sequence of market states (:class:`~flows.pools.PoolState`, :class:`~flows.state.quotes.CexQuote`).
The detector passes a :class:`~flows.state.join.MarketView`: the join's states as of the triggering update's event
time, with that update as ``view.trigger``; a strategy that ignores the trigger still gets correct (if redundant)
results. Which states are joined together is the strategy's ``join_by``: ``pair`` (one token pair, the default
for strategies that do not say) or ``graph`` (every state of the flow).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

from base.errors import ConfigError
from flows.opportunity import Opportunity
from flows.strategies import cex_dex, cross_dex, triangular
from flows.strategies.params import StrategyParams

Strategy = Callable[[Sequence[Any], StrategyParams, int], list[Opportunity]]

BUILTIN: dict[str, Strategy] = {
    cross_dex.NAME: cross_dex.evaluate,
    triangular.NAME: triangular.evaluate,
    cex_dex.NAME: cex_dex.evaluate,
}
JOINS = ("pair", "graph")
_BUILTIN_JOIN = {cross_dex.NAME: cross_dex.JOIN_BY, triangular.NAME: triangular.JOIN_BY, cex_dex.NAME: cex_dex.JOIN_BY}


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


def join_by(name: str, configured: str = "") -> str:
    """How a strategy's states are joined: the configured choice, else the strategy's own, else ``pair``.

    A plug-in strategy declares its own by a ``join_by`` attribute on its function.

    Raises:
        ConfigError: the configured choice is not one of ``pair``, ``graph``.
    """
    if configured and configured not in JOINS:
        msg = f"strategy.params.join_by: expected one of {', '.join(JOINS)}, got {configured!r}"
        raise ConfigError(msg)
    return configured or _BUILTIN_JOIN.get(name) or getattr(registry().get(name), "join_by", "pair")
