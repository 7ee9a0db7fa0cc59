"""Packed initialized-tick bitmap, ported from v3-core ``contracts/libraries/TickBitmap.sol``.

Ticks are compressed by the tick spacing; each 256 compressed ticks share one ``uint256`` word keyed by
``compressed >> 8``. ``nextInitializedTickWithinOneWord`` never looks past the current word, so a swap step can
end at a word boundary where no tick is initialized. The pool's swap loop stops there and rounds its fee for the
step, which is why a faithful swap must take those stops too (skipping them drifts by tens of wei).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from base.errors import AmmRevert
from flows.amm.v3.bit_math import least_significant_bit, most_significant_bit

__all__ = ["build_bitmap", "next_initialized_tick_within_one_word", "position"]

_WORD_MASK = 2**256 - 1


def position(compressed_tick: int) -> tuple[int, int]:
    """Return ``(word_pos, bit_pos)`` of a compressed tick (``TickBitmap.position``).

    ``int16(tick >> 8)`` and ``uint8(tick % 256)``: Python's ``>>`` and ``%`` floor like the EVM's arithmetic
    shift and the two's-complement byte, so negative ticks land in the same word and bit.
    """
    return compressed_tick >> 8, compressed_tick % 256


def build_bitmap(ticks: Iterable[int], tick_spacing: int) -> dict[int, int]:
    """Return the bitmap words with the bit of every given tick set (``flipTick`` on each).

    Args:
        ticks: initialized ticks (multiples of ``tick_spacing``).
        tick_spacing: the pool's tick spacing.

    Returns:
        ``{word_pos: word}`` for every non-empty word.

    Raises:
        AmmRevert: if a tick is not a multiple of the spacing (``flipTick``'s require).
    """
    words: dict[int, int] = {}
    for tick in ticks:
        if tick % tick_spacing:
            msg = f"tick {tick} is not a multiple of the tick spacing {tick_spacing}"
            raise AmmRevert(msg)
        word_pos, bit_pos = position(tick // tick_spacing)
        words[word_pos] = words.get(word_pos, 0) ^ (1 << bit_pos)
    return {w: v for w, v in words.items() if v}


def next_initialized_tick_within_one_word(
    bitmap: Mapping[int, int], tick: int, tick_spacing: int, lte: bool
) -> tuple[int, bool]:
    """Return the next initialized tick in the current word, or the word's edge (``nextInitializedTickWithinOneWord``).

    Args:
        bitmap: ``{word_pos: word}`` from :func:`build_bitmap`.
        tick: starting tick.
        tick_spacing: the pool's tick spacing.
        lte: search left (at or below ``tick``, a zero-for-one swap) or right (strictly above).

    Returns:
        ``(next, initialized)``: the tick where the step stops and whether it is initialized (False means the
        word's last tick in that direction, up to 256 spacings away).
    """
    compressed = tick // tick_spacing  # rounds towards negative infinity, as the contract's compressed--
    if lte:
        word_pos, bit_pos = position(compressed)
        mask = (1 << bit_pos) - 1 + (1 << bit_pos)  # all bits at or right of bit_pos
        masked = bitmap.get(word_pos, 0) & mask
        if masked:
            return (compressed - (bit_pos - most_significant_bit(masked))) * tick_spacing, True
        return (compressed - bit_pos) * tick_spacing, False
    word_pos, bit_pos = position(compressed + 1)
    mask = ~((1 << bit_pos) - 1) & _WORD_MASK  # all bits at or left of bit_pos
    masked = bitmap.get(word_pos, 0) & mask
    if masked:
        return (compressed + 1 + (least_significant_bit(masked) - bit_pos)) * tick_spacing, True
    return (compressed + 1 + (255 - bit_pos)) * tick_spacing, False
