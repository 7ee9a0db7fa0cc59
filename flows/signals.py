"""Accepted opportunities -> AlphaPulse ArbitrageSignal TLVs (type 32, 170 bytes packed) and Signal-domain frames.

Pure: no I/O, time comes in as an argument. AlphaPulse's flash-arbitrage strategy writes the same TLV
(``strategies/flash_arbitrage/src/signal_output.rs``); its dashboard and other signal consumers decode it with
``ArbitrageSignalTLV::from_bytes``, which requires exactly 170 bytes. Conventions (reference section 2.2 and 2.3):

- USD amounts are i64 fixed point x1e8 (``*_usd_q8``); spreads and tolerances are bps; ``valid_until`` is Unix
  seconds; ``priority`` is ``spread_bps * 10`` capped at 65535; ``strategy_id`` 21 is flash arbitrage;
- ``net_profit_usd_q8 == expected_profit_usd_q8 - dex_fees_usd_q8 - gas_cost_usd_q8 - slippage_usd_q8`` exactly.

How pulsearb fills them from an :class:`~flows.opportunity.Opportunity` (raw amounts are exact integers; USD
appears only at the end, converted once at one price per raw unit of ``token_in``):

- ``expected_profit``: the cycle's profit before pool fees, flash fee and gas: ``gross + pool fees``, where the
  pool fees are exact on the first hop (``amount_in * fee / 1e4``) and, on the last hop, the fee implied by its
  output (``amount_out * fee / (1e4 - fee)``), both in raw ``token_in`` units;
- ``dex_fees``: those pool fees plus the flash-loan fee; ``gas_cost``: the opportunity's ``gas_cost``;
  ``slippage``: 0, because the amounts are exact integer quotes at the observed pool states (the executor's
  ``min_profit`` guard and ``slippage_tolerance_bps`` bound what the chain may change);
- ``net_profit``: the opportunity's exact ``net_profit``; ``required_capital``: ``amount_in``;
- ``spread_bps``: ``expected_profit * 1e4 // amount_in``, the price difference the sized cycle captures before
  fees (the top-of-book spread is larger; pass ``spread_bps`` when a caller knows it);
- USD price: ``SignalParams.usd_per_token[token_in]`` when configured, else the price implied by the opportunity's
  own ``gross_profit_usd / gross_profit``; 0 when neither is known (every USD field is then 0);
- ``signal_id``: the first 8 bytes of the opportunity id (:func:`signal_id`), so a replay yields the same id and an
  ExecutionReport (45) can answer it; AlphaPulse uses its timestamp instead, which no consumer relies on;
- ``valid_until``: the opportunity's ``valid_until_ns`` in whole seconds (rounded down).

Frames carry domain Signal (2), source ArbitrageStrategy (20) and, by default, a CRC32 checksum: AlphaPulse's
flash-arbitrage output writes 0 and every AlphaPulse reader accepts 0, but a correct CRC is also accepted by the
readers that verify the Signal domain (its relay configs ask for it), so it is the choice every reader takes.
``SignalParams(checksum=False)`` writes 0, byte for byte what AlphaPulse's hot-path builder writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from base.errors import FrameError
from flows.opportunity import Opportunity
from flows.relay.address import to_bytes
from flows.relay.codec import encode_frame
from flows.relay.protocol import RelayDomain, SourceType
from flows.relay.tlv import ArbitrageSignal

FLASH_ARBITRAGE_STRATEGY_ID = 21
BPS = 10_000
_U16 = 0xFFFF
_U32 = 0xFFFF_FFFF
_I64 = (-(1 << 63), (1 << 63) - 1)
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class SignalParams:
    """How opportunities become signals.

    Attributes:
        strategy_id: ``ArbitrageSignal.strategy_id`` (21 = flash arbitrage, as AlphaPulse's strategy).
        source: header ``source``, a SourceType number (20 = ArbitrageStrategy).
        slippage_tolerance_bps: allowed slippage, bps (AlphaPulse's default 50).
        max_gas_price_gwei: gas price cap, gwei (AlphaPulse's default 100).
        usd_per_token: USD per whole token by token address, for the ``*_usd_q8`` fields (display figures);
            tokens absent here use the price implied by the opportunity's USD figures.
        checksum: write the CRC32 (True) or 0 as AlphaPulse's hot-path builder does (False).
    """

    strategy_id: int = FLASH_ARBITRAGE_STRATEGY_ID
    source: int = SourceType.ARBITRAGE_STRATEGY
    slippage_tolerance_bps: int = 50
    max_gas_price_gwei: int = 100
    usd_per_token: Mapping[str, float] = field(default_factory=dict)
    checksum: bool = True


def signal_id(opportunity_id: str) -> int:
    """The u64 signal id of an opportunity: its id's first 16 hex digits, or a SHA-256 prefix if it is not hex.

    Example:
        >>> hex(signal_id("0123456789abcdef0123456789abcdef"))
        '0x123456789abcdef'
    """
    head = opportunity_id[:16]
    if len(head) == 16 and _HEX.issuperset(head):
        return int(head, 16)
    return int.from_bytes(hashlib.sha256(opportunity_id.encode()).digest()[:8], "big")


def pool_fees(opp: Opportunity) -> int:
    """Pool fees of a two-pool cycle in raw ``token_in`` units: first hop exact, last hop implied by its output."""
    first, last = opp.fees_bps[0], opp.fees_bps[-1]
    return opp.amount_in * first // BPS + opp.amount_out * last // (BPS - last)


def _usd_per_unit(opp: Opportunity, params: SignalParams) -> Fraction:
    """USD per raw unit of token_in (exact rational), or 0 when no price is known."""
    price = params.usd_per_token.get(opp.token_in)
    if price is not None:
        return Fraction(repr(float(price))) / 10**opp.token_in_decimals
    if opp.gross_profit > 0 and opp.gross_profit_usd:
        return Fraction(repr(float(opp.gross_profit_usd))) / opp.gross_profit
    return Fraction(0)


def _check_two_pool(opp: Opportunity) -> None:
    problems = []
    if len(opp.pools) != 2 or len(opp.venues) != 2 or len(opp.fees_bps) != 2 or len(opp.path) != 3:
        problems.append(f"carries two pools, the opportunity has {len(opp.pools)} ({opp.strategy})")
    else:
        for name, value in (("pool", opp.pools[0]), ("pool", opp.pools[1]), ("token", opp.token_in)):
            try:
                to_bytes(value)
            except ValueError:
                problems.append(f"needs 20-byte addresses, {name} {value!r} is not one")
        if not all(0 <= f < BPS for f in opp.fees_bps):
            problems.append(f"needs pool fees below 100 %, got {opp.fees_bps} bps")
    if opp.amount_in <= 0:
        problems.append(f"needs a positive amount_in, got {opp.amount_in}")
    if problems:
        msg = f"opportunity {opp.id}: cannot express as ArbitrageSignal (32): it {'; '.join(problems)}"
        raise FrameError(msg)


def _fit(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        msg = f"cannot express as ArbitrageSignal (32): {name} {value} outside {low}..{high}"
        raise FrameError(msg)
    return value


def arbitrage_signal(
    opp: Opportunity,
    *,
    now_ns: int,
    params: SignalParams | None = None,
    spread_bps: int | None = None,
) -> ArbitrageSignal:
    """Build the ArbitrageSignal TLV of an accepted two-pool opportunity.

    Args:
        opp: the opportunity risk accepted (a cycle ``token_in -> token_out -> token_in`` through two pools).
        now_ns: when the signal is issued, ns since epoch (``timestamp_ns``).
        params: strategy id, defaults and USD prices.
        spread_bps: the pools' price spread when the caller knows it; default: the captured spread (module doc).

    Returns:
        The TLV value (see the module docstring for how each field is derived).

    Raises:
        FrameError: not a two-pool cycle on 20-byte addresses, or a value does not fit its field (a USD figure
            beyond i64 x1e8, a chain id above u32, a validity past 2106).
    """
    params = params or SignalParams()
    _check_two_pool(opp)
    usd = _usd_per_unit(opp, params)

    def q8(raw_units: int) -> int:
        return _fit("USD x1e8 value", round(raw_units * usd * 100_000_000), *_I64)

    fees = pool_fees(opp)
    expected_raw = opp.gross_profit + fees
    dex_fees = q8(fees + opp.flash_fee)
    gas = q8(opp.gas_cost)
    slippage = 0
    net = q8(opp.net_profit)
    spread = expected_raw * BPS // opp.amount_in if spread_bps is None else spread_bps
    spread = min(max(spread, 0), _U16)
    return ArbitrageSignal(
        strategy_id=params.strategy_id,
        signal_id=signal_id(opp.id),
        chain_id=_fit("chain_id", opp.chain_id, 0, _U32),
        source_pool=opp.pools[0],
        target_pool=opp.pools[1],
        source_venue=_fit("source_venue", opp.venues[0], 0, _U16),
        target_venue=_fit("target_venue", opp.venues[1], 0, _U16),
        token_in=opp.token_in,
        token_out=opp.path[1],
        expected_profit_usd_q8=_fit("expected profit USD x1e8", net + dex_fees + gas + slippage, *_I64),
        required_capital_usd_q8=q8(opp.amount_in),
        spread_bps=spread,
        dex_fees_usd_q8=dex_fees,
        gas_cost_usd_q8=gas,
        slippage_usd_q8=slippage,
        net_profit_usd_q8=net,
        slippage_tolerance_bps=params.slippage_tolerance_bps,
        max_gas_price_gwei=params.max_gas_price_gwei,
        valid_until=_fit("valid_until (Unix s)", opp.valid_until_ns // 1_000_000_000, 0, _U32),
        priority=min(spread * 10, _U16),
        reserved=0,
        timestamp_ns=now_ns,
    )


def maybe_signal(opp: Opportunity, *, now_ns: int, params: SignalParams | None = None) -> ArbitrageSignal | None:
    """:func:`arbitrage_signal`, or None for an opportunity the format cannot carry (for ``op.filter_map``)."""
    try:
        return arbitrage_signal(opp, now_ns=now_ns, params=params)
    except FrameError:
        return None


def signal_frame(
    signal: ArbitrageSignal,
    *,
    sequence: int,
    timestamp_ns: int,
    params: SignalParams | None = None,
) -> bytes:
    """Encode one ArbitrageSignal as a Signal-domain (2) frame: 32-byte header + ``[32][170][value]``.

    Args:
        signal: the TLV.
        sequence: the sender's sequence number (u64, starting at 1 as AlphaPulse's counter does).
        timestamp_ns: header timestamp, ns since epoch (when the frame is built).
        params: header source and checksum choice.

    Returns:
        204 bytes.

    Raises:
        FrameError: a field out of range for its wire type.
    """
    params = params or SignalParams()
    return encode_frame(
        RelayDomain.SIGNAL,
        params.source,
        [signal],
        sequence=sequence,
        timestamp_ns=timestamp_ns,
        checksum=params.checksum,
    )
