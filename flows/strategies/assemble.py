"""What every strategy does around the sizing: freshness, gas in the profit token, and the opportunity record.

Costs, in raw units of the cycle's start token X:

- gas: ``gas_units * gas_price_wei`` wei of the native (gas) token, converted at the exact price of the deepest
  pool between the native token and X among the opportunity's own inputs, else the deepest fresh such pool of the
  join (constant-product reserves, or a V3 pool's ``slot0`` price), rounded up; when there is none, at the
  configured USD prices (exact decimal ratio). No price: no opportunity (an unpriceable cost is not assumed to be
  zero). The cycle's own pools come first so that an opportunity's cost depends only on the states its id names:
  with several workers the other pools of a join arrive in no fixed order, and an id is emitted once.
- flash-loan premium: ``flash_fee_bps`` of the input, rounded up (cex_dex trades from inventory: none).

The gas price a strategy uses is ``params.gas_price_wei``. In the detector flow the strategies run with gas at 0
and :func:`reprice` applies the newest ``market.gas_price`` (or the spec default) afterwards: the size does not
depend on gas, only whether the cycle is worth executing does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from operator import attrgetter
from typing import Any

from flows.amm.cycle import Sizing
from flows.amm.profit import NativePrice, flash_loan_fee
from flows.opportunity import Opportunity, input_states, opportunity_id
from flows.pools import PoolState
from flows.state.join import MarketView
from flows.strategies.params import StrategyParams

_Q192 = 2**192


def is_fresh(state: Any, trigger: Any, params: StrategyParams) -> bool:
    """True when ``state`` may be joined with ``trigger``: within ``max_age_ms`` (``max_quote_age_ms`` for CEX
    quotes) of it in event time, and for two pool states within ``max_age_blocks`` blocks."""
    if state is trigger:
        return True
    limit = params.max_age_ms * 1_000_000 if isinstance(state, PoolState) else params.quote_age_ns()
    if abs(trigger.timestamp_ns - state.timestamp_ns) > limit:
        return False
    if state.block_number and trigger.block_number:
        return abs(trigger.block_number - state.block_number) <= params.max_age_blocks
    return True


def _pool_native_price(pool: PoolState, native: str) -> tuple[int, NativePrice] | None:
    """(depth in native wei, price of 1 native wei in the other token) from one pool, or None."""
    if pool.v3 is not None:
        price = pool.v3.sqrt_price_x96 * pool.v3.sqrt_price_x96
        if price == 0:
            return None
        # Virtual native reserve of the active range (L / sqrtP for token0, L * sqrtP for token1), for ranking only.
        depth = pool.v3.liquidity * (2**96) // pool.v3.sqrt_price_x96 if native == pool.token0 else 0
        return depth, NativePrice(price, _Q192) if native == pool.token0 else NativePrice(_Q192, price)
    reserve_native, reserve_token = pool.reserves_for(native)
    if reserve_native <= 0:
        return None
    return reserve_native, NativePrice(reserve_token, reserve_native)


def _deepest_native_price(states: Sequence[Any], native: str) -> NativePrice | None:
    best: tuple[int, NativePrice] | None = None
    for state in states:
        found = _pool_native_price(state, native)
        if found is not None and (best is None or found[0] > best[0]):
            best = found
    return None if best is None else best[1]


def native_price(
    token: str,
    decimals: int,
    view: MarketView,
    params: StrategyParams,
    trigger: Any | None = None,
    used: Sequence[Any] = (),
) -> NativePrice | None:
    """Exact price of 1 wei of the native token in raw ``token`` units (see the module docstring).

    ``used`` are the opportunity's own input states: a pool among them between ``token`` and the native token is
    preferred to the rest of the view.
    """
    native = params.native_token
    if token == native:
        return NativePrice(1, 1)
    ends = {token, native}
    own = sorted((s for s in used if isinstance(s, PoolState) and {s.token0, s.token1} == ends), key=lambda s: s.key)
    price = _deepest_native_price(own, native)
    if price is not None:
        return price
    fresh = [
        s
        for s in view.between(token, native)
        if isinstance(s, PoolState) and (trigger is None or is_fresh(s, trigger, params))
    ]
    price = _deepest_native_price(fresh, native)
    return price if price is not None else params.usd_native_price(token, decimals)


def pool_kind(state: Any) -> str:
    """An input's hop kind as the executor trades it: ``v3`` (concentrated liquidity), ``v2`` (constant product),
    or ``cex`` for an exchange quote."""
    if isinstance(state, PoolState):
        return "v2" if state.v3 is None else "v3"
    return "cex"


def trace_of(trigger: Any | None, used: Sequence[Any]) -> dict[str, int]:
    """The trace of the update that caused the evaluation (else the most recently decoded input's)."""
    if trigger is not None:
        return dict(trigger.trace)
    return dict(max(used, key=lambda s: s.trace.get("detect_in_ns", 0)).trace)


def build(
    *,
    strategy: str,
    params: StrategyParams,
    pair: str,
    used: Sequence[Any],
    path: Sequence[str],
    venues: Sequence[int],
    fees_bps: Sequence[int],
    sizing: Sizing,
    token_in: str,
    token_in_decimals: int,
    price: NativePrice,
    trigger: Any | None,
    now_ns: int,
    flash_fee_bps: int | None = None,
) -> Opportunity | None:
    """Cost a sized cycle and return its opportunity, or None when its net profit is below ``min_net_profit``.

    Args:
        strategy: strategy name (part of the id).
        params: costs and policy.
        pair: the opportunity's key (token pair, or the cycle's tokens).
        used: the input states in cycle order (pools, or a pool and a CEX quote).
        path: tokens along the cycle, first == last.
        venues: venue of each leg.
        fees_bps: fee of each leg, bps.
        sizing: the re-checked sizing.
        token_in: start token X.
        token_in_decimals: its decimals.
        price: 1 wei of the native token in raw X.
        trigger: the update that caused the evaluation (its trace is kept), or None.
        now_ns: detection time, ns since epoch.
        flash_fee_bps: the flash premium to charge (default ``params.flash_fee_bps``).
    """
    flash_bps = params.flash_fee_bps if flash_fee_bps is None else flash_fee_bps
    gas_cost = price.to_x_ceil(params.gas_units * params.gas_price_wei)
    flash_fee = flash_loan_fee(sizing.amount_in, flash_bps)
    gross = sizing.amount_out - sizing.amount_in
    net = gross - gas_cost - flash_fee
    if net < params.min_net_profit:
        return None
    return Opportunity(
        id=opportunity_id(params.flow, strategy, used, path),
        flow=params.flow,
        strategy=strategy,
        pair=pair,
        chain_id=params.chain_id,
        token_in=token_in,
        token_in_decimals=token_in_decimals,
        path=tuple(path),
        pools=tuple(s.pool for s in used),
        venues=tuple(venues),
        fees_bps=tuple(fees_bps),
        amount_in=sizing.amount_in,
        amount_out=sizing.amount_out,
        gas_estimate=params.gas_units,
        gas_price_wei=params.gas_price_wei,
        gas_cost=gas_cost,
        flash_fee=flash_fee,
        gross_profit_usd=params.usd(token_in, gross, token_in_decimals),
        net_profit_usd=params.usd(token_in, net, token_in_decimals),
        inputs=input_states(used),
        block_number=max(s.block_number for s in used),
        detected_ns=now_ns,
        valid_until_ns=now_ns + params.validity_ms * 1_000_000,
        kinds=tuple(pool_kind(s) for s in used),
        trace=trace_of(trigger, used),
        native_price=price,
    )


def better(opp: Opportunity, best: Opportunity | None) -> bool:
    """Whether ``opp`` beats ``best``: by net profit in raw units when both start in the same token, else by the
    display USD value (raw units of two tokens do not compare; with no USD prices the first found is kept)."""
    if best is None:
        return True
    if opp.token_in == best.token_in:
        return opp.net_profit > best.net_profit
    return opp.net_profit_usd > best.net_profit_usd


def reprice(opp: Opportunity, gas_price_wei: int, params: StrategyParams) -> Opportunity | None:
    """The opportunity costed at another gas price, or None when its net profit falls below ``min_net_profit``.

    The size and amounts are unchanged (gas is a fixed cost); gas cost, net USD and ``gas_price_wei`` follow.
    """
    if opp.native_price is None:
        return opp
    gas_cost = opp.native_price.to_x_ceil(opp.gas_estimate * gas_price_wei)
    net = opp.gross_profit - gas_cost - opp.flash_fee
    if net < params.min_net_profit:
        return None
    values = list(_VALUES(opp))  # dataclasses.replace, without its per-call introspection (every opportunity)
    values[_GAS_PRICE], values[_GAS_COST] = gas_price_wei, gas_cost
    values[_NET_USD] = params.usd(opp.token_in, net, opp.token_in_decimals)
    return Opportunity(*values)


_FIELDS = tuple(f.name for f in fields(Opportunity))
_VALUES = attrgetter(*_FIELDS)
_GAS_PRICE, _GAS_COST, _NET_USD = (_FIELDS.index(n) for n in ("gas_price_wei", "gas_cost", "net_profit_usd"))
