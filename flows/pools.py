"""Pool state: the current state of one DEX pool, as the strategies price it (pure, no I/O).

A :class:`PoolState` is what the pool-state fold (:mod:`flows.state.fold`) emits after every event that changed a
tradable pool: constant-product reserves, or for a Uniswap-V3-style pool the ``slot0`` price, active liquidity and
the initialized ticks known so far (``v3``). Every state names the event it is as of: block, relay source,
sequence and timestamp, which is what opportunity ids and the freshness checks use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flows.amm.mixed import Leg, V3Leg
from flows.amm.v2 import Hop
from flows.amm.v3.pool import V3PoolState


@dataclass(frozen=True, slots=True)
class PoolState:
    """Latest known state of a pool.

    Amounts are raw token units; times are ns since the epoch.

    Attributes:
        pool: pool address, lower-case hex (the Kafka key of pool events).
        venue: VenueId of the DEX.
        token0: token0 address (a pool's tokens sorted as the pair contract sorts them).
        token1: token1 address.
        token0_decimals: decimals of token0.
        token1_decimals: decimals of token1.
        reserve0: token0 reserve (constant-product pools; 0 for V3 pools).
        reserve1: token1 reserve.
        fee_bps: swap fee in bps (a V3 pool's fee in pips / 100, for display).
        block_number: block of the newest event folded in.
        source: relay header SourceType of that event.
        sequence: relay header sequence of that event.
        timestamp_ns: relay header timestamp of that event (the event time of the joins).
        trace: stage times of that event (``base/trace.py``).
        v3: the concentrated-liquidity state when the pool is Uniswap-V3 style, else None.
    """

    pool: str
    venue: int
    token0: str
    token1: str
    token0_decimals: int
    token1_decimals: int
    reserve0: int
    reserve1: int
    fee_bps: int
    block_number: int
    source: int
    sequence: int
    timestamp_ns: int
    trace: dict[str, int] = field(default_factory=dict, compare=False)
    v3: V3PoolState | None = None

    @property
    def key(self) -> str:
        """The identity of the market this state belongs to (the pool address)."""
        return self.pool

    def __deepcopy__(self, memo: dict) -> PoolState:
        # Immutable (its trace is never mutated): Bytewax snapshots state with deepcopy, a copy would be waste.
        return self

    @property
    def pair(self) -> str:
        """The pool's token pair key: the two token addresses sorted and joined by '/'."""
        a, b = sorted((self.token0, self.token1))
        return f"{a}/{b}"

    @property
    def tokens(self) -> tuple[str, str]:
        """``(token0, token1)``."""
        return self.token0, self.token1

    def decimals_of(self, token: str) -> int:
        """Decimals of one of the pool's tokens."""
        return self.token0_decimals if token == self.token0 else self.token1_decimals

    def reserves_for(self, token_in: str) -> tuple[int, int]:
        """Return (reserve_in, reserve_out) for a swap that pays ``token_in`` into a constant-product pool.

        Raises:
            ValueError: ``token_in`` is not one of the pool's tokens.
        """
        if token_in == self.token0:
            return self.reserve0, self.reserve1
        if token_in == self.token1:
            return self.reserve1, self.reserve0
        msg = f"token {token_in} is not in pool {self.pool}"
        raise ValueError(msg)

    def other(self, token: str) -> str:
        """The pool's token that is not ``token``."""
        return self.token1 if token == self.token0 else self.token0

    def hop(self, token_in: str, fee_bps: int | None = None) -> Hop:
        """This constant-product pool as a cycle hop that takes ``token_in`` (fee: the state's unless given)."""
        reserve_in, reserve_out = self.reserves_for(token_in)
        return Hop(reserve_in, reserve_out, self.fee_bps if fee_bps is None else fee_bps)

    def leg(self, token_in: str, fee_bps: int | None = None) -> Leg:
        """This pool as an exact swap leg that takes ``token_in``: a V2 :class:`Hop` or a :class:`V3Leg`."""
        if self.v3 is not None:
            if token_in not in (self.token0, self.token1):
                msg = f"token {token_in} is not in pool {self.pool}"
                raise ValueError(msg)
            return V3Leg(self.v3, zero_for_one=token_in == self.token0)
        return self.hop(token_in, fee_bps)

    def tradable(self) -> bool:
        """True when a swap can be priced: both reserves positive, or a V3 price with active liquidity."""
        if self.v3 is not None:
            return self.v3.liquidity > 0
        return self.reserve0 > 0 and self.reserve1 > 0


def is_newer(update: PoolState, held: PoolState | None) -> bool:
    """True when ``update`` should replace ``held`` (newer block, or same block and later time/sequence)."""
    if held is None:
        return True
    return (update.block_number, update.timestamp_ns, update.sequence) > (
        held.block_number,
        held.timestamp_ns,
        held.sequence,
    )


def fold_pool(held: PoolState | None, update: PoolState) -> tuple[PoolState, PoolState | None]:
    """Fold one full pool state into the held one; return (state to keep, state to emit or None if stale).

    The event-level fold (sync, swap, mint, burn, tick, info) is :func:`flows.state.fold.fold_event`.
    """
    if is_newer(update, held):
        return update, update
    assert held is not None
    return held, None
