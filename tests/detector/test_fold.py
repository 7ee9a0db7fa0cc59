"""The pool-state fold: V2 and V3 events in, tradable states out; stale events ignored; metadata merged."""

from __future__ import annotations

from flows.amm.v3.tick_math import get_sqrt_ratio_at_tick
from flows.state.catalog import Catalog, PoolMeta
from flows.state.events import InfoEvent, LiquidityEvent, StateEvent, SwapEvent, SyncEvent, TickEvent
from flows.state.fold import fold_event
from tests.strategies.factories import USDC, WETH

POOL = "0x00000000000000000000000000000000000000aa"


def _id(seq: int, block: int = 0) -> dict:
    return {"source": 4, "sequence": seq, "timestamp_ns": 1_000 + seq, "block_number": block, "trace": {"s": seq}}


def sync(seq: int, block: int, r0: int, r1: int) -> SyncEvent:
    return SyncEvent(
        **_id(seq, block), pool=POOL, venue=400, token0=USDC, token1=WETH, token0_decimals=6,
        token1_decimals=18, reserve0=r0, reserve1=r1,
    )  # fmt: skip


def swap(seq: int, block: int, token_in: str, amount_in: int, amount_out: int, **v3: int) -> SwapEvent:
    token_out = WETH if token_in == USDC else USDC
    return SwapEvent(
        **_id(seq, block), pool=POOL, venue=400, token_in=token_in, token_out=token_out, amount_in=amount_in,
        amount_out=amount_out, sqrt_price_x96_after=v3.get("sqrt", 0), liquidity_after=v3.get("liquidity", 0),
        tick_after=v3.get("tick", 0),
    )  # fmt: skip


def state_v3(seq: int, block: int, tick: int, liquidity: int) -> StateEvent:
    return StateEvent(
        **_id(seq, block), pool=POOL, venue=300, pool_type=1, token0=USDC, token1=WETH, token0_decimals=6,
        token1_decimals=18, reserve0=0, reserve1=0, sqrt_price_x96=get_sqrt_ratio_at_tick(tick), liquidity=liquidity,
        tick=tick, fee_bps=30,
    )  # fmt: skip


def mint(seq: int, lower: int, upper: int, liquidity: int, kind: str = "mint") -> LiquidityEvent:
    return LiquidityEvent(
        **_id(seq), pool=POOL, venue=300, kind=kind, liquidity_delta=liquidity, tick_lower=lower, tick_upper=upper,
        token0=USDC, token1=WETH,
    )  # fmt: skip


def run(events: list, catalog: Catalog | None = None) -> tuple:
    held, emitted = None, []
    for e in events:
        held, out = fold_event(held, e, catalog)
        emitted.append(out)
    return held, emitted


def test_v2_sync_then_swap_deltas_then_a_confirming_sync() -> None:
    _, out = run([sync(1, 10, 1_000, 2_000), swap(2, 11, USDC, 100, 180), sync(3, 11, 1_100, 1_820)])
    assert [(s.reserve0, s.reserve1, s.block_number, s.sequence) for s in out] == [
        (1_000, 2_000, 10, 1),
        (1_100, 1_820, 11, 2),
        (1_100, 1_820, 11, 3),
    ]
    assert out[1].trace == {"s": 2} and out[0].fee_bps == 30 and out[0].v3 is None


def test_events_older_than_the_last_applied_are_ignored() -> None:
    # The Sync of block 11 arrived before the swap that it already includes (another topic, another partition).
    held, out = run([sync(1, 10, 1_000, 2_000), sync(3, 11, 1_100, 1_820), swap(2, 11, USDC, 100, 180)])
    assert out[2] is None and (held.state.reserve0, held.state.reserve1) == (1_100, 1_820)
    _, out = run([sync(5, 12, 7, 7), sync(4, 12, 9, 9), sync(5, 12, 8, 8)])
    assert [o.reserve0 if o else None for o in out] == [7, None, None]


