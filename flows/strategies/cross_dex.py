"""cross_dex: the same token pair on two venues, bought on one and sold on the other in one atomic cycle.

For two fresh pools of a pair on different venues, both directions and each start token are sized exactly (V2
pools with the closed form :func:`flows.amm.cycle.optimal_input`, a V3 pool leg with
:func:`flows.amm.mixed.optimal_input_mixed`), re-checked leg by leg with the integer formulas, and priced net of gas
(converted to the start token at the native token's pool price) and the flash-loan fee. The best direction per
pool couple is emitted when its net profit reaches ``min_net_profit``.

Called by the detector with a :class:`~flows.state.join.MarketView` whose ``trigger`` is the update being joined,
it sizes only the couples that include the trigger, against the other pools as of the trigger's event time.
Called with plain states, it sizes every couple (freshness relative to the newest state).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

from flows.amm.v2 import BPS
from flows.opportunity import Opportunity
from flows.pools import PoolState
from flows.state.join import MarketView, as_view
from flows.strategies.assemble import better, build, is_fresh, native_price
from flows.strategies.legs import profitable_at_margin, size_cycle
from flows.strategies.params import StrategyParams

NAME = "cross_dex"
JOIN_BY = "pair"
"""States of one token pair are joined together."""


def fresh_states(states: Sequence[PoolState], params: StrategyParams) -> list[PoolState]:
    """Drop states that are stale relative to the newest one (by time and by block)."""
    if not states:
        return []
    newest_ns = max(s.timestamp_ns for s in states)
    newest_block = max(s.block_number for s in states)
    max_age_ns = params.max_age_ms * 1_000_000
    return [
        s
        for s in states
        if newest_ns - s.timestamp_ns <= max_age_ns and newest_block - s.block_number <= params.max_age_blocks
    ]


def start_tokens(state: PoolState, params: StrategyParams) -> list[str]:
    """Tokens to measure profit in: configured base tokens of the pair, else both tokens."""
    preferred = [t for t in params.base_tokens if t in (state.token0, state.token1)]
    return preferred[:1] or [state.token0, state.token1]


def _couples(view: MarketView, params: StrategyParams, *, fast: bool = True) -> list[tuple[PoolState, PoolState]]:
    """The pool couples to size: those of the trigger with each fresh pool of its pair on another venue (each
    ``(lower address, higher address)``, in address order), or with no trigger every such couple of the view.

    ``fast`` is the trigger's loop of every update, inline; ``fast=False`` is the reference it is held to
    (tests/strategies/test_cross_dex_fast.py).
    """
    trigger = view.trigger
    if trigger is not None:
        if not isinstance(trigger, PoolState) or not trigger.tradable():
            return []
        if fast:
            return _trigger_couples(view, trigger, params)
        found = []
        for other in view.between(trigger.token0, trigger.token1):
            if (
                isinstance(other, PoolState)
                and other is not trigger
                and other.venue != trigger.venue
                and other.tradable()
                and is_fresh(other, trigger, params)
            ):
                found.append((trigger, other) if trigger.pool < other.pool else (other, trigger))
        return sorted(found, key=lambda c: (c[0].pool, c[1].pool))
    by_pair: dict[str, list[PoolState]] = {}
    for s in view:
        if isinstance(s, PoolState) and s.tradable():
            by_pair.setdefault(s.pair, []).append(s)
    found = []
    for pair in sorted(by_pair):
        fresh = fresh_states(by_pair[pair], params)
        found.extend((a, b) for a, b in combinations(sorted(fresh, key=lambda s: s.pool), 2) if a.venue != b.venue)
    return found


def _trigger_couples(view: MarketView, trigger: PoolState, params: StrategyParams) -> list[tuple[PoolState, PoolState]]:
    # is_fresh(other, trigger) for two pool states, inline. No sort: the view gives the pair's markets in key
    # (pool address) order, and every couple holds the trigger, so (lower, higher) couples come out in order.
    found = []
    max_age_ns, max_blocks = params.max_age_ms * 1_000_000, params.max_age_blocks
    venue, pool, t_ns, t_block = trigger.venue, trigger.pool, trigger.timestamp_ns, trigger.block_number
    for other in view.between(trigger.token0, trigger.token1):
        if (
            other is trigger
            or not isinstance(other, PoolState)
            or other.venue == venue
            or abs(t_ns - other.timestamp_ns) > max_age_ns
            or (t_block and other.block_number and abs(t_block - other.block_number) > max_blocks)
            or not other.tradable()
        ):
            continue
        found.append((trigger, other) if pool < other.pool else (other, trigger))
    return found


def _screen(a: PoolState, b: PoolState, flash_fee_bps: int) -> tuple[bool, bool]:
    """Whether token0 -> a -> b and token0 -> b -> a pay at the margin (exact; the hot path of every update)."""
    if a.v3 is None and b.v3 is None:
        # Two constant-product pools of one pair: the product of the two marginal rates, in integers.
        # a first: ga*a.r1 * gb*b.r0 * BPS > BPS*a.r0 * BPS*b.r1 * repay; b first: the same with a and b swapped.
        # Both share the fee factors and the two cross products of reserves (exact integers: same comparisons).
        gain = (BPS - a.fee_bps) * (BPS - b.fee_bps) * BPS
        cost = BPS * BPS * (BPS + flash_fee_bps)
        a_out, b_out = a.reserve1 * b.reserve0, b.reserve1 * a.reserve0
        return gain * a_out > cost * b_out, gain * b_out > cost * a_out
    return (
        profitable_at_margin([a.leg(a.token0), b.leg(a.token1)], flash_fee_bps),
        profitable_at_margin([b.leg(a.token0), a.leg(a.token1)], flash_fee_bps),
    )


def evaluate(states: Sequence[Any], params: StrategyParams, now_ns: int) -> list[Opportunity]:
    """Return the profitable cross-venue cycles among the latest states of a token pair.

    Args:
        states: pool states (any venues), or the detector's view of the join with its trigger.
        params: costs and policy.
        now_ns: detection time, ns since epoch (an argument so that replays are deterministic).
    """
    view = as_view(states)
    found: list[Opportunity] = []
    for a, b in _couples(view, params):
        # A couple has two cycles (token0 -> token1 on a then back on b, or the reverse), and whether one pays at
        # the margin does not depend on the token it starts in (a rotation): screen each once, size if it passes.
        a_first, b_first = _screen(a, b, params.flash_fee_bps)
        if not (a_first or b_first):
            continue
        best: Opportunity | None = None
        for token_in in start_tokens(a, params):
            for first, second in ((a, b), (b, a)):
                # token0 -> first -> second is the screened cycle; token1 -> first -> second is the other one.
                pays = a_first if (first is a) == (token_in == a.token0) else b_first
                if not pays:
                    continue
                opp = _size(first, second, token_in, view, params, now_ns)
                if opp is not None and better(opp, best):
                    best = opp
        if best is not None:
            found.append(best)
    return found


def _size(
    first: PoolState,
    second: PoolState,
    token_in: str,
    view: MarketView,
    params: StrategyParams,
    now_ns: int,
) -> Opportunity | None:
    middle = first.other(token_in)
    sized = size_cycle([first.leg(token_in), second.leg(middle)], params.flash_fee_bps)
    if sized is None:
        return None
    # Priced only once a size exists: most cycles never get here.
    price = native_price(token_in, first.decimals_of(token_in), view, params, view.trigger, (first, second))
    if price is None:
        return None
    sizing, _amounts = sized
    return build(
        strategy=NAME,
        params=params,
        pair=first.pair,
        used=(first, second),
        path=(token_in, middle, token_in),
        venues=(first.venue, second.venue),
        fees_bps=(first.fee_bps, second.fee_bps),
        sizing=sizing,
        token_in=token_in,
        token_in_decimals=first.decimals_of(token_in),
        price=price,
        trigger=view.trigger,
        now_ns=now_ns,
    )
