"""Pool state: the current reserves of each pool, folded from pool events (pure, no I/O).

``fold_pool`` is the per-pool state step: it keeps the newest state by (block_number, sequence) and ignores
updates that are older than the state it holds (replays and out-of-order partitions cannot move a pool back).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class PoolState:
    """Latest known state of a constant-product pool.

    Amounts are raw token units; times are ns since the epoch.
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

    @property
    def pair(self) -> str:
        """The pool's token pair key: the two token addresses sorted and joined by '/'."""
        a, b = sorted((self.token0, self.token1))
        return f"{a}/{b}"

    def reserves_for(self, token_in: str) -> tuple[int, int]:
        """Return (reserve_in, reserve_out) for a swap that pays ``token_in`` into the pool."""
        if token_in == self.token0:
            return self.reserve0, self.reserve1
        if token_in == self.token1:
            return self.reserve1, self.reserve0
        msg = f"token {token_in} is not in pool {self.pool}"
        raise ValueError(msg)

    def other(self, token: str) -> str:
        """The pool's token that is not ``token``."""
        return self.token1 if token == self.token0 else self.token0


def is_newer(update: PoolState, held: PoolState | None) -> bool:
    """True when ``update`` should replace ``held`` (newer block, or same block and later sequence)."""
    if held is None:
        return True
    return (update.block_number, update.timestamp_ns, update.sequence) > (
        held.block_number,
        held.timestamp_ns,
        held.sequence,
    )


def fold_pool(held: PoolState | None, update: PoolState) -> tuple[PoolState, PoolState | None]:
    """Fold one update into a pool's state; return (state to keep, state to emit or None if stale)."""
    if is_newer(update, held):
        return update, update
    assert held is not None
    return held, None
