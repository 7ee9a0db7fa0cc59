"""The collector's output as ``market.pool_state`` records (pure).

One record is a pool after the last log of one block (``end_of_block`` true): V2 reserves, or V3 ``slot0``,
active liquidity, spacing and, whenever the tick map changed since the pool was last published (seed, mint,
burn), every initialized tick with its ``liquidityNet`` (``ticks``; empty means "unchanged", so an empty map is
not sent: a pool with no initialized tick has no liquidity, and the held map no longer matters). Identity: the
relay ``source`` of the collector, a ``sequence`` that increases by one per record, ``timestamp_ns`` = when the
record was built (the detector's event time) and ``event_timestamp_ns`` = the block's timestamp.
"""

from __future__ import annotations

from typing import Any

from flows.collector.state import V2, PoolChainState, PoolInfo, V2State, V3State
from schemas.serde import i256, u256

TOPIC = "market.pool_state"


def pool_state_record(
    info: PoolInfo,
    state: PoolChainState,
    *,
    block_number: int,
    block_timestamp_s: int,
    with_ticks: bool,
    source: int,
    sequence: int,
    now_ns: int,
) -> dict[str, Any]:
    """The ``market.pool_state`` record of a pool's state after block ``block_number``.

    Args:
        info: the pool.
        state: its state after the block.
        block_number: the block.
        block_timestamp_s: the block's timestamp, s since epoch.
        with_ticks: carry the whole tick map (V3; it changed since the pool was last published).
        source: relay SourceType of the collector.
        sequence: this record's sequence.
        now_ns: ns since epoch (the header timestamp and the trace's ``collector_ns``).
    """
    v2 = info.kind == V2
    zero = u256(0)
    if v2:
        assert isinstance(state, V2State)
        reserves = (u256(state.reserve0), u256(state.reserve1))
        price = liquidity = zero
        tick = 0
        ticks = []
    else:
        assert isinstance(state, V3State)
        reserves = (zero, zero)
        price, liquidity, tick = u256(state.sqrt_price_x96), u256(state.liquidity), state.tick
        # Empty means "unchanged": a pool without initialized ticks has no liquidity either way.
        held = sorted(state.ticks) if with_ticks else []
        ticks = [{"tick": t, "liquidity_net": i256(state.ticks[t][1])} for t in held]
    return {
        "source": source,
        "sequence": sequence,
        "timestamp_ns": now_ns,
        "pool": info.address,
        "venue": info.venue,
        "pool_type": info.pool_type,
        "token0": info.token0,
        "token1": info.token1,
        "token0_decimals": info.token0_decimals,
        "token1_decimals": info.token1_decimals,
        "reserve0": reserves[0],
        "reserve1": reserves[1],
        "sqrt_price_x96": price,
        "liquidity": liquidity,
        "tick": tick,
        "fee_rate": info.fee_bps,
        "block_number": block_number,
        "event_timestamp_ns": block_timestamp_s * 1_000_000_000,
        "trace": {"collector_ns": now_ns},
        "ticks": ticks,
        "tick_spacing": info.tick_spacing or None,
        "end_of_block": True,
    }
