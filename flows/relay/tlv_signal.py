"""Signal and execution TLVs: AlphaPulse's ArbitrageSignal, and pulsearb's ExecutionReport and
FlashLoanResult.

AlphaPulse registers ExecutionReport (45, fixed 48 bytes) and FlashLoanResult (67, bounded 48..256) but
defines no struct for them; the layouts below are pulsearb's, packed little-endian like ArbitrageSignal
(docs/protocol.md).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from flows.relay.address import to_bytes
from flows.relay.fastbuild import fast_builder
from flows.relay.tlv_base import Buffer, Tlv

_M64 = (1 << 64) - 1

_SIGNAL = struct.Struct("<HQI20s20sHH20s20sqqHqqqqHIIHHQ")
_REPORT = struct.Struct("<QQQQqIBBH")
_FLASH_HEAD = struct.Struct("<QQQQQQQQqIBBBx20s32s")
_ADDRESS = struct.Struct("20s")

MAX_FLASH_LOAN_POOLS = 6  # (256 - 132) // 20, AlphaPulse's bound for type 67


@dataclass(frozen=True, slots=True)
class ArbitrageSignal(Tlv):
    """A two-pool arbitrage opportunity (type 32, 170 bytes packed; AlphaPulse declares 168, which is wrong).

    Attributes:
        strategy_id: producing strategy (21 = AlphaPulse flash arbitrage).
        signal_id: signal id (AlphaPulse uses its timestamp_ns).
        chain_id: EVM chain id (137 Polygon).
        source_pool: pool to buy in.
        target_pool: pool to sell in.
        source_venue: VenueId of source_pool (400 QuickSwap, 301 UniswapV3).
        target_venue: VenueId of target_pool.
        token_in: token the trade starts and ends with.
        token_out: intermediate token.
        expected_profit_usd_q8: gross profit, USD x1e8.
        required_capital_usd_q8: capital needed, USD x1e8.
        spread_bps: price spread between the pools, bps.
        dex_fees_usd_q8: pool fees, USD x1e8.
        gas_cost_usd_q8: gas, USD x1e8.
        slippage_usd_q8: expected slippage, USD x1e8.
        net_profit_usd_q8: profit - fees - gas - slippage, USD x1e8.
        slippage_tolerance_bps: allowed slippage, bps (default 50).
        max_gas_price_gwei: gas price cap, gwei (default 100).
        valid_until: expiry, Unix seconds.
        priority: spread_bps x 10, capped at 65535.
        reserved: 2 reserved bytes read as a little-endian u16, 0.
        timestamp_ns: ns since epoch.
    """

    TYPE: ClassVar[int] = 32
    NAME: ClassVar[str] = "ArbitrageSignal"
    SIZE: ClassVar[int] = 170
    KINDS: ClassVar[dict[str, str]] = {
        "strategy_id": "u16",
        "signal_id": "u64",
        "chain_id": "u32",
        "source_pool": "address",
        "target_pool": "address",
        "source_venue": "u16",
        "target_venue": "u16",
        "token_in": "address",
        "token_out": "address",
        "expected_profit_usd_q8": "i64",
        "required_capital_usd_q8": "i64",
        "spread_bps": "u16",
        "dex_fees_usd_q8": "i64",
        "gas_cost_usd_q8": "i64",
        "slippage_usd_q8": "i64",
        "net_profit_usd_q8": "i64",
        "slippage_tolerance_bps": "u16",
        "max_gas_price_gwei": "u32",
        "valid_until": "u32",
        "priority": "u16",
        "reserved": "u16",
        "timestamp_ns": "u64",
    }

    strategy_id: int
    signal_id: int
    chain_id: int
    source_pool: str
    target_pool: str
    source_venue: int
    target_venue: int
    token_in: str
    token_out: str
    expected_profit_usd_q8: int
    required_capital_usd_q8: int
    spread_bps: int
    dex_fees_usd_q8: int
    gas_cost_usd_q8: int
    slippage_usd_q8: int
    net_profit_usd_q8: int
    slippage_tolerance_bps: int
    max_gas_price_gwei: int
    valid_until: int
    priority: int
    reserved: int
    timestamp_ns: int

    def encode(self) -> bytes:
        """Return the 170 value bytes."""
        return _SIGNAL.pack(
            self.strategy_id,
            self.signal_id,
            self.chain_id,
            to_bytes(self.source_pool),
            to_bytes(self.target_pool),
            self.source_venue,
            self.target_venue,
            to_bytes(self.token_in),
            to_bytes(self.token_out),
            self.expected_profit_usd_q8,
            self.required_capital_usd_q8,
            self.spread_bps,
            self.dex_fees_usd_q8,
            self.gas_cost_usd_q8,
            self.slippage_usd_q8,
            self.net_profit_usd_q8,
            self.slippage_tolerance_bps,
            self.max_gas_price_gwei,
            self.valid_until,
            self.priority,
            self.reserved,
            self.timestamp_ns,
        )

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> ArbitrageSignal:
        """Read 170 value bytes at ``offset``."""
        v = _SIGNAL.unpack_from(buf, offset)
        pools = "0x" + v[3].hex(), "0x" + v[4].hex()
        tokens = "0x" + v[7].hex(), "0x" + v[8].hex()
        return _make_signal(*v[:3], *pools, *v[5:7], *tokens, *v[9:])


@dataclass(frozen=True, slots=True)
class ExecutionReport(Tlv):
    """pulsearb's summary of one execution (type 45, 48 bytes packed).

    Layout: @0 signal_id u64 · @8 timestamp_ns u64 · @16 block_number u64 · @24 realized_profit i128 ·
    @40 gas_used u32 · @44 status u8 · @45 reason_code u8 · @46 strategy_id u16.

    Attributes:
        signal_id: the ArbitrageSignal.signal_id this execution answers.
        timestamp_ns: when the outcome was known (receipt, rejection), ns since epoch.
        block_number: block the transaction was mined in; 0 if it was not.
        realized_profit: balance change of the profit token, native units, before gas (negative for a loss).
        gas_used: gas units the transaction used; 0 if it was not sent.
        status: :class:`~flows.relay.protocol.ExecutionStatus` number.
        reason_code: status detail (risk rule number, revert class), 0 for none.
        strategy_id: producing strategy, numbered as ArbitrageSignal.strategy_id.
    """

    TYPE: ClassVar[int] = 45
    NAME: ClassVar[str] = "ExecutionReport"
    SIZE: ClassVar[int] = 48
    KINDS: ClassVar[dict[str, str]] = {
        "signal_id": "u64",
        "timestamp_ns": "u64",
        "block_number": "u64",
        "realized_profit": "i128",
        "gas_used": "u32",
        "status": "u8",
        "reason_code": "u8",
        "strategy_id": "u16",
    }

    signal_id: int
    timestamp_ns: int
    block_number: int
    realized_profit: int
    gas_used: int
    status: int
    reason_code: int
    strategy_id: int

    def encode(self) -> bytes:
        """Return the 48 value bytes."""
        p = self.realized_profit
        return _REPORT.pack(
            self.signal_id,
            self.timestamp_ns,
            self.block_number,
            p & _M64,
            p >> 64,
            self.gas_used,
            self.status,
            self.reason_code,
            self.strategy_id,
        )

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> ExecutionReport:
        """Read 48 value bytes at ``offset``."""
        sid, ts, block, lo, hi, gas, status, reason, strategy = _REPORT.unpack_from(buf, offset)
        return _make_report(sid, ts, block, lo | hi << 64, gas, status, reason, strategy)


@dataclass(frozen=True, slots=True)
class FlashLoanResult(Tlv):
    """pulsearb's result of a flash-loan arbitrage (type 67, 132 + 20 x len(pools) bytes, within 48..256).

    Layout (packed): @0 signal_id u64 · @8 timestamp_ns u64 · @16 block_number u64 · @24 amount u128 ·
    @40 fee u128 · @56 realized_profit i128 · @72 gas_used u32 · @76 status u8 · @77 provider u8 ·
    @78 pool count u8 · @79 padding · @80 asset [20] · @100 tx_hash [32] · @132 pools, 20 bytes each (at
    most 6).

    Attributes:
        signal_id: the ArbitrageSignal.signal_id this execution answers.
        timestamp_ns: when the outcome was known, ns since epoch.
        block_number: block the transaction was mined in; 0 if it was not.
        amount: amount borrowed, native units of ``asset``.
        fee: flash-loan premium paid, native units of ``asset``.
        realized_profit: balance change in ``asset`` after repaying loan and fee, native units, before gas.
        gas_used: gas units used; 0 if not sent.
        status: :class:`~flows.relay.protocol.ExecutionStatus` number.
        provider: :class:`~flows.relay.protocol.FlashLoanProvider` number.
        asset: token borrowed.
        tx_hash: transaction hash (all zero if not sent).
        pools: pools traded through, in order (at most 6).
    """

    TYPE: ClassVar[int] = 67
    NAME: ClassVar[str] = "FlashLoanResult"
    SIZE: ClassVar[int | None] = None
    MIN_SIZE: ClassVar[int] = 48
    MAX_SIZE: ClassVar[int] = 256
    KINDS: ClassVar[dict[str, str]] = {
        "signal_id": "u64",
        "timestamp_ns": "u64",
        "block_number": "u64",
        "amount": "u128",
        "fee": "u128",
        "realized_profit": "i128",
        "gas_used": "u32",
        "status": "u8",
        "provider": "u8",
        "asset": "address",
        "tx_hash": "hash",
        "pools": f"address[{MAX_FLASH_LOAN_POOLS}]",
    }

    signal_id: int
    timestamp_ns: int
    block_number: int
    amount: int
    fee: int
    realized_profit: int
    gas_used: int
    status: int
    provider: int
    asset: str
    tx_hash: str
    pools: tuple[str, ...]

    def encode(self) -> bytes:
        """Return the 132 + 20 x len(pools) value bytes."""
        if len(self.pools) > MAX_FLASH_LOAN_POOLS:
            msg = f"{len(self.pools)} pools, at most {MAX_FLASH_LOAN_POOLS}"
            raise ValueError(msg)
        head = _FLASH_HEAD.pack(
            self.signal_id,
            self.timestamp_ns,
            self.block_number,
            self.amount & _M64,
            self.amount >> 64,
            self.fee & _M64,
            self.fee >> 64,
            self.realized_profit & _M64,
            self.realized_profit >> 64,
            self.gas_used,
            self.status,
            self.provider,
            len(self.pools),
            to_bytes(self.asset),
            to_bytes(self.tx_hash, 32),
        )
        return head + b"".join(to_bytes(p) for p in self.pools)

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> FlashLoanResult:
        """Read a value of ``length`` bytes at ``offset`` (default: to the end of ``buf``).

        Raises:
            ValueError: the length disagrees with the pool count, or the count is above 6.
        """
        if length is None:
            length = len(buf) - offset
        if length < _FLASH_HEAD.size:
            msg = f"length {length} below the {_FLASH_HEAD.size}-byte head"
            raise ValueError(msg)
        v = _FLASH_HEAD.unpack_from(buf, offset)
        count = v[12]
        if count > MAX_FLASH_LOAN_POOLS or length != _FLASH_HEAD.size + 20 * count:
            msg = f"length {length} does not fit {count} pools (132 + 20 per pool)"
            raise ValueError(msg)
        start = offset + _FLASH_HEAD.size
        view = memoryview(buf)[start : start + 20 * count]
        pools = tuple("0x" + a.hex() for (a,) in _ADDRESS.iter_unpack(view))
        amount, fee, profit = v[3] | v[4] << 64, v[5] | v[6] << 64, v[7] | v[8] << 64
        asset, tx_hash = "0x" + v[13].hex(), "0x" + v[14].hex()
        return _make_flash(*v[:3], amount, fee, profit, *v[9:12], asset, tx_hash, pools)


_make_signal = fast_builder(ArbitrageSignal)
_make_report = fast_builder(ExecutionReport)
_make_flash = fast_builder(FlashLoanResult)
