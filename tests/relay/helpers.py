"""Shared test values for the relay tests: realistic samples of every TLV, and hypothesis strategies.

Addresses are real Polygon tokens and pools (``/work/shared/fixtures/alphapulse/polygon/``); the strategies are
derived from each class's ``KINDS`` so every field is exercised over its full range.
"""

from __future__ import annotations

from hypothesis import strategies as st

from base.venues import VenueId
from flows.relay.address import to_hex
from flows.relay.protocol import CachePoolType, ExecutionStatus, FlashLoanProvider, PoolStateType
from flows.relay.tlv import (
    TLV_CLASSES,
    ArbitrageSignal,
    ExecutionReport,
    FlashLoanResult,
    GasPrice,
    Heartbeat,
    OrderBook,
    OrderLevel,
    PoolBurn,
    PoolInfo,
    PoolLiquidity,
    PoolMint,
    PoolStateTlv,
    PoolSwap,
    PoolSync,
    PoolTick,
    Quote,
    QuoteUpdate,
    Subscribe,
    Tlv,
    Trade,
)
from flows.relay.tlv_base import int_range, split_list_kind

WMATIC = "0x0d500b1d8e8ef31e21c99d1db9a6444d3adf1270"
USDC = "0x2791bca1f2de4661ed88a30c99a7a9449aa84174"
WETH = "0x7ceb23fd6bc0add59e62ac25578270cff1b9f619"
QUICKSWAP_WMATIC_USDC = "0x6e7a5fafcec6bb1e78bae2a1f0b612012bf14827"
UNIV3_USDC_WETH = "0x45dda9cb7c25131df268515131f647d726f50608"
PROVIDER = "0x00000000000000000000000000000000000000a1"
TS = 1755893490012637000


def sample_tlvs() -> dict[str, Tlv]:
    """Return one realistic value of every TLV class, keyed by class name."""
    return {
        "Trade": Trade(0x4254432F55534400, 11682785000000, 4147, TS, VenueId.COINBASE, 51, 0, 0),
        "Quote": Quote(0x4254432F55534400, 11682700000000, 150000000, 11682800000000, 20000000, TS, 102, 51, 0),
        "QuoteUpdate": QuoteUpdate(0x4554482F55534400, 431000000000, 1, 431100000000, 2, TS, 101, 51, 0),
        "OrderBook": OrderBook(
            TS,
            42,
            100_000_000,
            0x4254432F55534400,
            VenueId.KRAKEN,
            51,
            0,
            (OrderLevel(11682700000000, 5, 2), OrderLevel(11682600000000, 7, 1)),
            (OrderLevel(11682800000000, 3, 1),),
        ),
        "PoolLiquidity": PoolLiquidity(TS, (10**24, 2_500_000 * 10**6), QUICKSWAP_WMATIC_USDC, VenueId.QUICKSWAP),
        "PoolSwap": PoolSwap(
            10**21,
            987_654_321,
            3 * 10**30,
            TS,
            50_000_001,
            -201_234,
            VenueId.POLYGON,
            18,
            6,
            UNIV3_USDC_WETH,
            WETH,
            USDC,
            1_456_282_621_960_845_218_542_145_536_000,
        ),
        "PoolMint": PoolMint(
            10**18, 5 * 10**18, 7 * 10**6, TS, -887_220, 887_220, 400, 18, 6, QUICKSWAP_WMATIC_USDC, PROVIDER,
            WMATIC, USDC,
        ),
        "PoolBurn": PoolBurn(
            10**17, 5 * 10**17, 7 * 10**5, TS, -60, 60, 301, 6, 18, UNIV3_USDC_WETH, PROVIDER, USDC, WETH
        ),
        "PoolTick": PoolTick(-123_456_789, 2**63 + 5, TS, -887_272, 301, UNIV3_USDC_WETH),
        "PoolState": PoolStateTlv(
            10**24,
            2 * 10**12,
            2**96 * 3,
            10**22,
            50_000_002,
            TS,
            -201_000,
            5,
            VenueId.UNISWAP_V3,
            PoolStateType.UNISWAP_V3,
            6,
            18,
            UNIV3_USDC_WETH,
            USDC,
            WETH,
        ),
        "PoolSync": PoolSync(
            123_456_789_012_345_678_901_234, 987_654_321_098, TS, 50_000_000, 400, 18, 6,
            QUICKSWAP_WMATIC_USDC, WMATIC, USDC,
        ),
        "GasPrice": GasPrice(50_000_003, TS, 35, 30, 5, 137, 0),
        "ArbitrageSignal": ArbitrageSignal(
            21, TS, 137, QUICKSWAP_WMATIC_USDC, UNIV3_USDC_WETH, 400, 301, WMATIC, USDC, 12_345_678_900,
            1_000_000_000_000, 42, 600_000_000, 10_000_000, 100_000_000, 11_635_678_900, 50, 100,
            1_755_893_790, 420, 0, TS,
        ),
        "ExecutionReport": ExecutionReport(TS, TS + 5, 50_000_010, -(10**18), 312_000, ExecutionStatus.INCLUDED, 0, 21),
        "FlashLoanResult": FlashLoanResult(
            TS, TS + 9, 50_000_011, 10**22, 9 * 10**18, 3 * 10**17, 455_000, ExecutionStatus.INCLUDED,
            FlashLoanProvider.AAVE_V3, WMATIC, "0x" + "ab" * 32, (QUICKSWAP_WMATIC_USDC, UNIV3_USDC_WETH),
        ),
        "Heartbeat": Heartbeat(TS, 7),
        "PoolInfo": PoolInfo(
            1_755_000_000, 1_755_893_490, 30, 400, 200, 86, 18, 6, CachePoolType.QUICKSWAP_V2,
            QUICKSWAP_WMATIC_USDC, WMATIC, USDC,
        ),
        "Subscribe": Subscribe((16, 11), (400, 301), (QUICKSWAP_WMATIC_USDC,)),
    }


addresses = st.binary(min_size=20, max_size=20).map(to_hex)
levels = st.builds(
    OrderLevel,
    st.integers(*int_range("i64")),
    st.integers(*int_range("i64")),
    st.integers(*int_range("u32")),
    st.integers(*int_range("u32")),
)


def value_strategy(kind: str) -> st.SearchStrategy:
    """Return a strategy for any valid value of a field kind."""
    listed = split_list_kind(kind)
    if listed is not None:
        element, capacity = listed
        inner = levels if element == "levels" else value_strategy(element)
        return st.lists(inner, max_size=min(capacity, 12)).map(tuple)
    if kind == "address":
        return addresses
    if kind == "hash":
        return st.binary(min_size=32, max_size=32).map(to_hex)
    return st.integers(*int_range(kind))


def tlv_strategy(cls: type[Tlv]) -> st.SearchStrategy:
    """Return a strategy for any encodable value of a TLV class."""
    return st.builds(cls, **{name: value_strategy(kind) for name, kind in cls.KINDS.items()})


any_known_tlv = st.sampled_from(sorted(TLV_CLASSES.values(), key=lambda c: c.TYPE)).flatmap(tlv_strategy)
