"""The arbitrage the validation trades, from two pools' reserves, with flows.amm's exact math (pure: no chain I/O).

The cycle starts and ends in one token: sell it on one venue for the pair's other token, sell that back on the
other venue. Both orders are sized with :func:`flows.amm.cycle.optimal_input` (closed form plus integer proof) and
the better one is taken; a chosen input is priced with :func:`flows.amm.cycle.cycle_sizing` and re-derived hop by
hop with :func:`flows.amm.v2.get_amounts_out` (``UniswapV2Library.getAmountsOut``), two independent computations
that must agree to the unit. The executor contract computes each hop with the same integer formula on the live
reserves, so what is predicted here is what the ``Arbitrage`` event must report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

from flows.amm.cycle import Sizing, cycle_sizing, optimal_input
from flows.amm.v2 import Hop, get_amounts_out
from flows.opportunity import InputState, Opportunity
from ops.simulator.chain.deploy import PairInfo

FLOW = "validate"
STRATEGY = "cross_dex"


@dataclass(frozen=True, slots=True)
class Pool:
    """A pair and its reserves at one block (raw units, pair order)."""

    pair: PairInfo
    reserve0: int
    reserve1: int

    def reserves(self, token_in: str) -> tuple[int, int]:
        """(reserve of ``token_in``, reserve of the other token)."""
        if token_in == self.pair.token0:
            return self.reserve0, self.reserve1
        return self.reserve1, self.reserve0

    def other(self, token: str) -> str:
        """The pair's other token."""
        return self.pair.token1 if token == self.pair.token0 else self.pair.token0

    def decimals(self, token: str) -> int:
        """Decimals of one of the pair's tokens."""
        return self.pair.token0_decimals if token == self.pair.token0 else self.pair.token1_decimals

    def hop(self, token_in: str) -> Hop:
        """This pool as a hop selling ``token_in``."""
        r_in, r_out = self.reserves(token_in)
        return Hop(r_in, r_out, self.pair.fee_bps)


@dataclass(frozen=True, slots=True)
class Cycle:
    """token_in -> middle on ``first``, middle -> token_in on ``second``.

    Attributes:
        token_in: the start (and end) token, lower-case address.
        first: the pool selling ``token_in``.
        second: the pool buying it back.
        optimal: the profit-maximising sizing.
        sizing: the sizing traded (the optimal one, or at the input asked for).
    """

    token_in: str
    first: Pool
    second: Pool
    optimal: Sizing
    sizing: Sizing

    @property
    def middle(self) -> str:
        """The pair's other token."""
        return self.first.other(self.token_in)

    @property
    def hops(self) -> list[Hop]:
        """The two hops in cycle order."""
        return [self.first.hop(self.token_in), self.second.hop(self.middle)]

    @property
    def path(self) -> tuple[str, str, str]:
        """Tokens along the cycle."""
        return (self.token_in, self.middle, self.token_in)


def best_cycle(a: Pool, b: Pool, token_in: str) -> Cycle:
    """The more profitable order of the two-pool cycle from ``token_in``, optimally sized (zeros if neither pays)."""
    cycles = []
    for first, second in ((a, b), (b, a)):
        hops = [first.hop(token_in), second.hop(first.other(token_in))]
        opt = optimal_input(hops)
        cycles.append(Cycle(token_in, first, second, opt, opt))
    return max(cycles, key=lambda c: c.optimal.net)


def at_input(cycle: Cycle, amount_in: int) -> Cycle:
    """The same cycle traded with ``amount_in`` (raw units of ``token_in``)."""
    return replace(cycle, sizing=cycle_sizing(amount_in, cycle.hops))


def cross_check(cycle: Cycle) -> int:
    """The cycle's output recomputed hop by hop with ``get_amounts_out`` (must equal ``cycle.sizing.amount_out``)."""
    return get_amounts_out(cycle.sizing.amount_in, cycle.hops)[-1]


def opportunity_id(chain_id: int, pools: Sequence[str], block: int, nonce: int, now_ns: int) -> str:
    """A fresh 32-hex-digit id (chain, pools, block, the owner's nonce and time: never reused across runs)."""
    text = f"{FLOW}|{chain_id}|{'>'.join(pools)}|{block}|{nonce}|{now_ns}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def make_opportunity(
    path: Sequence[str],
    pools: Sequence[PairInfo],
    amount_in: int,
    amount_out: int,
    *,
    chain_id: int,
    block: int,
    nonce: int,
    now_ns: int,
    valid_ns: int,
    gas_estimate: int,
    gas_price_wei: int,
) -> Opportunity:
    """The opportunity record the executor takes: the cycle ``path`` through ``pools`` (V2 and V3 in any mix).

    The validation's tokens need not have a price against the chain's gas token, so the gas cost in the start
    token is 0: the on-chain guard is then exactly the profit the executor is asked to reach (see the dry-run step).

    Args:
        path: tokens along the cycle, first == last (the start token).
        pools: the pools in cycle order; ``pools[i]`` sells ``path[i]`` for ``path[i + 1]``.
        amount_in: input, raw units of the start token.
        amount_out: what the cycle returns for it (flows.amm's prediction), raw units.
        chain_id: the chain.
        block: the block the pools were read at.
        nonce: the owner's next nonce (makes the id unique per run).
        now_ns: detection time, ns since epoch.
        valid_ns: how long the opportunity stays valid, ns (the executor's replace policy reads it).
        gas_estimate: gas units the trade is expected to use.
        gas_price_wei: the gas price it is expected to pay, wei per gas.
    """
    token_in = path[0]
    first = pools[0]
    return Opportunity(
        id=opportunity_id(chain_id, [p.address for p in pools], block, nonce, now_ns),
        flow=FLOW,
        strategy=STRATEGY,
        pair="/".join(sorted(set(path))),
        chain_id=chain_id,
        token_in=token_in,
        token_in_decimals=first.token0_decimals if token_in == first.token0 else first.token1_decimals,
        path=tuple(path),
        pools=tuple(p.address for p in pools),
        venues=tuple(p.venue for p in pools),
        fees_bps=tuple(p.fee_bps for p in pools),
        amount_in=amount_in,
        amount_out=amount_out,
        gas_estimate=gas_estimate,
        gas_price_wei=gas_price_wei,
        gas_cost=0,
        flash_fee=0,
        gross_profit_usd=0.0,
        net_profit_usd=0.0,
        inputs=tuple(InputState(p.address, block, 0, 0, now_ns) for p in pools),
        block_number=block,
        detected_ns=now_ns,
        valid_until_ns=now_ns + valid_ns,
        kinds=tuple(p.kind for p in pools),
    )


def to_opportunity(cycle: Cycle, **detected: int) -> Opportunity:
    """The opportunity record of ``cycle.sizing``; ``detected`` are :func:`make_opportunity`'s keywords (chain_id,
    block, nonce, now_ns, valid_ns, gas_estimate, gas_price_wei)."""
    pools = (cycle.first.pair, cycle.second.pair)
    return make_opportunity(cycle.path, pools, cycle.sizing.amount_in, cycle.sizing.amount_out, **detected)
