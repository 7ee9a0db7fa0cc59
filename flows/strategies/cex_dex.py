"""cex_dex: a DEX pool against a CEX's best bid/ask for the same asset, profit in the quote token.

Two cycles per (pool, quote), both starting and ending in the CEX quote currency's token X (USDC for USD):

- ``dex_buy``: pay X into the pool for the base token, sell that base on the CEX at the bid;
- ``cex_buy``: buy the base on the CEX at the ask, sell it into the pool for X.

The CEX leg is a fill at the quoted price net of the taker fee (``taker_fee_bps`` of the notional), capped at the
quoted size: base -> X pays ``floor(b * bid * 10**dX * (1e4 - fee) / (1e8 * 10**dB * 1e4))`` and X -> base the
inverse at the ask. The pool leg is the exact V2/V3 swap. Each cycle is sized with
:func:`flows.amm.mixed.optimal_input_mixed`, re-checked leg by leg, and net of the DEX leg's gas.

Assumptions (see docs/flows.md): inventory is held on both sides (X and the base token on the chain and on the
exchange), so there is no flash loan and no transfer between venues; the CEX leg fills at the quote price up to the
quoted size (a taker order against the top of book, no depth beyond it); the quote currency and its chain token
are at par (USD = USDC); a quote side older than ``max_quote_age_ms`` is not used; detection only (the CEX leg is
not executed by pulsearb). Trades count as one-sided quotes (:mod:`flows.state.quotes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flows.amm.v2 import BPS
from flows.opportunity import Opportunity
from flows.pools import PoolState
from flows.state.join import MarketView, as_view
from flows.state.quotes import E8, CexQuote
from flows.strategies.assemble import build, is_fresh, native_price
from flows.strategies.legs import CexLeg, size_cycle
from flows.strategies.params import StrategyParams

NAME = "cex_dex"
JOIN_BY = "pair"
"""A CEX instrument's quotes are joined with the pools of the token pair it stands for."""


def sell_leg(quote: CexQuote) -> CexLeg:
    """Sell the base token at the bid: base raw units in, quote-token raw units out, taker fee deducted."""
    numerator = quote.bid_price * 10**quote.quote_decimals * (BPS - quote.taker_fee_bps)
    denominator = E8 * 10**quote.base_decimals * BPS
    cap = quote.bid_size * 10**quote.base_decimals // E8
    return CexLeg(numerator, denominator, cap)


def buy_leg(quote: CexQuote) -> CexLeg:
    """Buy the base token at the ask: quote-token raw units in, base raw units out, taker fee deducted."""
    numerator = E8 * 10**quote.base_decimals * (BPS - quote.taker_fee_bps)
    denominator = quote.ask_price * 10**quote.quote_decimals * BPS
    # The quote-token notional of the quoted size: size (x1e8) * price (x1e8), in raw quote units.
    cap = quote.ask_size * quote.ask_price * 10**quote.quote_decimals // (E8 * E8)
    return CexLeg(numerator, denominator, cap)


def _side_fresh(side_ns: int, reference_ns: int, params: StrategyParams) -> bool:
    return side_ns > 0 and abs(reference_ns - side_ns) <= params.quote_age_ns()


def _couples(view: MarketView, params: StrategyParams) -> list[tuple[PoolState, CexQuote]]:
    trigger = view.trigger
    if isinstance(trigger, PoolState):
        return [
            (trigger, q)
            for q in view.between(trigger.token0, trigger.token1)
            if isinstance(q, CexQuote) and is_fresh(q, trigger, params)
        ]
    if isinstance(trigger, CexQuote):
        return [
            (p, trigger)
            for p in view.between(trigger.base, trigger.quote)
            if isinstance(p, PoolState) and is_fresh(p, trigger, params)
        ]
    if trigger is not None:
        return []
    quotes = [s for s in view if isinstance(s, CexQuote)]
    return [
        (p, q)
        for q in quotes
        for p in view.between(q.base, q.quote)
        if isinstance(p, PoolState) and is_fresh(p, q, params)
    ]


def evaluate(states: Sequence[Any], params: StrategyParams, now_ns: int) -> list[Opportunity]:
    """Return the profitable pool-vs-CEX cycles (best direction per pool and instrument).

    Args:
        states: pool states and CEX quotes (:class:`~flows.state.quotes.CexQuote`), or the detector's view.
        params: costs and policy (``gas_*``, ``max_quote_age_ms``, ``min_net_profit``).
        now_ns: detection time, ns since epoch.
    """
    view = as_view(states)
    found: list[Opportunity] = []
    for pool, quote in _couples(view, params):
        if not pool.tradable() or {pool.token0, pool.token1} != {quote.base, quote.quote}:
            continue
        reference_ns = (view.trigger or pool).timestamp_ns
        x, base = quote.quote, quote.base
        candidates = []
        if quote.bid_price > 0 and _side_fresh(quote.bid_ns, reference_ns, params):
            candidates.append(([pool.leg(x), sell_leg(quote)], (pool, quote), (x, base, x)))
        if quote.ask_price > 0 and _side_fresh(quote.ask_ns, reference_ns, params):
            candidates.append(([buy_leg(quote), pool.leg(base)], (quote, pool), (x, base, x)))
        best: Opportunity | None = None
        for legs, used, path in candidates:
            opp = _size(legs, used, path, pool, quote, view, params, now_ns)
            if opp is not None and (best is None or opp.net_profit > best.net_profit):
                best = opp
        if best is not None:
            found.append(best)
    return found


def _size(
    legs: list[Any],
    used: tuple[Any, Any],
    path: tuple[str, str, str],
    pool: PoolState,
    quote: CexQuote,
    view: MarketView,
    params: StrategyParams,
    now_ns: int,
) -> Opportunity | None:
    result = size_cycle(legs, flash_fee_bps=0)
    if result is None:
        return None
    sizing, _amounts = result
    x = path[0]
    decimals = quote.quote_decimals
    price = native_price(x, decimals, view, params, view.trigger, used)
    if price is None:
        return None
    return build(
        strategy=NAME,
        params=params,
        pair=pool.pair,
        used=used,
        path=path,
        venues=[s.venue for s in used],
        fees_bps=[pool.fee_bps if s is pool else quote.taker_fee_bps for s in used],
        sizing=sizing,
        token_in=x,
        token_in_decimals=decimals,
        price=price,
        trigger=view.trigger,
        now_ns=now_ns,
        flash_fee_bps=0,
    )
