"""Read a deployment's pools from the chain as the pool states the strategies price: exact, raw units.

The chain collector's own seeding reads them (:func:`flows.collector.engine.read_pool_states`, batched JSON-RPC
calls pinned to one block): a V2 pair is its ``getReserves()``; a V3 pool is ``slot0`` (price, tick),
``liquidity()``, its fee and tick spacing and every initialized tick's ``liquidityNet``, found from the pool's
``tickBitmap`` words. So the state is the pool's whole tick map, not a window of it, and
``V3PoolState.swap_exact_in`` on it is what the pool's own ``swap`` pays; no log is read, so a node that caps
``eth_getLogs`` serves it as well as the local chain.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from web3 import Web3

from flows.amm.v3.pool import V3PoolState
from flows.collector.engine import read_pool_states
from flows.collector.state import V2, V3, PoolChainState, PoolInfo, V2State, V3State
from flows.connectors.rpc import JsonRpc, RpcUnavailable
from flows.pools import PoolState
from flows.relay.protocol import SourceType
from ops.simulator.chain.deploy import PairInfo


def _info(pool: PairInfo) -> PoolInfo:
    """What the collector knows of a pool once it has checked it (the deployment knows it already)."""
    return PoolInfo(
        address=pool.address,
        kind=V3 if pool.kind == "v3" else V2,
        factory="",
        venue=pool.venue,
        pool_type=0,
        token0=pool.token0,
        token1=pool.token1,
        token0_decimals=pool.token0_decimals,
        token1_decimals=pool.token1_decimals,
        fee=pool.fee,
        tick_spacing=pool.tick_spacing,
    )


def _read(w3: Web3, pools: Sequence[PairInfo], number: int) -> list[PoolChainState]:
    """The pools' chain states at block ``number``, in the order given.

    Raises:
        RpcUnavailable: the node cannot be reached, or cannot give a pool's state at that block.
    """
    rpc = JsonRpc(str(w3.provider.endpoint_uri))  # type: ignore[attr-defined]
    try:
        states, failed = read_pool_states(rpc, [_info(p) for p in pools], hex(number))
    finally:
        rpc.close()
    if failed:
        pool, reason = next(iter(failed.items()))
        msg = f"pool {pool}: its state at block {number} cannot be read from {rpc.where}: {reason}"
        raise RpcUnavailable(msg)
    return [states[p.address] for p in pools]


def _v3(pool: PairInfo, state: V3State) -> V3PoolState:
    ticks = state.net_map()
    return V3PoolState(state.sqrt_price_x96, state.tick, state.liquidity, pool.fee_pips, pool.tick_spacing, ticks)


def read_v3_state(w3: Web3, pool: PairInfo, block: int | str = "latest") -> V3PoolState:
    """The V3 pool's swap state at ``block`` (see the module doc)."""
    number = w3.eth.block_number if block == "latest" else int(block)
    state = _read(w3, [pool], number)[0]
    assert isinstance(state, V3State), f"{pool.address} is not a V3 pool"
    return _v3(pool, state)


def _pool_state(pool: PairInfo, state: PoolChainState, number: int, sequence: int, now_ns: int) -> PoolState:
    """A chain state as a :class:`PoolState` (source POLYGON_COLLECTOR, like the watcher's)."""
    reserves, v3 = (0, 0), None
    if isinstance(state, V2State):
        reserves = (state.reserve0, state.reserve1)
    else:
        v3 = _v3(pool, state)
    return PoolState(
        pool.address,
        pool.venue,
        pool.token0,
        pool.token1,
        pool.token0_decimals,
        pool.token1_decimals,
        reserves[0],
        reserves[1],
        pool.fee_bps,
        number,
        int(SourceType.POLYGON_COLLECTOR),
        sequence,
        now_ns,
        v3=v3,
    )


def read_state(
    w3: Web3, pool: PairInfo, block: int | str = "latest", sequence: int = 0, now_ns: int | None = None
) -> PoolState:
    """One pool's state at ``block`` as a :class:`PoolState` (source POLYGON_COLLECTOR, like the watcher's)."""
    number = w3.eth.block_number if block == "latest" else int(block)
    now = time.time_ns() if now_ns is None else now_ns
    return _pool_state(pool, _read(w3, [pool], number)[0], number, sequence, now)


def read_states(w3: Web3, pools: Sequence[PairInfo], block: int | str = "latest", sequence: int = 0) -> list[PoolState]:
    """Every pool's state at one block (``latest`` is pinned to one number first), in the order given."""
    number = w3.eth.block_number if block == "latest" else int(block)
    now = time.time_ns()
    return [_pool_state(p, st, number, sequence, now) for p, st in zip(pools, _read(w3, pools, number), strict=True)]
