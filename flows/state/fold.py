"""The per-pool state fold: every pool event, in, the pool's current tradable state, out (pure).

:func:`fold_event` is the step function of the keyed ``pool_state`` step (one key per pool address). It keeps a
:class:`PoolBook` per pool (metadata, reserves or V3 price/liquidity/ticks, and the position of the last event
applied) and emits a :class:`~flows.pools.PoolState` whenever an event changed a pool that can be priced.

Rules, in the order a pool's events can arrive from several topics and partitions:

- Position: an event that moves price or reserves (sync, state, swap, V2 mint/burn, absolute reserves) is applied only
  if it is after the last such event, by (block, position in the block, header timestamp, sequence); events without a
  block take the held block. The position in the block is :data:`BLOCK_END` for a state marked ``end_of_block`` (a
  chain collector's state of the pool after every log of its block) and 0 for every other event (none carries a log
  index today), so a collector's state sorts after every event of its block: a swap of that block arriving later (an
  AlphaPulse feed of swaps, which the state already includes) is not applied on top of it, where a V2 swap's delta
  would be counted twice; a swap of the next block is. A collector's state that arrives after the swaps of its block
  and prices exactly as they left the pool confirms it: it is held (so later swaps of that block are ignored) but not
  emitted, so a detector does not size the same dislocation twice. Events without a block sort before a held collector
  state (their block is unknown, so the state may include them). Replays and cross-topic reordering therefore never
  move a pool back, and an incremental event (a swap or mint delta) older than an absolute one (a Sync or a full
  PoolState) is ignored because the absolute one already includes it. Which intermediate states are emitted when a
  pool's topics interleave differently can differ; the state after all of them does not.
- V3 tick-map events (mint, burn, PoolTick: one topic, ``market.pool_liquidity``) have a position of their own,
  by (header timestamp, sequence), because a swap or state does not include them: a mint that arrives after a
  newer swap still updates the ticks. It changes the active liquidity only when it is also newer than the last
  price event (otherwise that event's liquidity, when taken from the event, already counts it; when it was
  recomputed from the ticks, it can be off until the next PoolState or valid ``liquidity_after``).
- V2: Sync and PoolState set reserves; swaps, mints and burns apply their amounts to known reserves (a Sync normally
  follows and confirms them); absolute PoolLiquidity reserves set them.
- V3: PoolState sets price, tick and active liquidity; a PoolState carrying ``ticks`` (the collector's, after a
  seed, mint or burn) replaces the whole tick map, zero-net initialized ticks included, when it is newer by the
  position above than the last map taken from a state (its own order: the map is taken even when a newer swap
  moved the price already), and tick-map events older (by header timestamp, sequence) than it are ignored from
  then on. A swap sets price and tick; its ``liquidity_after`` is used when it is plausible, otherwise (AlphaPulse
  writes the sqrt price there) the active liquidity is recomputed by crossing the known initialized ticks between
  the old and the new tick. Mints and burns update the ticks' liquidity net and, when the position spans the
  current tick, the active liquidity; a PoolTick sets one tick's liquidity net. Without a collector, initialized
  ticks are known only from these events (or configuration), so a pool whose positions predate the topics'
  retention prices swaps that leave the known range with the liquidity it knows.
- Metadata (tokens, decimals, fee, type, tick spacing) comes from configuration (:class:`Catalog`), PoolInfo
  records and every event that carries it; configuration wins for fees and tick spacings.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field, replace

from flows.amm.v3.liquidity_math import MAX_UINT128
from flows.amm.v3.pool import FrozenIntMap, V3PoolState
from flows.amm.v3.tick_math import MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK
from flows.pools import PoolState
from flows.state.catalog import STANDARD_TICK_SPACINGS, Catalog, PoolMeta
from flows.state.events import (
    InfoEvent,
    LiquidityEvent,
    PoolEvent,
    StateEvent,
    SwapEvent,
    SyncEvent,
    TickEvent,
)

_MAX_INT128 = 2**127 - 1

#: Position in the block of a state that is the pool after every log of its block (``end_of_block``).
BLOCK_END = 1 << 62

Position = tuple[int, int, int, int]
"""(block, position in the block, header timestamp, sequence)."""


@dataclass(slots=True)
class PoolBook:
    """The fold's state for one pool (built per event on the hot path: never mutated, a new one per change).

    Attributes:
        meta: metadata (None until an event or configuration gave the tokens).
        reserve0: V2 token0 reserve (-1 while unknown).
        reserve1: V2 token1 reserve (-1 while unknown).
        sqrt_price_x96: V3 price (0 while unknown).
        liquidity: V3 active liquidity.
        tick: V3 current tick.
        ticks: V3 initialized ticks -> liquidity net, as known.
        position: (block, position in the block, header timestamp, sequence) of the last price or reserve event
            applied.
        tick_position: (header timestamp, sequence) of the last V3 tick-map event applied.
        state: the last state emitted.
        map_position: position of the last state whose ``ticks`` replaced the tick map.
    """

    meta: PoolMeta | None = None
    reserve0: int = -1
    reserve1: int = -1
    sqrt_price_x96: int = 0
    liquidity: int = 0
    tick: int = 0
    ticks: FrozenIntMap = field(default_factory=FrozenIntMap)
    position: Position = (0, 0, 0, 0)
    tick_position: tuple[int, int] = (0, 0)
    state: PoolState | None = None
    map_position: Position = (0, 0, 0, 0)

    def __deepcopy__(self, memo: dict) -> PoolBook:
        return self  # immutable: Bytewax snapshots by deepcopy, a copy would be waste


def _position(event: PoolEvent, held: Position) -> Position:
    intra = BLOCK_END if type(event) is StateEvent and event.end_of_block else 0
    return (event.block_number or held[0], intra, event.timestamp_ns, event.sequence)


def _merge_meta(meta: PoolMeta | None, event: PoolEvent, catalog: Catalog, **known: object) -> PoolMeta:
    """Metadata updated with what ``event`` carries (empty values never overwrite known ones)."""
    base = meta or catalog.pools.get(event.pool) or PoolMeta(event.pool, event.venue)
    changes = {k: v for k, v in known.items() if v not in ("", 0, None)}
    if "v3" in known:
        changes["v3"] = bool(known["v3"]) or base.v3
    if base.venue == 0 and event.venue:
        changes["venue"] = event.venue
    for side in ("token0", "token1"):
        dec = f"{side}_decimals"
        token = changes.get(side, getattr(base, side))
        if token and not (changes.get(dec) or getattr(base, dec)):
            changes[dec] = catalog.decimals(str(token), 0)
    if base.pool in catalog.pools:  # configuration wins for what it sets
        seed = catalog.pools[base.pool]
        if seed.tick_spacing:
            changes["tick_spacing"] = seed.tick_spacing
        if seed.fee_bps is not None:
            changes["fee_bps"] = seed.fee_bps
    return replace(base, **changes) if changes else base


def _cross(ticks: FrozenIntMap, liquidity: int, old_tick: int, new_tick: int) -> int:
    """Active liquidity after the price moved from ``old_tick`` to ``new_tick``, crossing the known ticks."""
    if old_tick == new_tick or not ticks:
        return liquidity
    keys = sorted(ticks)
    if new_tick > old_tick:  # moving right crosses ticks in (old, new]: L += net
        for t in keys[bisect_right(keys, old_tick) : bisect_right(keys, new_tick)]:
            liquidity += ticks[t]
    else:  # moving left crosses ticks in (new, old]: L -= net
        for t in keys[bisect_right(keys, new_tick) : bisect_right(keys, old_tick)]:
            liquidity -= ticks[t]
    return liquidity


def _with_tick_net(ticks: FrozenIntMap, tick: int, delta: int) -> FrozenIntMap:
    data = dict(ticks)
    net = data.get(tick, 0) + delta
    if net:
        data[tick] = net
    else:
        data.pop(tick, None)
    return FrozenIntMap(data)


def _apply(book: PoolBook, event: PoolEvent, catalog: Catalog, active: bool = True) -> PoolBook | None:
    """Return the book after ``event``, or None when the event changes nothing that can be priced."""
    meta = book.meta
    if isinstance(event, SyncEvent):
        meta = _merge_meta(
            meta, event, catalog, token0=event.token0, token1=event.token1,
            token0_decimals=event.token0_decimals, token1_decimals=event.token1_decimals,
        )  # fmt: skip
        return replace(book, meta=meta, reserve0=event.reserve0, reserve1=event.reserve1)
    if isinstance(event, StateEvent):
        meta = _merge_meta(
            meta, event, catalog, token0=event.token0, token1=event.token1,
            token0_decimals=event.token0_decimals, token1_decimals=event.token1_decimals,
            fee_bps=event.fee_bps, v3=event.is_v3, tick_spacing=event.tick_spacing,
        )  # fmt: skip
        if not active:  # only its tick map is newer than what is held
            return replace(book, meta=meta)
        if meta.v3:
            return replace(
                book, meta=meta, sqrt_price_x96=event.sqrt_price_x96, liquidity=event.liquidity, tick=event.tick
            )
        return replace(book, meta=meta, reserve0=event.reserve0, reserve1=event.reserve1)
    if isinstance(event, LiquidityEvent) and event.token0:
        meta = _merge_meta(
            meta, event, catalog, token0=event.token0, token1=event.token1,
            token0_decimals=event.token0_decimals, token1_decimals=event.token1_decimals,
            v3=event.tick_lower != event.tick_upper,
        )  # fmt: skip
    if meta is None or not meta.token0:
        return None  # a swap, mint, burn or tick of a pool with no known tokens cannot be applied
    if isinstance(event, SwapEvent):
        if meta.v3 or event.sqrt_price_x96_after:
            if not MIN_SQRT_RATIO <= event.sqrt_price_x96_after < MAX_SQRT_RATIO:
                return None
            liquidity = event.liquidity_after
            if not 0 < liquidity <= MAX_UINT128 or liquidity == event.sqrt_price_x96_after:
                liquidity = _cross(book.ticks, book.liquidity, book.tick, event.tick_after)
            return replace(
                book,
                meta=meta if meta.v3 else replace(meta, v3=True),
                sqrt_price_x96=event.sqrt_price_x96_after,
                tick=event.tick_after,
                liquidity=liquidity,
            )
        if book.reserve0 < 0:
            return None
        if event.token_in == meta.token0:
            r0, r1 = book.reserve0 + event.amount_in, book.reserve1 - event.amount_out
        else:
            r0, r1 = book.reserve0 - event.amount_out, book.reserve1 + event.amount_in
        return replace(book, reserve0=r0, reserve1=r1) if r0 >= 0 and r1 >= 0 else None
    if isinstance(event, TickEvent):
        if not -_MAX_INT128 <= event.liquidity_net <= _MAX_INT128:
            return None
        data = dict(book.ticks)
        if event.liquidity_net:
            data[event.tick] = event.liquidity_net
        else:
            data.pop(event.tick, None)
        return replace(book, meta=meta if meta.v3 else replace(meta, v3=True), ticks=FrozenIntMap(data))
    if isinstance(event, LiquidityEvent):
        applied = _apply_liquidity(book, meta, event, active)
        return applied if applied is not None or meta is book.meta else replace(book, meta=meta)
    return None


def _apply_liquidity(book: PoolBook, meta: PoolMeta, event: LiquidityEvent, active: bool) -> PoolBook | None:
    sign = 1 if event.kind == "mint" else -1
    if event.kind == "liquidity":
        if len(event.reserves) != 2:
            return None
        return replace(book, reserve0=event.reserves[0], reserve1=event.reserves[1])
    if meta.v3 or event.tick_lower != event.tick_upper:
        if not MIN_TICK <= event.tick_lower < event.tick_upper <= MAX_TICK:
            return None
        delta = sign * event.liquidity_delta
        ticks = _with_tick_net(_with_tick_net(book.ticks, event.tick_lower, delta), event.tick_upper, -delta)
        liquidity = book.liquidity
        if active and event.tick_lower <= book.tick < event.tick_upper and book.sqrt_price_x96:
            liquidity += delta
        return replace(book, meta=meta if meta.v3 else replace(meta, v3=True), ticks=ticks, liquidity=liquidity)
    if book.reserve0 < 0:
        return None
    r0, r1 = book.reserve0 + sign * event.amount0, book.reserve1 + sign * event.amount1
    return replace(book, reserve0=r0, reserve1=r1) if r0 >= 0 and r1 >= 0 else None


def _tick_spacing(meta: PoolMeta, fee_pips: int) -> int:
    return meta.tick_spacing or STANDARD_TICK_SPACINGS.get(fee_pips, 60)


def _v3_state(book: PoolBook, meta: PoolMeta, fee_bps: int, previous: PoolState | None) -> V3PoolState | None:
    fee_pips = fee_bps * 100
    spacing = _tick_spacing(meta, fee_pips)
    if not (0 <= book.liquidity <= MAX_UINT128 and MIN_SQRT_RATIO <= book.sqrt_price_x96 < MAX_SQRT_RATIO):
        return None
    prev = previous.v3 if previous is not None else None
    if prev is not None and prev.ticks is book.ticks and prev.tick_spacing == spacing and prev.fee == fee_pips:
        # Only price, tick or liquidity moved: reuse the tick bitmap instead of rebuilding it.
        return V3PoolState(book.sqrt_price_x96, book.tick, book.liquidity, fee_pips, spacing, prev.ticks, prev.bitmap)
    try:
        return V3PoolState(book.sqrt_price_x96, book.tick, book.liquidity, fee_pips, spacing, book.ticks)
    except ValueError:
        return None  # a tick off the spacing or a field out of range: not a state a swap can run on


def pool_state(book: PoolBook, event: PoolEvent, catalog: Catalog) -> PoolState | None:
    """The tradable state of a pool after ``event``, or None while it cannot be priced."""
    meta = book.meta
    if meta is None or not meta.token0 or not meta.token1:
        return None
    fee_bps = catalog.fee_bps(meta)
    v3 = None
    r0, r1 = book.reserve0, book.reserve1
    if meta.v3:
        v3 = _v3_state(book, meta, fee_bps, book.state)
        if v3 is None or v3.liquidity <= 0:
            return None
        r0 = r1 = 0
    elif r0 <= 0 or r1 <= 0:
        return None
    return PoolState(
        pool=meta.pool,
        venue=meta.venue or event.venue,
        token0=meta.token0,
        token1=meta.token1,
        token0_decimals=meta.token0_decimals,
        token1_decimals=meta.token1_decimals,
        reserve0=r0,
        reserve1=r1,
        fee_bps=fee_bps,
        block_number=book.position[0],
        source=event.source,
        sequence=event.sequence,
        timestamp_ns=event.timestamp_ns,
        trace=event.trace,
        v3=v3,
    )


def _fold_sync(book: PoolBook, event: SyncEvent) -> tuple[PoolBook, PoolState | None]:
    """The hot path: a Sync of a V2 pool already priced (same tokens), without rebuilding metadata."""
    position = (event.block_number or book.position[0], 0, event.timestamp_ns, event.sequence)
    if position <= book.position:
        return book, None
    held = book.state
    assert held is not None
    if event.reserve0 <= 0 or event.reserve1 <= 0 or event.token0 != held.token0 or event.token1 != held.token1:
        return book, None
    state = PoolState(
        held.pool, held.venue, held.token0, held.token1, held.token0_decimals, held.token1_decimals,
        event.reserve0, event.reserve1, held.fee_bps, position[0], event.source, event.sequence, event.timestamp_ns,
        event.trace,
    )  # fmt: skip
    new = PoolBook(
        book.meta, event.reserve0, event.reserve1, 0, 0, 0, book.ticks, position, book.tick_position, state,
        book.map_position,
    )  # fmt: skip
    return new, state


def _is_tick_event(event: PoolEvent, book: PoolBook) -> bool:
    """A V3 tick-map change: a PoolTick, or a mint/burn of a range (or of a pool known to be V3)."""
    if isinstance(event, TickEvent):
        return True
    if not isinstance(event, LiquidityEvent) or event.kind == "liquidity":
        return False
    return event.tick_lower != event.tick_upper or (book.meta is not None and book.meta.v3)


def fold_event(
    held: PoolBook | None, event: PoolEvent, catalog: Catalog | None = None
) -> tuple[PoolBook, PoolState | None]:
    """Fold one pool event into the pool's book.

    Args:
        held: the pool's book, or None for a pool not seen yet.
        event: any pool event (sync, state, swap, mint/burn/liquidity, tick, info).
        catalog: configured metadata and fees.

    Returns:
        ``(book to keep, state to emit)``; the state is None when the event was stale, changed nothing that can be
        priced, or only carried metadata.
    """
    catalog = catalog or _EMPTY
    book = held or PoolBook(meta=catalog.pools.get(event.pool))
    if type(event) is SyncEvent and book.state is not None and book.state.v3 is None:
        return _fold_sync(book, event)
    if isinstance(event, InfoEvent):
        meta = _merge_meta(
            book.meta, event, catalog, token0=event.token0, token1=event.token1,
            token0_decimals=event.token0_decimals, token1_decimals=event.token1_decimals,
            fee_bps=event.fee_bps, v3=event.is_v3,
        )  # fmt: skip
        return replace(book, meta=meta), None
    position = _position(event, book.position)
    if _is_tick_event(event, book):
        tick_position = (event.timestamp_ns, event.sequence)
        if tick_position <= book.tick_position:
            return book, None
        applied = _apply(book, event, catalog, active=position > book.position)
        if applied is None:
            return book, None
        applied = replace(applied, tick_position=tick_position)
    elif type(event) is StateEvent and event.ticks is not None:
        applied = _apply_state_map(book, event, catalog, position)
        if applied is None:
            return book, None
    else:
        if position <= book.position:
            return book, None
        applied = _apply(book, event, catalog)
        if applied is None:
            return replace(book, position=position) if book.meta is not None else book, None
        applied = replace(applied, position=position)
    state = pool_state(applied, event, catalog)
    if state is None:
        return applied, None
    held = book.state
    if held is not None and _confirms(held, state, event):
        # A collector's end-of-block state equal to what the swaps of its block already gave: it confirms the pool
        # (its position now covers the block) and emits nothing, or detectors would size one dislocation twice.
        return replace(applied, state=held, ticks=held.v3.ticks if held.v3 is not None else applied.ticks), None
    if state.v3 is not None:
        # Keep the state's own tick map, so the next price-only event can reuse its bitmap (identity check).
        applied = replace(applied, ticks=state.v3.ticks)
    return replace(applied, state=state), state


def _confirms(held: PoolState, state: PoolState, event: PoolEvent) -> bool:
    """True when ``event`` is an end-of-block state of the held state's block that prices exactly like it."""
    if type(event) is not StateEvent or not event.end_of_block or held.block_number != state.block_number:
        return False
    fields = ("token0", "token1", "reserve0", "reserve1", "fee_bps")
    if any(getattr(held, f) != getattr(state, f) for f in fields):
        return False
    a, b = held.v3, state.v3
    if a is None or b is None:
        return a is b
    same = (a.sqrt_price_x96, a.tick, a.liquidity, a.fee, a.tick_spacing) == (
        b.sqrt_price_x96, b.tick, b.liquidity, b.fee, b.tick_spacing,
    )  # fmt: skip
    return same and (a.ticks is b.ticks or dict(a.ticks) == dict(b.ticks))