def test_a_swap_or_mint_before_any_reserves_emits_nothing() -> None:
    info = InfoEvent(**_id(1), pool=POOL, venue=400, pool_type=1, token0=USDC, token1=WETH, token0_decimals=6,
                     token1_decimals=18, fee_bps=25)  # fmt: skip
    _, out = run([info, swap(2, 10, USDC, 10, 9), sync(3, 11, 500, 600)])
    assert out == [None, None, out[2]] and out[2].fee_bps == 25


def test_configuration_fees_and_decimals_win() -> None:
    catalog = Catalog(token_decimals={USDC: 6}, pool_fees_bps={POOL: 5}, venue_fees_bps={400: 17})
    _, out = run([sync(1, 10, 1_000, 2_000)], catalog)
    assert out[0].fee_bps == 5
    _, out = run([sync(1, 10, 1_000, 2_000)], Catalog(venue_fees_bps={400: 17}))
    assert out[0].fee_bps == 17


def test_v3_state_mints_burns_and_swaps_across_known_ticks() -> None:
    events = [
        mint(1, -120, 120, 10**12),
        mint(2, 60, 180, 5 * 10**11),
        state_v3(3, 10, 0, 10**12),
        # Price moves right past tick 60: active liquidity gains tick 60's net; liquidity_after carries the
        # sqrt price (AlphaPulse's known slip), so the fold recomputes it from the ticks it knows.
        swap(4, 11, WETH, 1, 1, sqrt=get_sqrt_ratio_at_tick(90), liquidity=get_sqrt_ratio_at_tick(90), tick=90),
        swap(5, 12, USDC, 1, 1, sqrt=get_sqrt_ratio_at_tick(-30), liquidity=0, tick=-30),
        mint(6, -60, 60, 3 * 10**11, kind="burn"),
    ]
    _, out = run(events)
    assert out[0] is None and out[1] is None  # no price yet
    s3, s4, s5, s6 = out[2:]
    assert s3.v3 is not None and s3.v3.fee == 3000 and s3.v3.tick_spacing == 60
    assert dict(s3.v3.ticks) == {-120: 10**12, 60: 5 * 10**11, 120: -(10**12), 180: -5 * 10**11}
    assert (s4.v3.tick, s4.v3.liquidity) == (90, 15 * 10**11)
    assert (s5.v3.tick, s5.v3.liquidity) == (-30, 10**12)
    assert s6.v3.liquidity == 7 * 10**11  # the burnt position spans the current tick
    assert dict(s6.v3.ticks)[-60] == -3 * 10**11
    assert s4.v3.bitmap is s3.v3.bitmap  # a price move reuses the tick bitmap


def test_a_pool_tick_sets_one_ticks_liquidity_net() -> None:
    tick = TickEvent(**_id(4), pool=POOL, venue=300, tick=240, liquidity_net=-7)
    _, out = run([state_v3(1, 10, 0, 10**12), tick])
    assert dict(out[1].v3.ticks) == {240: -7}


def test_seeded_pool_metadata_lets_a_state_without_tokens_be_priced() -> None:
    seed = PoolMeta(POOL, 300, USDC, WETH, 6, 18, fee_bps=5, v3=True, tick_spacing=10)
    _, out = run([state_v3(1, 10, 0, 10**12)], Catalog(pools={POOL: seed}))
    assert out[0].v3.tick_spacing == 10 and out[0].fee_bps == 5 and out[0].v3.fee == 500


def test_a_mint_older_than_the_last_swap_still_updates_the_ticks_but_not_the_liquidity() -> None:
    # The swap (market.pool_swap) overtook the mint (market.pool_liquidity); its liquidity_after already counts it.
    after = swap(3, 11, WETH, 1, 1, sqrt=get_sqrt_ratio_at_tick(30), liquidity=15 * 10**11, tick=30)
    held, out = run([state_v3(1, 10, 0, 10**12), after, mint(2, -60, 60, 5 * 10**11)])
    assert out[2] is not None and out[2].v3.liquidity == 15 * 10**11
    assert dict(out[2].v3.ticks) == {-60: 5 * 10**11, 60: -5 * 10**11}
    assert fold_event(held, mint(2, -60, 60, 5 * 10**11))[1] is None  # the same mint again: a replay
