"""TickBitmap.nextInitializedTickWithinOneWord: v3-core spec cases and a brute-force word-by-word reference."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from base.errors import AmmRevert
from flows.amm.v3.tick_bitmap import build_bitmap, next_initialized_tick_within_one_word, position

SPEC_TICKS = [70, 78, 84, 139, 240, 535]


@pytest.mark.parametrize(
    ("extra", "tick", "lte", "expected"),
    [
        ((), 78, False, (84, True)),
        ((), 77, False, (78, True)),
        ((), 255, False, (511, False)),
        ((340,), 328, False, (340, True)),
        ((), 508, False, (511, False)),
        ((), 383, False, (511, False)),
        ((), 78, True, (78, True)),
        ((), 79, True, (78, True)),
        ((), 258, True, (256, False)),
        ((), 256, True, (256, False)),
        ((), 72, True, (70, True)),
        ((), -1, True, (-256, False)),
        ((), 1023, True, (768, False)),
        ((), 900, True, (768, False)),
        ((329,), 456, True, (329, True)),
    ],
)
def test_spec_cases(extra: tuple[int, ...], tick: int, lte: bool, expected: tuple[int, bool]) -> None:
    bitmap = build_bitmap([*SPEC_TICKS, *extra], 1)
    assert next_initialized_tick_within_one_word(bitmap, tick, 1, lte) == expected


def test_flip_semantics_and_positions() -> None:
    assert build_bitmap([-230, -230], 1) == {}
    assert position(-1) == (-1, 255)
    assert position(-256) == (-1, 0)
    assert position(256) == (1, 0)
    with pytest.raises(AmmRevert, match="multiple"):
        build_bitmap([61], 60)


def _reference(initialized: set[int], tick: int, spacing: int, lte: bool) -> tuple[int, bool]:
    """Walk compressed ticks one by one, never leaving the 256-tick word."""
    compressed = tick // spacing
    if lte:
        word_start = compressed - compressed % 256
        for c in range(compressed, word_start - 1, -1):
            if c * spacing in initialized:
                return c * spacing, True
        return word_start * spacing, False
    start = compressed + 1
    word_end = start - start % 256 + 255
    for c in range(start, word_end + 1):
        if c * spacing in initialized:
            return c * spacing, True
    return word_end * spacing, False


@settings(max_examples=300, deadline=None)
@given(
    spacing=st.sampled_from([1, 10, 60, 200]),
    compressed=st.sets(st.integers(min_value=-3000, max_value=3000), max_size=30),
    tick=st.integers(min_value=-700_000, max_value=700_000),
    lte=st.booleans(),
)
def test_matches_a_word_by_word_walk(spacing: int, compressed: set[int], tick: int, lte: bool) -> None:
    tick = tick % (4000 * spacing) - 2000 * spacing  # keep the start near the initialized ticks
    initialized = {c * spacing for c in compressed}
    bitmap = build_bitmap(initialized, spacing)
    assert next_initialized_tick_within_one_word(bitmap, tick, spacing, lte) == _reference(
        initialized, tick, spacing, lte
    )