def _apply_state_map(book: PoolBook, event: StateEvent, catalog: Catalog, position: Position) -> PoolBook | None:
    """A state that carries a tick map: the map and the price part each apply when they are newer than held."""
    map_newer, price_newer = position > book.map_position, position > book.position
    if not (map_newer or price_newer):
        return None
    applied = _apply(book, event, catalog, active=price_newer)
    if applied is None:
        return replace(book, position=position) if price_newer and book.meta is not None else None
    if price_newer:
        applied = replace(applied, position=position)
    if map_newer:
        applied = replace(
            applied,
            ticks=FrozenIntMap(event.ticks or ()),
            map_position=position,
            tick_position=max(book.tick_position, (event.timestamp_ns, event.sequence)),
        )
    return applied


_EMPTY = Catalog()


def book_from_state(state: PoolState) -> PoolBook:
    """A book holding ``state`` (to seed the fold from a known state, e.g. in tests)."""
    meta = PoolMeta(
        state.pool, state.venue, state.token0, state.token1, state.token0_decimals, state.token1_decimals,
        state.fee_bps, state.v3 is not None, state.v3.tick_spacing if state.v3 else 0,
    )  # fmt: skip
    v3 = state.v3
    return PoolBook(
        meta=meta,
        reserve0=state.reserve0 if v3 is None else -1,
        reserve1=state.reserve1 if v3 is None else -1,
        sqrt_price_x96=v3.sqrt_price_x96 if v3 else 0,
        liquidity=v3.liquidity if v3 else 0,
        tick=v3.tick if v3 else 0,
        ticks=FrozenIntMap(v3.ticks) if v3 else FrozenIntMap(),
        position=(state.block_number, 0, state.timestamp_ns, state.sequence),
        state=state,
    )


__all__ = ["STANDARD_TICK_SPACINGS", "Catalog", "PoolBook", "PoolMeta", "book_from_state", "fold_event", "pool_state"]
