"""The detector's fold with collector states: a state is the pool after its whole block, so a swap of that block
(AlphaPulse's feed) arriving later is not applied on top, one of the next block is; a state's tick map replaces
the held one, in its own order."""

from __future__ import annotations

from flows.amm.v3.tick_math import get_sqrt_ratio_at_tick
from flows.state.events import StateEvent, SwapEvent, from_record
from flows.state.fold import BLOCK_END, fold_event
from schemas.serde import codec
from tests.collector.test_domain import POOL
from tests.strategies.factories import USDC, WETH


def collector_v2(seq: int, block: int, r0: int, r1: int, ts: int, end: bool = True) -> StateEvent:
    return StateEvent(
        source=62, sequence=seq, timestamp_ns=ts, block_number=block, pool=POOL, venue=400, pool_type=0,
        token0=USDC, token1=WETH, token0_decimals=6, token1_decimals=18, reserve0=r0, reserve1=r1,
        sqrt_price_x96=0, liquidity=0, tick=0, fee_bps=30, end_of_block=end,
    )  # fmt: skip


def alphapulse_swap(seq: int, block: int, amount_in: int, amount_out: int, ts: int) -> SwapEvent:
    return SwapEvent(
        source=4, sequence=seq, timestamp_ns=ts, block_number=block, pool=POOL, venue=400, token_in=USDC,
        token_out=WETH, amount_in=amount_in, amount_out=amount_out, sqrt_price_x96_after=0, liquidity_after=0,
        tick_after=0,
    )  # fmt: skip


def collector_v3(seq: int, block: int, tick: int, liquidity: int, ticks: dict | None, ts: int) -> StateEvent:
    return StateEvent(
        source=62, sequence=seq, timestamp_ns=ts, block_number=block, pool=POOL, venue=301, pool_type=1,
        token0=USDC, token1=WETH, token0_decimals=6, token1_decimals=18, reserve0=0, reserve1=0,
        sqrt_price_x96=get_sqrt_ratio_at_tick(tick), liquidity=liquidity, tick=tick, fee_bps=30, tick_spacing=60,
        end_of_block=True, ticks=None if ticks is None else tuple(sorted(ticks.items())),
    )  # fmt: skip


def test_a_swap_of_the_collectors_block_arriving_later_is_not_counted_twice() -> None:
    # The collector's state of block 10 already includes the swap of block 10, which AlphaPulse delivers later
    # (a later header timestamp): applying its delta on top would count it twice.
    held, s1 = fold_event(None, collector_v2(1, 10, 1_100, 1_820, ts=5_000))
    assert (s1.reserve0, s1.reserve1, s1.block_number) == (1_100, 1_820, 10)
    assert held.position == (10, BLOCK_END, 5_000, 1)
    held, late = fold_event(held, alphapulse_swap(7, 10, 100, 180, ts=9_000))
    assert late is None and (held.state.reserve0, held.state.reserve1) == (1_100, 1_820)
    # a swap of the next block is news: applied (and confirmed by the collector's state of block 11)
    held, s2 = fold_event(held, alphapulse_swap(8, 11, 100, 170, ts=9_500))
    assert (s2.reserve0, s2.reserve1, s2.block_number) == (1_200, 1_650, 11)
    held, s3 = fold_event(held, collector_v2(2, 11, 1_200, 1_650, ts=6_000))
    # the confirmation is held (its block is covered now) but not emitted: nothing new to detect
    assert s3 is None and (held.state.reserve0, held.state.reserve1, held.position[1]) == (1_200, 1_650, BLOCK_END)
    assert fold_event(held, alphapulse_swap(9, 11, 100, 170, ts=9_600))[1] is None  # its block is covered
    # the same state again (a replay) changes nothing
    assert fold_event(held, collector_v2(2, 11, 1_200, 1_650, ts=6_000))[1] is None
    # a state that differs from what the swaps gave (one was missed) corrects the pool, and is emitted
    held, s4 = fold_event(held, alphapulse_swap(10, 12, 100, 150, ts=9_700))
    held, s5 = fold_event(held, collector_v2(3, 12, 1_350, 1_420, ts=7_000))
    assert (s4.reserve0, s4.reserve1) == (1_300, 1_500) and (s5.reserve0, s5.reserve1, s5.block_number) == (
        1_350,
        1_420,
        12,
    )


