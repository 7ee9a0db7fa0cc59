"""Seeding: which calls read a pool's exact state at one block, and how their results become a state (pure).

A pool is read in up to three rounds of batched ``eth_call``s, every call pinned to the same block hash:

1. **probe** (only for a pool not followed yet): ``eth_getCode`` plus ``token0``, ``token1``, ``factory``,
   ``getReserves`` (V2), ``slot0``, ``fee``, ``tickSpacing`` (V3). :func:`classify` refuses, with one line, an
   address with no code, one that answers like neither a V2 pair nor a V3 pool, or whose ``factory()`` is not a
   configured factory of the same kind.
2. **verify + state**: the factory's ``getPair(token0, token1)`` / ``getPool(token0, token1, fee)`` must return
   this very address (a contract can claim any factory; the factory's registry cannot be faked by the pool), the
   tokens' ``decimals()`` (once per token); and the state: V2 ``getReserves()``, V3 ``slot0()``, ``liquidity()``
   and every ``tickBitmap`` word from ``MIN_TICK`` to ``MAX_TICK`` compressed by the spacing (:func:`bitmap_words`).
3. **ticks**: ``ticks(t)`` of every bit set in those words (:func:`ticks_of_words`): gross and net liquidity.

A result is the call's return data, or None when the call failed; every reader checks the size and range the
contract's types guarantee, so a lying node or a look-alike contract is refused rather than half-believed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flows.amm.v3.tick_math import MAX_TICK, MIN_TICK
from flows.collector.abi import (
    DECIMALS,
    FACTORY,
    FEE,
    GET_PAIR,
    GET_POOL,
    GET_RESERVES,
    LIQUIDITY,
    SLOT0,
    TICK_BITMAP,
    TICK_SPACING,
    TICKS,
    TOKEN0,
    TOKEN1,
    Call,
    call,
    signed,
    word,
)
from flows.collector.state import V2, V3, PoolChainState, PoolInfo, V2State, V3State

Result = bytes | None


@dataclass(frozen=True, slots=True)
class FactoryConfig:
    """A configured factory: which pools it creates and how they are published.

    Attributes:
        address: factory address, lower-case.
        kind: ``v2`` or ``v3``.
        venue: VenueId published with its pools.
        fee_bps: V2 swap fee in bps (fixed in the pair's code: 30 for Uniswap V2); unused for V3.
        pool_type: PoolState ``pool_type`` published (0 Uniswap V2, 1 Uniswap V3, 2 SushiSwap V2, 3 QuickSwap V3).
        start_block: first block searched for its PairCreated/PoolCreated logs.
        discover: follow every pool it creates (False: only the spec's ``pools`` of this factory).
    """

    address: str
    kind: str
    venue: int
    fee_bps: int = 30
    pool_type: int = 0
    start_block: int = 0
    discover: bool = True


@dataclass(frozen=True, slots=True)
class Refusal:
    """A pool address the collector will not follow, and why (one line)."""

    pool: str
    reason: str

    def __str__(self) -> str:
        return f"pool {self.pool} refused: {self.reason}"


@dataclass(frozen=True, slots=True)
class Probe:
    """What round 1 learnt of a candidate pool."""

    pool: str
    kind: str
    factory: FactoryConfig
    token0: str
    token1: str
    fee: int = 0
    tick_spacing: int = 0


def _address(raw: Result) -> str | None:
    if raw is None or len(raw) != 32 or raw[:12] != bytes(12):
        return None
    return "0x" + raw[12:].hex()


def _uint(raw: Result, bits: int, words: int = 1) -> int | None:
    if raw is None or len(raw) != 32 * words:
        return None
    value = word(raw, 0)
    return value if value < 1 << bits else None


def probe_calls(pool: str) -> list[Call]:
    """Round 1 calls of a candidate (``eth_getCode`` is asked beside them)."""
    return [
        call(pool, TOKEN0),
        call(pool, TOKEN1),
        call(pool, FACTORY),
        call(pool, GET_RESERVES),
        call(pool, SLOT0),
        call(pool, FEE),
        call(pool, TICK_SPACING),
    ]


def classify(
    pool: str, code: Result, results: Sequence[Result], factories: Mapping[str, FactoryConfig]
) -> Probe | Refusal:
    """Decide from round 1 whether ``pool`` looks like a pool of a configured factory.

    Args:
        pool: the address.
        code: ``eth_getCode`` at the pinned block (None: the call failed).
        results: the results of :func:`probe_calls`, in order.
        factories: configured factories by address.
    """
    if code is None:
        return Refusal(pool, "eth_getCode failed")
    if not code:
        return Refusal(pool, "no contract code at this address (an EOA, or not deployed at this block)")
    token0, token1, factory = _address(results[0]), _address(results[1]), _address(results[2])
    reserves, slot0, fee_raw, spacing_raw = results[3], results[4], results[5], results[6]
    v2 = reserves is not None and len(reserves) == 96 and word(reserves, 0) < 1 << 112 and word(reserves, 1) < 1 << 112
    spacing = signed(spacing_raw, 0) if spacing_raw is not None and len(spacing_raw) == 32 else None
    fee = _uint(fee_raw, 24)
    v3 = slot0 is not None and len(slot0) == 224 and fee is not None and spacing is not None and 0 < spacing < 1 << 14
    if token0 is None or token1 is None or factory is None or v2 == v3:
        return Refusal(
            pool,
            "does not answer like a Uniswap V2 pair (token0/token1/factory/getReserves) or V3 pool "
            "(token0/token1/factory/slot0/fee/tickSpacing)",
        )
    kind = V2 if v2 else V3
    config = factories.get(factory)
    if config is None:
        return Refusal(pool, f"its factory() {factory} is not a configured factory")
    if config.kind != kind:
        return Refusal(pool, f"answers like a {kind} pool but its factory {factory} is configured as {config.kind}")
    if int(token0, 16) >= int(token1, 16):
        return Refusal(pool, f"token0 {token0} does not sort before token1 {token1}")
    if kind == V3 and (fee is None or fee % 100):
        return Refusal(pool, f"fee {fee} pips is not a whole number of bps (market.pool_state carries bps)")
    return Probe(pool, kind, config, token0, token1, fee or 0, spacing or 0)


def verify_call(probe: Probe) -> Call:
    """Round 2's check of a probe: the factory's ``getPair(token0, token1)`` / ``getPool(token0, token1, fee)``."""
    f = probe.factory.address
    if probe.kind == V2:
        return call(f, GET_PAIR, probe.token0, probe.token1)
    return call(f, GET_POOL, probe.token0, probe.token1, probe.fee)


def decimals_call(token: str) -> Call:
    """``decimals()`` of a token (asked once per token, however many pools hold it)."""
    return call(token, DECIMALS)


def read_decimals(raw: Result) -> int | None:
    """A ``decimals()`` result, or None when it is not a uint8."""
    return _uint(raw, 8)


def verified(
    probe: Probe, registered: Result, decimals: Mapping[str, int], created_block: int = 0
) -> PoolInfo | Refusal:
    """The pool's :class:`PoolInfo` when round 2 confirms it.

    Args:
        probe: round 1's finding.
        registered: the result of :func:`verify_call`.
        decimals: token -> decimals read (a token missing here did not answer ``decimals()``).
        created_block: the block of the log that announced the pool (0 when configured).
    """
    found = _address(registered)
    if found != probe.pool:
        what = "getPair" if probe.kind == V2 else "getPool"
        return Refusal(probe.pool, f"factory {probe.factory.address} {what}(token0, token1) returns {found}, not it")
    for token in (probe.token0, probe.token1):
        if token not in decimals:
            return Refusal(probe.pool, f"token {token} does not answer decimals() with a uint8")
    f = probe.factory
    return PoolInfo(
        address=probe.pool,
        kind=probe.kind,
        factory=f.address,
        venue=f.venue,
        pool_type=f.pool_type,
        token0=probe.token0,
        token1=probe.token1,
        token0_decimals=decimals[probe.token0],
        token1_decimals=decimals[probe.token1],
        fee=f.fee_bps if probe.kind == V2 else probe.fee,
        tick_spacing=probe.tick_spacing,
        created_block=created_block,
    )


def bitmap_words(tick_spacing: int) -> range:
    """Word positions of every ``tickBitmap`` word a pool of this spacing can use (MIN_TICK to MAX_TICK)."""
    return range((MIN_TICK // tick_spacing) >> 8, ((MAX_TICK // tick_spacing) >> 8) + 1)


def ticks_of_words(words: Mapping[int, int], tick_spacing: int) -> list[int]:
    """Every initialized tick of the given bitmap words, ascending."""
    out = []
    for pos in sorted(words):
        w = words[pos]
        while w:
            low = w & -w
            out.append((pos * 256 + low.bit_length() - 1) * tick_spacing)
            w ^= low
    return out


def state_calls(info: PoolInfo) -> list[Call]:
    """Round 2 calls of a pool's state: ``getReserves()``, or ``slot0()``, ``liquidity()`` and every bitmap word."""
    if info.kind == V2:
        return [call(info.address, GET_RESERVES)]
    words = bitmap_words(info.tick_spacing)
    return [call(info.address, SLOT0), call(info.address, LIQUIDITY)] + [
        call(info.address, TICK_BITMAP, w) for w in words
    ]


def read_state(info: PoolInfo, results: Sequence[Result]) -> tuple[PoolChainState, list[int]] | str:
    """The state from round 2 and the ticks round 3 must read, or why the results are unusable.

    For a V3 pool the returned state has no ticks yet: :func:`add_ticks` fills them from round 3.
    """
    if info.kind == V2:
        raw = results[0]
        if raw is None or len(raw) != 96:
            return "getReserves() failed"
        r0, r1 = word(raw, 0), word(raw, 1)
        if r0 >= 1 << 112 or r1 >= 1 << 112:
            return "getReserves() returned values above uint112"
        return V2State(r0, r1), []
    slot0, liq = results[0], _uint(results[1], 128)
    if slot0 is None or len(slot0) != 224 or liq is None:
        return "slot0() or liquidity() failed"
    price, tick = word(slot0, 0), signed(slot0, 1)
    words: dict[int, int] = {}
    for pos, raw in zip(bitmap_words(info.tick_spacing), results[2:], strict=True):
        if raw is None or len(raw) != 32:
            return f"tickBitmap({pos}) failed"
        if raw != bytes(32):
            words[pos] = word(raw, 0)
    return V3State(price, tick, liq), ticks_of_words(words, info.tick_spacing)


def tick_calls(info: PoolInfo, ticks: Sequence[int]) -> list[Call]:
    """Round 3: ``ticks(t)`` of every initialized tick."""
    return [call(info.address, TICKS, t) for t in ticks]


def add_ticks(state: V3State, ticks: Sequence[int], results: Sequence[Result]) -> str | None:
    """Fill ``state.ticks`` from round 3 (in place); return why a result is unusable, else None."""
    for t, raw in zip(ticks, results, strict=True):
        if raw is None or len(raw) != 256:
            return f"ticks({t}) failed"
        gross, net = word(raw, 0), signed(raw, 1)
        if gross == 0 or gross >= 1 << 128 or not -(1 << 127) <= net < 1 << 127:
            return f"ticks({t}) is set in the bitmap but reports liquidityGross {gross}"
        state.ticks[t] = (gross, net)
    return None
