"""cross_dex: the same token pair on two venues, bought on one and sold on the other in one atomic cycle.

For every two fresh pools of the pair on different venues, both directions and each start token are sized with
the exact closed form (``flows.amm.cycle.optimal_input``), re-checked hop by hop with the integer getAmountOut,
and priced net of gas (converted to the start token at the pools' own native price) and the flash-loan fee.
The best direction per pool couple is emitted when its net profit reaches ``min_net_profit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from flows.amm.cycle import optimal_input
from flows.amm.profit import NativePrice, flash_loan_fee
from flows.amm.v2 import Hop
from flows.opportunity import Opportunity, input_states, opportunity_id
from flows.pools import PoolState
from flows.strategies.params import StrategyParams

NAME = "cross_dex"


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


def native_price(token: str, states: Sequence[PoolState], params: StrategyParams) -> NativePrice | None:
    """Exact price of 1 wei of the native token in raw ``token`` units, from the deepest native/token pool."""
    if token == params.native_token:
        return NativePrice(1, 1)
    best: PoolState | None = None
    for s in states:
        if {s.token0, s.token1} == {token, params.native_token} and (
            best is None or min(s.reserve0, s.reserve1) > min(best.reserve0, best.reserve1)
        ):
            best = s
    if best is None:
        return None
    reserve_native, reserve_token = best.reserves_for(params.native_token)
    return NativePrice(reserve_token, reserve_native) if reserve_native > 0 else None


def start_tokens(state: PoolState, params: StrategyParams) -> list[str]:
    """Tokens to measure profit in: configured base tokens of the pair, else both tokens."""
    preferred = [t for t in params.base_tokens if t in (state.token0, state.token1)]
    return preferred[:1] or [state.token0, state.token1]


def evaluate(states: Sequence[PoolState], params: StrategyParams, now_ns: int) -> list[Opportunity]:
    """Return the profitable cross-venue cycles among the latest states of one token pair.

    Args:
        states: the latest state of each pool of one pair (any venues).
        params: costs and policy.
        now_ns: detection time, ns since epoch (an argument so that replays are deterministic).
    """
    fresh = fresh_states(states, params)
    found: list[Opportunity] = []
    for a, b in combinations(sorted(fresh, key=lambda s: s.pool), 2):
        if a.venue == b.venue:
            continue
        best: Opportunity | None = None
        for token_in in start_tokens(a, params):
            price = native_price(token_in, fresh, params)
            if price is None:
                continue
            for first, second in ((a, b), (b, a)):
                opp = _size(first, second, token_in, price, params, now_ns)
                if opp is not None and (best is None or opp.net_profit > best.net_profit):
                    best = opp
        if best is not None:
            found.append(best)
    return found


def _size(
    first: PoolState,
    second: PoolState,
    token_in: str,
    price: NativePrice,
    params: StrategyParams,
    now_ns: int,
) -> Opportunity | None:
    middle = first.other(token_in)
    fee1 = params.fee_for(first.pool, first.venue)
    fee2 = params.fee_for(second.pool, second.venue)
    hops = [Hop(*first.reserves_for(token_in), fee1), Hop(*second.reserves_for(middle), fee2)]
    sizing = optimal_input(hops, flash_fee_bps=params.flash_fee_bps)
    if sizing.amount_in <= 0 or sizing.profit <= 0:
        return None
    gas_cost = price.to_x_ceil(params.gas_units * params.gas_price_wei)
    flash_fee = flash_loan_fee(sizing.amount_in, params.flash_fee_bps)
    net = sizing.amount_out - sizing.amount_in - gas_cost - flash_fee
    if net < params.min_net_profit:
        return None
    decimals = first.token0_decimals if token_in == first.token0 else first.token1_decimals
    path = (token_in, middle, token_in)
    used = (first, second)
    gross = sizing.amount_out - sizing.amount_in
    # The trace of the update that triggered this evaluation (the newest input), not a mix of both inputs.
    trace = dict(max(used, key=lambda s: s.trace.get("detect_in_ns", 0)).trace)
    return Opportunity(
        id=opportunity_id(params.flow, NAME, used, path),
        flow=params.flow,
        strategy=NAME,
        pair=first.pair,
        chain_id=params.chain_id,
        token_in=token_in,
        token_in_decimals=decimals,
        path=path,
        pools=(first.pool, second.pool),
        venues=(first.venue, second.venue),
        fees_bps=(fee1, fee2),
        amount_in=sizing.amount_in,
        amount_out=sizing.amount_out,
        gas_estimate=params.gas_units,
        gas_price_wei=params.gas_price_wei,
        gas_cost=gas_cost,
        flash_fee=flash_fee,
        gross_profit_usd=params.usd(token_in, gross, decimals),
        net_profit_usd=params.usd(token_in, net, decimals),
        inputs=input_states(used),
        block_number=max(s.block_number for s in used),
        detected_ns=now_ns,
        valid_until_ns=now_ns + params.validity_ms * 1_000_000,
        trace=trace,
    )
