"""triangular: 3-cycles over the token graph (A -> B -> C -> A through three pools, any venues).

An update of pool ``A/B`` closes a triangle with every token ``C`` that shares a pool with both ``A`` and ``B``;
for each choice of fresh pools on ``B/C`` and ``C/A`` and both directions, the cycle is screened by its exact
marginal rate, sized (V2 pools: the closed form on the composed curve ``N*x/(K+M*x)``; a V3 leg: the mixed
search), re-checked hop by hop with the integer ``getAmountOut``/V3 swap, and costed like every strategy. The
cycle starts in the first configured base token it contains, else its smallest token address, so each triangle
and direction has one id. The best direction per triangle is emitted.

The join key is the whole graph (``join_by: graph``): a triangle spans three pairs, so all of a flow's pools are
joined in one state, on one worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flows.opportunity import Opportunity
from flows.pools import PoolState
from flows.state.join import MarketView, as_view, order_of
from flows.strategies.assemble import build, is_fresh, native_price
from flows.strategies.legs import profitable_at_margin, size_cycle
from flows.strategies.params import StrategyParams

NAME = "triangular"
JOIN_BY = "graph"
"""Every state of the flow is joined together (triangles span three pairs)."""


def start_token(tokens: Sequence[str], params: StrategyParams) -> str:
    """The token a cycle is measured in: the first configured base token it contains, else the smallest address."""
    for t in params.base_tokens:
        if t in tokens:
            return t
    return min(tokens)


def _oriented(pools: Sequence[PoolState], tokens: Sequence[str], start: str) -> tuple[list[PoolState], list[str]]:
    """Rotate a cycle (pool i takes tokens[i] to tokens[i+1]) to begin at ``start``; path ends where it starts."""
    i = list(tokens).index(start)
    pools = [*pools[i:], *pools[:i]]
    path = [*tokens[i:], *tokens[:i], start]
    return pools, path


def _usable(state: Any, reference: Any | None, params: StrategyParams) -> bool:
    return (
        isinstance(state, PoolState) and state.tradable() and (reference is None or is_fresh(state, reference, params))
    )


def _triangles(view: MarketView, params: StrategyParams) -> list[tuple[PoolState, PoolState, PoolState]]:
    """Triangles (p_ab, p_bc, p_ca) through the trigger (or through every pool when there is none), deduplicated.

    Partners must be fresh relative to the trigger; without one, relative to the newest pool state given.
    """
    trigger = view.trigger
    if trigger is not None:
        firsts = [trigger] if _usable(trigger, None, params) else []
        reference = trigger
    else:
        firsts = [s for s in view if _usable(s, None, params)]
        reference = max(firsts, key=order_of, default=None)
        firsts = [s for s in firsts if _usable(s, reference, params)]
    seen: set[frozenset[str]] = set()
    found = []
    for first in firsts:
        a, b = first.token0, first.token1
        for c in view.common_neighbours(a, b):
            seconds = [p for p in view.between(b, c) if _usable(p, reference, params)]
            if not seconds:
                continue
            thirds = [p for p in view.between(c, a) if _usable(p, reference, params)]
            for second in seconds:
                for third in thirds:
                    key = frozenset((first.pool, second.pool, third.pool))
                    if key not in seen:
                        seen.add(key)
                        found.append((first, second, third))
    return found


def evaluate(states: Sequence[Any], params: StrategyParams, now_ns: int) -> list[Opportunity]:
    """Return the profitable 3-cycles among the states (through the trigger when given a view).

    Args:
        states: pool states of the token graph, or the detector's view of the join with its trigger.
        params: costs and policy.
        now_ns: detection time, ns since epoch.
    """
    view = as_view(states)
    found: list[Opportunity] = []
    sized = 0
    for p_ab, p_bc, p_ca in _triangles(view, params):
        a, b = p_ab.token0, p_ab.token1
        c = p_bc.other(b)
        best: Opportunity | None = None
        for pools, tokens in (((p_ab, p_bc, p_ca), (a, b, c)), ((p_ca, p_bc, p_ab), (a, c, b))):
            start = start_token(tokens, params)
            cycle, path = _oriented(pools, tokens, start)
            legs = [pool.leg(path[i]) for i, pool in enumerate(cycle)]
            if not profitable_at_margin(legs, params.flash_fee_bps):
                continue
            if params.max_hops_per_update and sized >= params.max_hops_per_update:
                break
            sized += 1
            opp = _size(cycle, path, legs, view, params, now_ns)
            if opp is not None and (best is None or opp.net_profit > best.net_profit):
                best = opp
        if best is not None:
            found.append(best)
    return found


def _size(
    cycle: list[PoolState], path: list[str], legs: list[Any], view: MarketView, params: StrategyParams, now_ns: int
) -> Opportunity | None:
    result = size_cycle(legs, params.flash_fee_bps)
    if result is None:
        return None
    sizing, _amounts = result
    token_in = path[0]
    decimals = cycle[0].decimals_of(token_in)
    price = native_price(token_in, decimals, view, params, view.trigger, cycle)
    if price is None:
        return None
    return build(
        strategy=NAME,
        params=params,
        pair="/".join(sorted(set(path))),
        used=cycle,
        path=path,
        venues=[p.venue for p in cycle],
        fees_bps=[p.fee_bps for p in cycle],
        sizing=sizing,
        token_in=token_in,
        token_in_decimals=decimals,
        price=price,
        trigger=view.trigger,
        now_ns=now_ns,
    )
