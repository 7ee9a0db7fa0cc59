"""What the collector reads from Uniswap V2/V3 contracts: event topics, log decoding, call data and results (pure).

Logs come in as the node's JSON (:func:`raw_log`) and leave as typed events (:func:`decode_log`), one class per
event the collector applies or discovers with:

- V2 pair ``Sync(uint112 reserve0, uint112 reserve1)``;
- V3 pool ``Swap``, ``Mint``, ``Burn`` and ``Initialize`` (v3-core ``IUniswapV3PoolEvents``);
- factory ``PairCreated`` (V2) and ``PoolCreated`` (V3).

Every word is decoded by slicing the 32-byte ABI words (the layouts are fixed), which is what makes following
fast; :func:`decode_log` returns None for a log whose topics or data do not have the event's shape, so a node that
lies about a log cannot make the collector apply garbage.

Calls (:class:`Call`) are ``(to, calldata)`` pairs built from 4-byte selectors; their results are read with the
``word``/``signed``/``address_of`` helpers by :mod:`flows.collector.seed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

__all__ = [
    "EVENT_TOPICS",
    "POOL_TOPICS",
    "Burn",
    "Call",
    "ChainEvent",
    "Initialize",
    "Mint",
    "PairCreated",
    "PoolCreated",
    "RawLog",
    "Swap",
    "Sync",
    "address_of",
    "call",
    "decode_log",
    "raw_log",
    "selector",
    "signed",
    "topic",
    "word",
]


def topic(signature: str) -> str:
    """The topic0 of an event signature, ``0x`` + 64 hex."""
    return "0x" + keccak(text=signature).hex()


def selector(signature: str) -> bytes:
    """The 4-byte function selector of a signature such as ``getReserves()``."""
    return keccak(text=signature)[:4]


SYNC = topic("Sync(uint112,uint112)")
SWAP = topic("Swap(address,address,int256,int256,uint160,uint128,int24)")
MINT = topic("Mint(address,address,int24,int24,uint128,uint256,uint256)")
BURN = topic("Burn(address,int24,int24,uint128,uint256,uint256)")
INITIALIZE = topic("Initialize(uint160,int24)")
PAIR_CREATED = topic("PairCreated(address,address,address,uint256)")
POOL_CREATED = topic("PoolCreated(address,address,uint24,int24,address)")

#: Topics of the pool events the collector applies.
POOL_TOPICS = (SYNC, SWAP, MINT, BURN, INITIALIZE)
#: Every topic the collector asks ``eth_getLogs`` for (pool events and pool creations).
EVENT_TOPICS = (*POOL_TOPICS, PAIR_CREATED, POOL_CREATED)


@dataclass(frozen=True, slots=True)
class RawLog:
    """One log as the node reported it (addresses and hashes lower-case hex)."""

    address: str
    topics: tuple[str, ...]
    data: bytes
    block_number: int
    block_hash: str
    log_index: int
    removed: bool = False


def raw_log(obj: dict[str, Any]) -> RawLog:
    """A JSON-RPC log object as a :class:`RawLog`.

    Raises:
        KeyError, ValueError, TypeError, AttributeError: the object is not a log.
    """
    data = obj["data"]
    return RawLog(
        address=obj["address"].lower(),
        topics=tuple(t.lower() for t in obj["topics"]),
        data=bytes.fromhex(data[2:]),
        block_number=int(obj["blockNumber"], 16),
        block_hash=obj["blockHash"].lower(),
        log_index=int(obj["logIndex"], 16),
        removed=bool(obj.get("removed", False)),
    )


@dataclass(frozen=True, slots=True)
class Sync:
    """A V2 pair's reserves after a change."""

    reserve0: int
    reserve1: int


@dataclass(frozen=True, slots=True)
class Swap:
    """A V3 swap: the pool's price, active liquidity and tick after it (absolute values)."""

    amount0: int
    amount1: int
    sqrt_price_x96: int
    liquidity: int
    tick: int


@dataclass(frozen=True, slots=True)
class Mint:
    """Liquidity ``amount`` added to the position ``[tick_lower, tick_upper)``."""

    owner: str
    tick_lower: int
    tick_upper: int
    amount: int


@dataclass(frozen=True, slots=True)
class Burn:
    """Liquidity ``amount`` removed from ``[tick_lower, tick_upper)`` (0: a poke, which changes nothing)."""

    owner: str
    tick_lower: int
    tick_upper: int
    amount: int


@dataclass(frozen=True, slots=True)
class Initialize:
    """A V3 pool's first price."""

    sqrt_price_x96: int
    tick: int


@dataclass(frozen=True, slots=True)
class PairCreated:
    """A V2 factory created ``pair`` for ``(token0, token1)``."""

    token0: str
    token1: str
    pair: str


@dataclass(frozen=True, slots=True)
class PoolCreated:
    """A V3 factory created ``pool`` for ``(token0, token1, fee)`` with ``tick_spacing``."""

    token0: str
    token1: str
    fee: int
    tick_spacing: int
    pool: str


