"""Read a deployment's pools from the chain as the pool states the strategies price: exact, raw units.

A V2 pair is its ``getReserves()``. A V3 pool is ``slot0`` (price, tick), ``liquidity()``, its fee and tick spacing
and every initialized tick's ``liquidityNet``: the candidate ticks are the bounds of the pool's ``Mint`` logs (a
tick is initialized only by a position bounded by it), kept when ``ticks(t).liquidityGross`` is non-zero; so the
state is the pool's whole tick map, not a window of it, and ``V3PoolState.swap_exact_in`` on it is what the pool's
own ``swap`` pays. Meant for the local chain and tests (the Mint logs are read from block 0).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from eth_utils import keccak
from web3 import Web3

from flows.amm.v3.pool import V3PoolState
from flows.pools import PoolState
from flows.relay.protocol import SourceType
from ops.simulator.chain.deploy import PairInfo
from ops.simulator.chain.uniswap import genuine, read_v2_reserves

MINT_TOPIC = "0x" + keccak(text="Mint(address,address,int24,int24,uint128,uint256,uint256)").hex()


def _int24(topic: bytes) -> int:
    return int.from_bytes(bytes(topic), "big", signed=True)


def read_v3_state(w3: Web3, pool: PairInfo, block: int | str = "latest") -> V3PoolState:
    """The V3 pool's swap state at ``block`` (see the module doc)."""
    p = genuine(w3, "UniswapV3Pool", pool.address)
    block_number = w3.eth.block_number if block == "latest" else int(block)
    slot0 = p.functions.slot0().call(block_identifier=block_number)
    liquidity = int(p.functions.liquidity().call(block_identifier=block_number))
    logs = w3.eth.get_logs(
        {"address": p.address, "topics": [MINT_TOPIC], "fromBlock": 0, "toBlock": block_number}  # type: ignore[typeddict-item]
    )
    candidates = sorted({_int24(log["topics"][i]) for log in logs for i in (2, 3)})
    ticks: dict[int, int] = {}
    for tick in candidates:
        gross, net, *_ = p.functions.ticks(tick).call(block_identifier=block_number)
        if int(gross):
            ticks[tick] = int(net)
    return V3PoolState(int(slot0[0]), int(slot0[1]), liquidity, pool.fee_pips, pool.tick_spacing, ticks)


def read_state(
    w3: Web3, pool: PairInfo, block: int | str = "latest", sequence: int = 0, now_ns: int | None = None
) -> PoolState:
    """One pool's state at ``block`` as a :class:`PoolState` (source POLYGON_COLLECTOR, like the watcher's)."""
    number = w3.eth.block_number if block == "latest" else int(block)
    now = time.time_ns() if now_ns is None else now_ns
    reserves, v3 = (0, 0), None
    if pool.kind == "v3":
        v3 = read_v3_state(w3, pool, number)
    else:
        reserves = read_v2_reserves(w3, pool.address, number)
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
        now,
        v3=v3,
    )


def read_states(w3: Web3, pools: Sequence[PairInfo], block: int | str = "latest", sequence: int = 0) -> list[PoolState]:
    """Every pool's state at one block (``latest`` is pinned to one number first), in the order given."""
    number = w3.eth.block_number if block == "latest" else int(block)
    now = time.time_ns()
    return [read_state(w3, p, number, sequence, now) for p in pools]
