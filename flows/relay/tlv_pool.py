"""DEX pool TLVs: PoolSwap, PoolState (class :class:`PoolStateTlv`), PoolSync, PoolInfo (liquidity events are in
``tlv_liquidity``).

Layouts are AlphaPulse's ``#[repr(C)]`` structs (``libs/types/src/protocol/tlv/market_data.rs``,
``pool_state.rs``, ``pool_cache.rs``), little-endian, sizes as really emitted (the registry's declared
bounds are not enforced by AlphaPulse and are wrong for several types). Amounts and reserves are native
token units (u128, unscaled); a u128 travels as two u64 halves, low first. An address is 20 raw bytes
left-aligned in a 32-byte slot (12 zero bytes after it, not ABI right alignment), except in the packed
PoolInfo.
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

_SWAP = struct.Struct("<QQQQQQQQiHBB8x" + _A * 3 + "QQQQ")
_STATE = struct.Struct("<QQQQQQQQQQiIHBBB3x" + _A * 3)
_SYNC = struct.Struct("<QQQQQQHBB12x" + _A * 3)
_INFO = struct.Struct("<QQIHBBBBBx20s20s20s")

#: Raw address -> its ``0x`` hex, for the hot decoders: the same pools and tokens come in frame after frame, and a
#: cached string also keeps its hash for the Avro encoder's string cache. Emptied when full.
_HEX: dict[bytes, str] = {}
ADDRESS_CACHE_SIZE = 4096


def _hex(raw: bytes) -> str:
    out = "0x" + raw.hex()
    if len(_HEX) >= ADDRESS_CACHE_SIZE:
        _HEX.clear()
    _HEX[raw] = out
    return out


@dataclass(frozen=True, slots=True)
class PoolSwap(Tlv):
    """One swap in a pool (type 11, 208 bytes; declared bound 200 is not enforced by AlphaPulse).

    Attributes:
        amount_in: amount of token_in paid in, native units.
        amount_out: amount of token_out paid out, native units.
        liquidity_after: active liquidity after the swap (V3; AlphaPulse's adapter puts sqrtPriceX96 here).
        timestamp_ns: ns since epoch (AlphaPulse: local receive time).
        block_number: block of the swap.
        tick_after: tick after the swap (V3; 0 for V2).
        venue: VenueId (AlphaPulse's Polygon adapter writes 202).
        amount_in_decimals: decimals of token_in.
        amount_out_decimals: decimals of token_out.
        pool_address: pool contract.
        token_in_addr: token paid in.
        token_out_addr: token paid out.
        sqrt_price_x96_after: sqrt price after the swap, Q64.96 (V3; 0 for V2). Stored in a 32-byte
            little-endian slot: AlphaPulse writes a u128 in the low 16 bytes and zeros above; pulsearb reads
            the whole slot, so a larger uint160 price survives too.
    """

    TYPE: ClassVar[int] = 11
    NAME: ClassVar[str] = "PoolSwap"
    SIZE: ClassVar[int] = 208
    KINDS: ClassVar[dict[str, str]] = {
        "amount_in": "u128",
        "amount_out": "u128",
        "liquidity_after": "u128",
        "timestamp_ns": "u64",
        "block_number": "u64",
        "tick_after": "i32",
        "venue": "u16",
        "amount_in_decimals": "u8",
        "amount_out_decimals": "u8",
        "pool_address": "address",
        "token_in_addr": "address",
        "token_out_addr": "address",
        "sqrt_price_x96_after": "u256",
    }

    amount_in: int
    amount_out: int
    liquidity_after: int
    timestamp_ns: int
    block_number: int
    tick_after: int
    venue: int
    amount_in_decimals: int
    amount_out_decimals: int
    pool_address: str
    token_in_addr: str
    token_out_addr: str
    sqrt_price_x96_after: int

    def encode(self) -> bytes:
        """Return the 208 value bytes."""
        p = self.sqrt_price_x96_after
        return _SWAP.pack(
            self.amount_in & _M64,
            self.amount_in >> 64,
            self.amount_out & _M64,
            self.amount_out >> 64,
            self.liquidity_after & _M64,
            self.liquidity_after >> 64,
            self.timestamp_ns,
            self.block_number,
            self.tick_after,
            self.venue,
            self.amount_in_decimals,
            self.amount_out_decimals,
            to_bytes(self.pool_address),
            to_bytes(self.token_in_addr),
            to_bytes(self.token_out_addr),
            p & _M64,
            (p >> 64) & _M64,
            (p >> 128) & _M64,
            p >> 192,
        )

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> PoolSwap:
        """Read 208 value bytes at ``offset``."""
        (ai0, ai1, ao0, ao1, la0, la1, ts, block, tick, venue, din, dout, pool, tin, tout, p0, p1, p2, p3) = (
            _SWAP.unpack_from(buf, offset)
        )
        price = p0 | p1 << 64 | p2 << 128 | p3 << 192 if p2 or p3 else p0 | p1 << 64
        return _make_swap(
            ai0 | ai1 << 64,
            ao0 | ao1 << 64,
            la0 | la1 << 64,
            ts,
            block,
            tick,
            venue,
            din,
            dout,
            _HEX.get(pool) or _hex(pool),
            _HEX.get(tin) or _hex(tin),
            _HEX.get(tout) or _hex(tout),
            price,
        )


@dataclass(frozen=True, slots=True)
class PoolStateTlv(Tlv):
    """A full pool snapshot (type 15, 192 bytes): the PoolState TLV (``NAME``), not the detector's
    :class:`flows.pools.PoolState`.

    Attributes:
        reserve0: reserve of token0, native units (virtual for V3).
        reserve1: reserve of token1, native units (virtual for V3).
        sqrt_price_x96: sqrt price Q64.96 (V3; 0 for V2).
        liquidity: active liquidity (V3; 0 for V2).
        block_number: block the state is valid at.
        timestamp_ns: ns since epoch.
        tick: current tick (V3; 0 for V2).
        fee_rate: pool fee, bps (30 = 0.3 %).
        venue: VenueId.
        pool_type: :class:`~flows.relay.protocol.PoolStateType` number.
        token0_decimals: decimals of token0.
        token1_decimals: decimals of token1.
        pool_address: pool contract.
        token0_addr: token0.
        token1_addr: token1.
    """

    TYPE: ClassVar[int] = 15
    NAME: ClassVar[str] = "PoolState"
    SIZE: ClassVar[int] = 192
    KINDS: ClassVar[dict[str, str]] = {
        "reserve0": "u128",
        "reserve1": "u128",
        "sqrt_price_x96": "u128",
        "liquidity": "u128",
        "block_number": "u64",
        "timestamp_ns": "u64",
        "tick": "i32",
        "fee_rate": "u32",
        "venue": "u16",
        "pool_type": "u8",
        "token0_decimals": "u8",
        "token1_decimals": "u8",
        "pool_address": "address",
        "token0_addr": "address",
        "token1_addr": "address",
    }

    reserve0: int
    reserve1: int
    sqrt_price_x96: int
    liquidity: int
    block_number: int
    timestamp_ns: int
    tick: int
    fee_rate: int
    venue: int
    pool_type: int
    token0_decimals: int
    token1_decimals: int
    pool_address: str
    token0_addr: str
    token1_addr: str

    def encode(self) -> bytes:
        """Return the 192 value bytes."""
        return _STATE.pack(
            self.reserve0 & _M64,
            self.reserve0 >> 64,
            self.reserve1 & _M64,
            self.reserve1 >> 64,
            self.sqrt_price_x96 & _M64,
            self.sqrt_price_x96 >> 64,
            self.liquidity & _M64,
            self.liquidity >> 64,
            self.block_number,
            self.timestamp_ns,
            self.tick,
            self.fee_rate,
            self.venue,
            self.pool_type,
            self.token0_decimals,
            self.token1_decimals,
            to_bytes(self.pool_address),
            to_bytes(self.token0_addr),
            to_bytes(self.token1_addr),
        )

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> PoolStateTlv:
        """Read 192 value bytes at ``offset``."""
        (r00, r01, r10, r11, s0, s1, l0, l1, block, ts, tick, fee, venue, ptype, d0, d1, pool, t0, t1) = (
            _STATE.unpack_from(buf, offset)
        )
        return _make_state(
            r00 | r01 << 64,
            r10 | r11 << 64,
            s0 | s1 << 64,
            l0 | l1 << 64,
            block,
            ts,
            tick,
            fee,
            venue,
            ptype,
            d0,
            d1,
            _HEX.get(pool) or _hex(pool),
            _HEX.get(t0) or _hex(t0),
            _HEX.get(t1) or _hex(t1),
        )


@dataclass(frozen=True, slots=True)
class PoolSync(Tlv):
    """Reserves of a V2-style pair after a Sync event (type 16, 160 bytes; declared bound 150 is wrong).

    Attributes:
        reserve0: reserve of token0, native units.
        reserve1: reserve of token1, native units.
        timestamp_ns: ns since epoch.
        block_number: block of the Sync event.
        venue: VenueId.
        token0_decimals: decimals of token0.
        token1_decimals: decimals of token1.
        pool_address: pair contract.
        token0_addr: token0.
        token1_addr: token1.
    """

    TYPE: ClassVar[int] = 16
    NAME: ClassVar[str] = "PoolSync"
    SIZE: ClassVar[int] = 160
    KINDS: ClassVar[dict[str, str]] = {
        "reserve0": "u128",
        "reserve1": "u128",
        "timestamp_ns": "u64",
        "block_number": "u64",
        "venue": "u16",
        "token0_decimals": "u8",
        "token1_decimals": "u8",
        "pool_address": "address",
        "token0_addr": "address",
        "token1_addr": "address",
    }

    reserve0: int
    reserve1: int
    timestamp_ns: int
    block_number: int
    venue: int
    token0_decimals: int
    token1_decimals: int
    pool_address: str
    token0_addr: str
    token1_addr: str

    def encode(self) -> bytes:
        """Return the 160 value bytes."""
        return _SYNC.pack(
            self.reserve0 & _M64,
            self.reserve0 >> 64,
            self.reserve1 & _M64,
            self.reserve1 >> 64,
            self.timestamp_ns,
            self.block_number,
            self.venue,
            self.token0_decimals,
            self.token1_decimals,
            to_bytes(self.pool_address),
            to_bytes(self.token0_addr),
            to_bytes(self.token1_addr),
        )

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> PoolSync:
        """Read 160 value bytes at ``offset``."""
        r00, r01, r10, r11, ts, block, venue, d0, d1, pool, t0, t1 = _SYNC.unpack_from(buf, offset)
        return _make_sync(
            r00 | r01 << 64,
            r10 | r11 << 64,
            ts,
            block,
            venue,
            d0,
            d1,
            "0x" + pool.hex(),
            "0x" + t0.hex(),
            "0x" + t1.hex(),
        )


@dataclass(frozen=True, slots=True)
class PoolInfo(Tlv):
    """A pool-cache record (vendor type 200, 88 bytes, packed addresses without slot padding).

    Attributes:
        discovered_at: when the pool was discovered (AlphaPulse: Unix time).
        last_seen: last activity (AlphaPulse: Unix time).
        fee_tier: pool fee, bps.
        venue: VenueId.
        tlv_type: AlphaPulse repeats the type inside the struct (200).
        tlv_length: AlphaPulse writes the struct size minus 2 (86).
        token0_decimals: decimals of token0.
        token1_decimals: decimals of token1.
        pool_type: :class:`~flows.relay.protocol.CachePoolType` number.
        pool_address: pool contract.
        token0_address: token0.
        token1_address: token1.
    """

    TYPE: ClassVar[int] = 200
    NAME: ClassVar[str] = "PoolInfo"
    SIZE: ClassVar[int] = 88
    KINDS: ClassVar[dict[str, str]] = {
        "discovered_at": "u64",
        "last_seen": "u64",
        "fee_tier": "u32",
        "venue": "u16",
        "tlv_type": "u8",
        "tlv_length": "u8",
        "token0_decimals": "u8",
        "token1_decimals": "u8",
        "pool_type": "u8",
        "pool_address": "address",
        "token0_address": "address",
        "token1_address": "address",
    }

    discovered_at: int
    last_seen: int
    fee_tier: int
    venue: int
    tlv_type: int
    tlv_length: int
    token0_decimals: int
    token1_decimals: int
    pool_type: int
    pool_address: str
    token0_address: str
    token1_address: str

    def encode(self) -> bytes:
        """Return the 88 value bytes."""
        return _INFO.pack(
            self.discovered_at,
            self.last_seen,
            self.fee_tier,
            self.venue,
            self.tlv_type,
            self.tlv_length,
            self.token0_decimals,
            self.token1_decimals,
            self.pool_type,
            to_bytes(self.pool_address),
            to_bytes(self.token0_address),
            to_bytes(self.token1_address),
        )

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> PoolInfo:
        """Read 88 value bytes at ``offset``."""
        v = _INFO.unpack_from(buf, offset)
        return _make_info(*v[:9], "0x" + v[9].hex(), "0x" + v[10].hex(), "0x" + v[11].hex())


_make_swap = fast_builder(PoolSwap)
_make_state = fast_builder(PoolStateTlv)
_make_sync = fast_builder(PoolSync)
_make_info = fast_builder(PoolInfo)