ChainEvent = Sync | Swap | Mint | Burn | Initialize | PairCreated | PoolCreated


def word(data: bytes, i: int) -> int:
    """The i-th 32-byte word of ABI data as an unsigned integer."""
    return int.from_bytes(data[32 * i : 32 * i + 32], "big")


def signed(data: bytes, i: int) -> int:
    """The i-th 32-byte word as a two's-complement signed integer."""
    return int.from_bytes(data[32 * i : 32 * i + 32], "big", signed=True)


def address_of(data: bytes, i: int) -> str:
    """The i-th word as an address (its low 20 bytes), lower-case ``0x`` hex."""
    return "0x" + data[32 * i + 12 : 32 * i + 32].hex()


def _topic_int(t: str, bits: int, is_signed: bool) -> int | None:
    value = int(t, 16)
    if is_signed:
        value = value - (1 << 256) if value >= 1 << 255 else value
        return value if -(1 << (bits - 1)) <= value < 1 << (bits - 1) else None
    return value if value < 1 << bits else None


def _topic_address(t: str) -> str | None:
    return "0x" + t[-40:] if int(t, 16) < 1 << 160 else None


def _fits(value: int, bits: int, is_signed: bool = False) -> bool:
    if is_signed:
        return -(1 << (bits - 1)) <= value < 1 << (bits - 1)
    return 0 <= value < 1 << bits


def decode_log(log: RawLog) -> ChainEvent | None:
    """The typed event of a log, or None when it is none of the collector's events or does not have its shape.

    The shape check is what the contract's types guarantee (a uint112 reserve, an int24 tick, an address): a log
    that breaks it cannot come from a genuine pair or pool.
    """
    if not log.topics:
        return None
    t0, data, n = log.topics[0], log.data, len(log.topics)
    if t0 == SYNC and n == 1 and len(data) == 64:
        r0, r1 = word(data, 0), word(data, 1)
        return Sync(r0, r1) if _fits(r0, 112) and _fits(r1, 112) else None
    if t0 == SWAP and n == 3 and len(data) == 160:
        a0, a1, price, liq, tick = signed(data, 0), signed(data, 1), word(data, 2), word(data, 3), signed(data, 4)
        if _fits(price, 160) and _fits(liq, 128) and _fits(tick, 24, True):
            return Swap(a0, a1, price, liq, tick)
        return None
    if t0 in (MINT, BURN) and n == 4:
        owner, lower, upper = _topic_address(log.topics[1]), log.topics[2], log.topics[3]
        tick_lower, tick_upper = _topic_int(lower, 24, True), _topic_int(upper, 24, True)
        if owner is None or tick_lower is None or tick_upper is None:
            return None
        if t0 == MINT and len(data) == 128:
            amount = word(data, 1)
            return Mint(owner, tick_lower, tick_upper, amount) if _fits(amount, 128) else None
        if t0 == BURN and len(data) == 96:
            amount = word(data, 0)
            return Burn(owner, tick_lower, tick_upper, amount) if _fits(amount, 128) else None
        return None
    if t0 == INITIALIZE and n == 1 and len(data) == 64:
        price, tick = word(data, 0), signed(data, 1)
        return Initialize(price, tick) if _fits(price, 160) and _fits(tick, 24, True) else None
    if t0 == PAIR_CREATED and n == 3 and len(data) == 64:
        a, b = _topic_address(log.topics[1]), _topic_address(log.topics[2])
        return PairCreated(a, b, address_of(data, 0)) if a and b else None
    if t0 == POOL_CREATED and n == 4 and len(data) == 64:
        a, b = _topic_address(log.topics[1]), _topic_address(log.topics[2])
        fee, spacing = _topic_int(log.topics[3], 24, False), signed(data, 0)
        if a and b and fee is not None and _fits(spacing, 24, True):
            return PoolCreated(a, b, fee, spacing, address_of(data, 1))
    return None


@dataclass(frozen=True, slots=True)
class Call:
    """One ``eth_call``: a contract and its calldata."""

    to: str
    data: bytes


def _arg(value: int | str) -> bytes:
    if isinstance(value, str):  # an address
        return bytes(12) + bytes.fromhex(value[2:])
    return value.to_bytes(32, "big", signed=True)


def call(to: str, sel: bytes, *args: int | str) -> Call:
    """A call of ``to`` with a selector and static arguments (ints as int256 words, addresses as ``0x`` str)."""
    return Call(to, sel + b"".join(_arg(a) for a in args))


TOKEN0 = selector("token0()")
TOKEN1 = selector("token1()")
FACTORY = selector("factory()")
GET_RESERVES = selector("getReserves()")
SLOT0 = selector("slot0()")
LIQUIDITY = selector("liquidity()")
FEE = selector("fee()")
TICK_SPACING = selector("tickSpacing()")
TICK_BITMAP = selector("tickBitmap(int16)")
TICKS = selector("ticks(int24)")
DECIMALS = selector("decimals()")
GET_PAIR = selector("getPair(address,address)")
GET_POOL = selector("getPool(address,address,uint24)")
