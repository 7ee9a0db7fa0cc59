"""AlphaPulse Protocol V2 enumerations and the 12-byte InstrumentId.

Numbering follows the authoritative generation of AlphaPulse (``backend_v2``, snapshot ``a1f1d32``): the
1-based codec ``RelayDomain`` and ``SourceType`` (``libs/codec/src/protocol/``), and the types-crate
``VenueId``, ``AssetType`` and ``InstrumentId`` (``libs/types/src/protocol/identifiers/instrument/``). The
0-based variants added by AlphaPulse's last commit (``libs/types/src/protocol/constants.rs``) are a
regression and are not used.

Header and TLV fields stay plain ``int`` in decoded values (an unknown number must survive a round trip);
these enums are for building messages and for display. See docs/protocol.md.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from flows.relay.address import to_bytes

_M64 = (1 << 64) - 1


class RelayDomain(IntEnum):
    """Relay a message travels on (header byte 4); relays forward only frames whose byte matches their
    domain."""

    MARKET_DATA = 1
    SIGNAL = 2
    EXECUTION = 3
    SYSTEM = 4


#: Largest payload_size accepted per relay domain, in bytes (``libs/codec/src/validation/config.rs``).
#: A frame declaring more is an error, never an allocation.
MAX_PAYLOAD: dict[int, int] = {
    RelayDomain.MARKET_DATA: 4096,
    RelayDomain.SIGNAL: 8192,
    RelayDomain.EXECUTION: 16384,
    RelayDomain.SYSTEM: 32768,
}

#: Socket file name per domain, as AlphaPulse names them under ``/tmp/torq`` (System has no AlphaPulse relay).
SOCKET_NAMES: dict[int, str] = {
    RelayDomain.MARKET_DATA: "market_data.sock",
    RelayDomain.SIGNAL: "signals.sock",
    RelayDomain.EXECUTION: "execution.sock",
    RelayDomain.SYSTEM: "system.sock",
}


class SourceType(IntEnum):
    """Producer of a message (header byte 6), canonical codec numbering."""

    BINANCE_COLLECTOR = 1
    KRAKEN_COLLECTOR = 2
    COINBASE_COLLECTOR = 3
    POLYGON_COLLECTOR = 4
    GEMINI_COLLECTOR = 5
    ARBITRAGE_STRATEGY = 20
    MARKET_MAKER = 21
    TREND_FOLLOWER = 22
    KRAKEN_SIGNAL_STRATEGY = 23
    PORTFOLIO_MANAGER = 40
    RISK_MANAGER = 41
    EXECUTION_ENGINE = 42
    DASHBOARD = 60
    METRICS_COLLECTOR = 61
    STATE_MANAGER = 62
    MARKET_DATA_RELAY = 80
    SIGNAL_RELAY = 81
    EXECUTION_RELAY = 82


class AssetType(IntEnum):
    """Kind of instrument (u8), types-crate numbering."""

    STOCK = 1
    BOND = 2
    ETF = 3
    COMMODITY = 4
    CURRENCY = 5
    INDEX = 6
    TOKEN = 50
    COIN = 51
    NFT = 52
    STABLE_COIN = 53
    WRAPPED_TOKEN = 54
    POOL = 100
    LP_TOKEN = 101
    YIELD_TOKEN = 102
    SYNTHETIC_ASSET = 103
    DERIVATIVE_TOKEN = 104
    GOVERNANCE_TOKEN = 105
    OPTION = 150
    FUTURE = 151
    SWAP = 152
    FORWARD = 153
    CDS = 154
    STRUCTURED_NOTE = 200
    CONVERTIBLE_BOND = 201
    TEST_ASSET = 250
    MOCK_ASSET = 251


class TlvType(IntEnum):
    """TLV type numbers (``libs/types/src/protocol/tlv/types.rs``) plus pulsearb's vendor ``SUBSCRIBE``.

    Only the types with a class in :mod:`flows.relay.tlv` are decoded; every other number is kept raw.
    """

    TRADE = 1
    QUOTE = 2
    ORDER_BOOK = 3
    INSTRUMENT_META = 4
    L2_SNAPSHOT = 5
    L2_DELTA = 6
    L2_RESET = 7
    PRICE_UPDATE = 8
    VOLUME_UPDATE = 9
    POOL_LIQUIDITY = 10
    POOL_SWAP = 11
    POOL_MINT = 12
    POOL_BURN = 13
    POOL_TICK = 14
    POOL_STATE = 15
    POOL_SYNC = 16
    QUOTE_UPDATE = 17
    GAS_PRICE = 18
    STATE_INVALIDATION_REASON = 19
    SIGNAL_IDENTITY = 20
    ASSET_CORRELATION = 21
    ECONOMICS = 22
    EXECUTION_ADDRESSES = 23
    VENUE_METADATA = 24
    STATE_REFERENCE = 25
    EXECUTION_CONTROL = 26
    POOL_ADDRESSES = 27
    MEV_BUNDLE = 28
    TERTIARY_VENUE = 29
    RISK_PARAMETERS = 30
    PERFORMANCE_METRICS = 31
    ARBITRAGE_SIGNAL = 32
    ORDER_REQUEST = 40
    ORDER_STATUS = 41
    FILL = 42
    ORDER_CANCEL = 43
    ORDER_MODIFY = 44
    EXECUTION_REPORT = 45
    PORTFOLIO = 46
    POSITION = 47
    BALANCE = 48
    TRADE_CONFIRMATION = 49
    RISK_DECISION = 60
    POSITION_UPDATE = 61
    RISK_ALERT = 62
    COLLATERAL_UPDATE = 63
    EXPOSURE_REPORT = 64
    PORTFOLIO_EVENT = 65
    RISK_THRESHOLD = 66
    FLASH_LOAN_RESULT = 67
    POST_TRADE_ANALYTICS = 68
    POSITION_QUERY = 69
    RISK_METRICS = 70
    CIRCUIT_BREAKER = 71
    STRATEGY_REGISTRATION = 72
    COMPLIANCE_CHECK = 80
    AUDIT_TRAIL = 81
    REGULATORY_REPORT = 82
    TRADE_BREAKDOWN = 83
    SETTLEMENT_INSTRUCTION = 84
    CLEARING_REPORT = 85
    MARGIN_CALL = 86
    CUSTODY_EVENT = 87
    VENUE_CONNECTIVITY = 88
    CROSS_VENUE_SPREAD = 89
    ARBITRAGE_EXECUTION = 90
    HEARTBEAT = 100
    SNAPSHOT = 101
    ERROR = 102
    CONFIG_UPDATE = 103
    SERVICE_DISCOVERY = 104
    RESOURCE_USAGE = 105
    STATE_INVALIDATION = 106
    SYSTEM_HEALTH = 107
    TRACE_CONTEXT = 108
    RECOVERY_REQUEST = 110
    RECOVERY_RESPONSE = 111
    SEQUENCE_SYNC = 112
    POOL_INFO = 200
    POOL_CACHE_HEADER = 201
    PROPRIETARY_DATA = 202
    CUSTOM_METRICS = 203
    EXPERIMENTAL_SIGNAL = 204
    SUBSCRIBE = 250  # pulsearb's relay subscription request (docs/protocol.md)
    EXTENDED = 255  # marker of the extended TLV header, never a real type


class PoolStateType(IntEnum):
    """``PoolState.pool_type`` numbering (``tlv/pool_state.rs``: DEXProtocol)."""

    UNISWAP_V2 = 0
    UNISWAP_V3 = 1
    SUSHISWAP_V2 = 2
    QUICKSWAP_V3 = 3
    CURVE = 4
    BALANCER = 5


class CachePoolType(IntEnum):
    """``PoolInfo.pool_type`` numbering (``tlv/pool_cache.rs``: CachePoolType)."""

    UNISWAP_V2 = 1
    UNISWAP_V3 = 2
    QUICKSWAP_V2 = 3
    QUICKSWAP_V3 = 4
    SUSHISWAP_V2 = 5
    CURVE_V2 = 6
    BALANCER_V2 = 7


def _symbol_id(symbol: str) -> int:
    raw = symbol.encode("ascii")[:8]
    return int.from_bytes(raw.ljust(8, b"\0"), "big")


def _asset_id(value: InstrumentId | int) -> int:
    return value.asset_id if isinstance(value, InstrumentId) else value


@dataclass(frozen=True, slots=True)
class InstrumentId:
    """AlphaPulse's 12-byte packed instrument id: ``asset_id u64 · venue u16 · asset_type u8 · reserved u8``.

    Example:
        >>> iid = InstrumentId.coin(VenueId.COINBASE, "BTC/USD")
        >>> hex(iid.asset_id), iid.symbol()
        ('0x4254432f55534400', 'BTC/USD')
        >>> InstrumentId.unpack(iid.pack()) == iid
        True
    """

    SIZE: ClassVar[int] = 12
    _STRUCT: ClassVar[struct.Struct] = struct.Struct("<QHBB")

    asset_id: int
    venue: int
    asset_type: int
    reserved: int = 0

    @classmethod
    def coin(cls, venue: int, symbol: str) -> InstrumentId:
        """Build a coin id: the first 8 ASCII bytes of ``symbol``, zero-padded, read big-endian."""
        return cls(_symbol_id(symbol), venue, AssetType.COIN)

    @classmethod
    def stock(cls, venue: int, symbol: str) -> InstrumentId:
        """Build a stock id, packed like :meth:`coin`."""
        return cls(_symbol_id(symbol), venue, AssetType.STOCK)

    @classmethod
    def bond(cls, venue: int, symbol: str) -> InstrumentId:
        """Build a bond id, packed like :meth:`coin`."""
        return cls(_symbol_id(symbol), venue, AssetType.BOND)

    @classmethod
    def token(cls, venue: int, address: str | bytes) -> InstrumentId:
        """Build an EVM token id: the first 8 address bytes read big-endian (lossy: collisions are
        possible)."""
        raw = to_bytes(address)
        return cls(int.from_bytes(raw[:8], "big"), venue, AssetType.TOKEN)

    @classmethod
    def pool(cls, venue: int, token0: InstrumentId | int, token1: InstrumentId | int) -> InstrumentId:
        """Build a two-token pool id: ``lo * 31 + hi`` of the ordered token asset ids, wrapping at 2**64."""
        lo, hi = sorted((_asset_id(token0), _asset_id(token1)))
        return cls((lo * 31 + hi) & _M64, venue, AssetType.POOL, 0)

    @classmethod
    def triangular_pool(
        cls, venue: int, token_a: InstrumentId | int, token_b: InstrumentId | int, token_c: InstrumentId | int
    ) -> InstrumentId:
        """Build a three-token pool id: ``a * 31 + b * 17 + c`` of the sorted ids, wrapping; reserved = 1."""
        a, b, c = sorted((_asset_id(token_a), _asset_id(token_b), _asset_id(token_c)))
        return cls((a * 31 + b * 17 + c) & _M64, venue, AssetType.POOL, 1)

    def lp_token(self) -> InstrumentId:
        """Return the LP token of this pool: same asset id and venue, asset type LPToken."""
        return InstrumentId(self.asset_id, self.venue, AssetType.LP_TOKEN, self.reserved)

    def symbol(self) -> str:
        """Return the symbol packed by :meth:`coin` / :meth:`stock` / :meth:`bond` (NUL bytes stripped)."""
        return self.asset_id.to_bytes(8, "big").rstrip(b"\0").decode("ascii", "replace")

    def to_u64(self) -> int:
        """Return the lossy 64-bit key ``venue << 48 | asset_type << 40 | low 40 bits of asset_id``."""
        return (self.venue << 48) | (self.asset_type << 40) | (self.asset_id & 0xFF_FFFF_FFFF)

    def cache_key(self) -> int:
        """Return the lossless 128-bit key ``venue << 80 | asset_type << 72 | reserved << 64 | asset_id``."""
        return (self.venue << 80) | (self.asset_type << 72) | (self.reserved << 64) | self.asset_id

    @classmethod
    def from_cache_key(cls, key: int) -> InstrumentId:
        """Invert :meth:`cache_key`."""
        return cls(key & _M64, (key >> 80) & 0xFFFF, (key >> 72) & 0xFF, (key >> 64) & 0xFF)

    def pack(self) -> bytes:
        """Return the 12 wire bytes (little-endian, packed)."""
        return self._STRUCT.pack(self.asset_id, self.venue, self.asset_type, self.reserved)

    @classmethod
    def unpack(cls, buf: bytes | bytearray | memoryview, offset: int = 0) -> InstrumentId:
        """Read 12 wire bytes at ``offset``."""
        return cls(*cls._STRUCT.unpack_from(buf, offset))


class ExecutionStatus(IntEnum):
    """Outcome of an execution, in pulsearb's ExecutionReport (45) and FlashLoanResult (67) ``status``
    byte."""

    UNKNOWN = 0
    INCLUDED = 1  # mined and succeeded
    REVERTED = 2  # mined and reverted
    DROPPED = 3  # sent but not mined before its deadline
    REJECTED = 4  # refused by risk limits or the kill switch, never sent
    SIMULATION_FAILED = 5  # failed simulation, never sent


class FlashLoanProvider(IntEnum):
    """Lender in pulsearb's FlashLoanResult (67) ``provider`` byte."""

    UNKNOWN = 0
    AAVE_V3 = 1
    BALANCER_V2 = 2
    UNISWAP_V3 = 3
    LOCAL = 4  # the test flash lender of pulsearb's local chain