def test_without_collector_states_the_order_is_as_before() -> None:
    held, _ = fold_event(None, collector_v2(1, 10, 1_000, 2_000, ts=1, end=False))  # an AlphaPulse PoolState
    held, out = fold_event(held, alphapulse_swap(2, 10, 100, 180, ts=2))
    assert (out.reserve0, out.reserve1) == (1_100, 1_820)  # same block, later: applied, as it always was


def test_a_states_tick_map_replaces_the_held_one_even_after_a_newer_swap() -> None:
    ticks = {-120: 10**18, -60: 0, 60: -(10**18)}  # -60: initialized with net 0
    held, s = fold_event(None, collector_v3(1, 20, 5, 10**18, ticks, ts=1_000))
    assert dict(s.v3.ticks) == ticks and s.v3.tick_spacing == 60 and s.v3.liquidity == 10**18
    # a later state without ticks keeps the map
    held, s = fold_event(held, collector_v3(2, 21, 7, 10**18, None, ts=2_000))
    assert dict(s.v3.ticks) == ticks and s.v3.tick == 7
    # an AlphaPulse swap of block 23 arrives before the collector's state of block 22 (which has a mint)
    swap = SwapEvent(
        source=4, sequence=9, timestamp_ns=3_000, block_number=23, pool=POOL, venue=301, token_in=USDC,
        token_out=WETH, amount_in=5, amount_out=4, sqrt_price_x96_after=get_sqrt_ratio_at_tick(-3),
        liquidity_after=10**18, tick_after=-3,
    )  # fmt: skip
    held, s = fold_event(held, swap)
    assert s.v3.tick == -3
    minted = {**ticks, 0: 5, 120: -5}
    held, s = fold_event(held, collector_v3(3, 22, 7, 10**18, minted, ts=2_500))
    assert dict(s.v3.ticks) == minted and s.v3.tick == -3  # the map is taken, the older price is not
    # an empty list (the default) is "unchanged"
    rec = {
        "source": 62, "sequence": 4, "timestamp_ns": 4_000, "pool": POOL, "venue": 301, "pool_type": 1,
        "token0": USDC, "token1": WETH, "token0_decimals": 6, "token1_decimals": 18, "reserve0": bytes(32),
        "reserve1": bytes(32), "sqrt_price_x96": get_sqrt_ratio_at_tick(8).to_bytes(32, "big"),
        "liquidity": (10**18).to_bytes(32, "big"), "tick": 8, "fee_rate": 30, "block_number": 24,
        "event_timestamp_ns": 0, "trace": {}, "ticks": [], "tick_spacing": 60, "end_of_block": True,
    }  # fmt: skip
    event = from_record(
        "market.pool_state", codec("market.pool_state").decode(codec("market.pool_state").encode(rec)), 0
    )
    assert event.ticks is None and event.end_of_block and event.tick_spacing == 60
    held, s = fold_event(held, event)
    assert dict(s.v3.ticks) == minted and s.v3.tick == 8


def test_records_of_the_old_schema_still_decode_as_plain_states() -> None:
    import io

    import fastavro
    from fastavro.schema import fingerprint, to_parsing_canonical_form

    from schemas.serde import history_paths, load_schema_file

    old = load_schema_file(history_paths("market.pool_state")[0])
    rec = {
        "source": 4, "sequence": 1, "timestamp_ns": 1, "pool": POOL, "venue": 400, "pool_type": 0, "token0": USDC,
        "token1": WETH, "token0_decimals": 6, "token1_decimals": 18, "reserve0": (5).to_bytes(32, "big"),
        "reserve1": (6).to_bytes(32, "big"), "sqrt_price_x96": bytes(32), "liquidity": bytes(32), "tick": 0,
        "fee_rate": 30, "block_number": 3, "event_timestamp_ns": 0, "trace": {},
    }  # fmt: skip
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, old, rec)
    fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(old), "CRC-64-AVRO"))
    event = from_record("market.pool_state", codec("market.pool_state").decode(b"\xc3\x01" + fp + buf.getvalue()), 0)
    assert (event.ticks, event.tick_spacing, event.end_of_block, event.reserve0) == (None, 0, False, 5)
