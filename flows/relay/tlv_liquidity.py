"""DEX liquidity TLVs, all routed to ``market.pool_liquidity``: PoolLiquidity, PoolMint, PoolBurn, PoolTick.

Layouts are AlphaPulse's ``#[repr(C)]`` structs (``libs/types/src/protocol/tlv/market_data.rs``), little-endian,
sizes as really emitted. Amounts are native token units (u128 as two u64 halves, low first); an address is 20 raw
bytes left-aligned in a 32-byte slot (12 zero bytes after it, not ABI right alignment).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from flows.relay.address import to_bytes
from flows.relay.fastbuild import fast_builder
from flows.relay.tlv_base import Buffer, Tlv

_M64 = (1 << 64) - 1
_A = "20s12x"  # address left-aligned in a 32-byte slot

_LIQUIDITY = struct.Struct("<Q8xH14x" + "QQ" * 8 + _A + "H14x")
_MINT_BURN = struct.Struct("<QQQQQQQiiHBB12x" + _A * 4)
_TICK = struct.Struct("<qQQiH2x" + _A)

MAX_POOL_TOKENS = 8


@dataclass(frozen=True, slots=True)
class PoolLiquidity(Tlv):
    """Reserves of a pool after a liquidity change (type 10, 208 bytes).

    Wire layout: @0 timestamp_ns, @8 implicit padding, @16 ``FixedVec<u128, 8>`` (u16 count, 6 + 8 padding
    bytes, 8 u128 slots at @32), @160 pool_address (+12), @192 venue u16, @194..208 padding. AlphaPulse's
    comment says 184 bytes; the compiler makes it 208.

    Attributes:
        timestamp_ns: ns since epoch.
        reserves: reserve of each pool token, native units (at most 8).
        pool_address: pool contract.
        venue: VenueId.
    """

    TYPE: ClassVar[int] = 10
    NAME: ClassVar[str] = "PoolLiquidity"
    SIZE: ClassVar[int] = 208
    KINDS: ClassVar[dict[str, str]] = {
        "timestamp_ns": "u64",
        "reserves": "u128[8]",
        "pool_address": "address",
        "venue": "u16",
    }

    timestamp_ns: int
    reserves: tuple[int, ...]
    pool_address: str
    venue: int

    def encode(self) -> bytes:
        """Return the 208 value bytes (unused reserve slots zeroed)."""
        count = len(self.reserves)
        if count > MAX_POOL_TOKENS:
            msg = f"{count} reserves, at most {MAX_POOL_TOKENS}"
            raise ValueError(msg)
        halves: list[int] = []
        for r in (*self.reserves, *(0,) * (MAX_POOL_TOKENS - count)):
            halves += (r & _M64, r >> 64)
        return _LIQUIDITY.pack(self.timestamp_ns, count, *halves, to_bytes(self.pool_address), self.venue)

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> PoolLiquidity:
        """Read 208 value bytes at ``offset``.

        Raises:
            ValueError: the reserve count is above 8.
        """
        v = _LIQUIDITY.unpack_from(buf, offset)
        count = v[1]
        if count > MAX_POOL_TOKENS:
            msg = f"reserves count {count} above capacity {MAX_POOL_TOKENS}"
            raise ValueError(msg)
        reserves = tuple(v[2 + 2 * i] | v[3 + 2 * i] << 64 for i in range(count))
        return _make_liquidity(v[0], reserves, "0x" + v[18].hex(), v[19])


@dataclass(frozen=True, slots=True)
class _PoolLiquidityEvent(Tlv):
    """Layout shared by PoolMint and PoolBurn (208 bytes).

    Attributes:
        liquidity_delta: liquidity added or removed.
        amount0: token0 amount, native units.
        amount1: token1 amount, native units.
        timestamp_ns: ns since epoch.
        tick_lower: lower tick of the position.
        tick_upper: upper tick of the position.
        venue: VenueId.
        token0_decimals: decimals of token0.
        token1_decimals: decimals of token1.
        pool_address: pool contract.
        provider_addr: liquidity provider.
        token0_addr: token0.
        token1_addr: token1.
    """

    SIZE: ClassVar[int] = 208
    KINDS: ClassVar[dict[str, str]] = {
        "liquidity_delta": "u128",
        "amount0": "u128",
        "amount1": "u128",
        "timestamp_ns": "u64",
        "tick_lower": "i32",
        "tick_upper": "i32",
        "venue": "u16",
        "token0_decimals": "u8",
        "token1_decimals": "u8",
        "pool_address": "address",
        "provider_addr": "address",
        "token0_addr": "address",
        "token1_addr": "address",
    }

    liquidity_delta: int
    amount0: int
    amount1: int
    timestamp_ns: int
    tick_lower: int
    tick_upper: int
    venue: int
    token0_decimals: int
    token1_decimals: int
    pool_address: str
    provider_addr: str
    token0_addr: str
    token1_addr: str

    def encode(self) -> bytes:
        """Return the 208 value bytes."""
        return _MINT_BURN.pack(
            self.liquidity_delta & _M64,
            self.liquidity_delta >> 64,
            self.amount0 & _M64,
            self.amount0 >> 64,
            self.amount1 & _M64,
            self.amount1 >> 64,
            self.timestamp_ns,
            self.tick_lower,
            self.tick_upper,
            self.venue,
            self.token0_decimals,
            self.token1_decimals,
            to_bytes(self.pool_address),
            to_bytes(self.provider_addr),
            to_bytes(self.token0_addr),
            to_bytes(self.token1_addr),
        )

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> _PoolLiquidityEvent:
        """Read 208 value bytes at ``offset``."""
        v = _MINT_BURN.unpack_from(buf, offset)
        (l0, l1, a0, a1, b0, b1, ts, lower, upper, venue, d0, d1, pool, prov, t0, t1) = v
        return _MINT_BURN_MAKERS[cls](
            l0 | l1 << 64,
            a0 | a1 << 64,
            b0 | b1 << 64,
            ts,
            lower,
            upper,
            venue,
            d0,
            d1,
            "0x" + pool.hex(),
            "0x" + prov.hex(),
            "0x" + t0.hex(),
            "0x" + t1.hex(),
        )


@dataclass(frozen=True, slots=True)
class PoolMint(_PoolLiquidityEvent):
    """Liquidity added to a pool (type 12, 208 bytes)."""

    TYPE: ClassVar[int] = 12
    NAME: ClassVar[str] = "PoolMint"


@dataclass(frozen=True, slots=True)
class PoolBurn(_PoolLiquidityEvent):
    """Liquidity removed from a pool (type 13, 208 bytes)."""

    TYPE: ClassVar[int] = 13
    NAME: ClassVar[str] = "PoolBurn"


@dataclass(frozen=True, slots=True)
class PoolTick(Tlv):
    """A V3 tick crossing (type 14, 64 bytes).

    Attributes:
        liquidity_net: net liquidity change at the tick (AlphaPulse's adapter writes a placeholder).
        price_sqrt: sqrt price (placeholder in AlphaPulse's adapter).
        timestamp_ns: ns since epoch.
        tick: the tick crossed.
        venue: VenueId.
        pool_address: pool contract.
    """

    TYPE: ClassVar[int] = 14
    NAME: ClassVar[str] = "PoolTick"
    SIZE: ClassVar[int] = 64
    KINDS: ClassVar[dict[str, str]] = {
        "liquidity_net": "i64",
        "price_sqrt": "u64",
        "timestamp_ns": "u64",
        "tick": "i32",
        "venue": "u16",
        "pool_address": "address",
    }

    liquidity_net: int
    price_sqrt: int
    timestamp_ns: int
    tick: int
    venue: int
    pool_address: str

    def encode(self) -> bytes:
        """Return the 64 value bytes."""
        return _TICK.pack(
            self.liquidity_net,
            self.price_sqrt,
            self.timestamp_ns,
            self.tick,
            self.venue,
            to_bytes(self.pool_address),
        )

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> PoolTick:
        """Read 64 value bytes at ``offset``."""
        net, price, ts, tick, venue, pool = _TICK.unpack_from(buf, offset)
        return _make_tick(net, price, ts, tick, venue, "0x" + pool.hex())


_make_liquidity = fast_builder(PoolLiquidity)
_MINT_BURN_MAKERS = {PoolMint: fast_builder(PoolMint), PoolBurn: fast_builder(PoolBurn)}
_make_tick = fast_builder(PoolTick)
