"""Every TLV value class pulsearb decodes, and the registry from type number to class.

One frozen, slotted dataclass per layout, with AlphaPulse's struct field names (padding omitted); each has
``TYPE``, ``NAME``, ``SIZE`` and ``KINDS`` class attributes, ``encode()`` (value bytes only) and the
classmethod ``decode(buf, offset=0, length=None)``. A type number without a class decodes to
:class:`UnknownTlv`.

Sizes enforced on decode are the sizes AlphaPulse really emits (Quote 56, ArbitrageSignal 170, PoolSync 160,
...), never its wrong declared ones (52, 168, bounded ranges).
"""

from __future__ import annotations

from flows.relay.tlv_base import Tlv, UnknownTlv
from flows.relay.tlv_liquidity import PoolBurn, PoolLiquidity, PoolMint, PoolTick
from flows.relay.tlv_market import GasPrice, OrderBook, OrderLevel, Quote, QuoteUpdate, Trade
from flows.relay.tlv_pool import PoolInfo, PoolStateTlv, PoolSwap, PoolSync
from flows.relay.tlv_signal import ArbitrageSignal, ExecutionReport, FlashLoanResult
from flows.relay.tlv_system import Heartbeat, StateInvalidation, Subscribe

__all__ = [
    "TLV_CLASSES",
    "ArbitrageSignal",
    "ExecutionReport",
    "FlashLoanResult",
    "GasPrice",
    "Heartbeat",
    "OrderBook",
    "OrderLevel",
    "PoolBurn",
    "PoolInfo",
    "PoolLiquidity",
    "PoolMint",
    "PoolStateTlv",
    "PoolSwap",
    "PoolSync",
    "PoolTick",
    "Quote",
    "QuoteUpdate",
    "StateInvalidation",
    "Subscribe",
    "Tlv",
    "Trade",
    "UnknownTlv",
    "tlv_class",
]

#: Type number -> class, for every layout pulsearb decodes.
TLV_CLASSES: dict[int, type[Tlv]] = {
    cls.TYPE: cls
    for cls in (
        Trade,
        Quote,
        OrderBook,
        PoolLiquidity,
        PoolSwap,
        PoolMint,
        PoolBurn,
        PoolTick,
        PoolStateTlv,
        PoolSync,
        QuoteUpdate,
        GasPrice,
        ArbitrageSignal,
        ExecutionReport,
        FlashLoanResult,
        Heartbeat,
        StateInvalidation,
        PoolInfo,
        Subscribe,
    )
}

_BY_NAME: dict[str, type[Tlv]] = {cls.NAME: cls for cls in TLV_CLASSES.values()}


def tlv_class(key: int | str) -> type[Tlv] | None:
    """Return the class for a type number or JSON name (``16`` or ``"PoolSync"``), or None if pulsearb has
    none."""
    return TLV_CLASSES.get(key) if isinstance(key, int) else _BY_NAME.get(key)
