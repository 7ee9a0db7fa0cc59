"""The block-hash window: which blocks the collector's state is built on, and what a reorg must re-seed (pure).

Each processed block is kept with its hash and the pools its logs touched, for the last ``size`` blocks. A new
block is accepted only if its ``parentHash`` is the hash held for the block before it (block-hash continuity);
otherwise the chain the state was built on is no longer canonical. :func:`fork_point` then finds the newest block
the window and the node still agree on, and :meth:`BlockWindow.rollback` drops the blocks above it and returns
every pool they touched: exactly the pools whose held state may include a dropped log, which the collector re-seeds
at its next pinned block. Pools no dropped block touched hold the state of the fork point already, so the new
chain's logs apply to them as usual.

A reorg deeper than the window (no block agrees) cannot be repaired log by log: every pool is re-seeded.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class BlockRef:
    """A block's number, hash and parent hash (lower-case hex) and timestamp (s)."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int = 0


class Discontinuity(ValueError):
    """A block does not extend the block held before it."""


@dataclass(slots=True)
class BlockWindow:
    """The last ``size`` processed blocks: number -> (hash, pools touched).

    Attributes:
        size: how many blocks are kept (how deep a reorg can be repaired pool by pool).
    """

    size: int = 128
    _blocks: OrderedDict[int, tuple[str, set[str]]] = field(default_factory=OrderedDict)

    def reset(self, block: BlockRef) -> None:
        """Forget everything; the state is now as of ``block`` (after a seed of every pool)."""
        self._blocks.clear()
        self._blocks[block.number] = (block.hash, set())

    @property
    def head(self) -> tuple[int, str]:
        """``(number, hash)`` of the newest block held.

        Raises:
            LookupError: the window is empty (nothing was seeded yet).
        """
        if not self._blocks:
            msg = "the block window is empty: seed first"
            raise LookupError(msg)
        number = next(reversed(self._blocks))
        return number, self._blocks[number][0]

    def hash_of(self, number: int) -> str | None:
        """The hash held for block ``number``, or None when it is not in the window."""
        held = self._blocks.get(number)
        return held[0] if held else None

    def numbers(self) -> list[int]:
        """Block numbers held, oldest first."""
        return list(self._blocks)

    def push(self, block: BlockRef, touched: Iterable[str] = ()) -> None:
        """Append the next block.

        Raises:
            Discontinuity: ``block`` is not the child of the head (number or parent hash).
        """
        number, head_hash = self.head
        if block.number != number + 1 or block.parent_hash != head_hash:
            msg = f"block {block.number} ({block.hash}) does not extend block {number} ({head_hash})"
            raise Discontinuity(msg)
        self._blocks[block.number] = (block.hash, set(touched))
        while len(self._blocks) > self.size:
            self._blocks.popitem(last=False)

    def touch(self, number: int, pools: Iterable[str]) -> None:
        """Record pools touched by a block already held (pools seeded at it)."""
        held = self._blocks.get(number)
        if held is not None:
            held[1].update(pools)

    def rollback(self, fork: int) -> set[str]:
        """Drop every block above ``fork``; return the pools those blocks touched."""
        dropped: set[str] = set()
        while self._blocks and next(reversed(self._blocks)) > fork:
            _, (_, pools) = self._blocks.popitem(last=True)
            dropped |= pools
        return dropped


def fork_point(window: BlockWindow, canonical: Mapping[int, str | None]) -> int | None:
    """The newest block whose held hash equals the node's (``canonical``: number -> hash, None when the node has
    no such block), or None when the window and the node agree on no block."""
    for number in reversed(window.numbers()):
        if number in canonical and canonical[number] == window.hash_of(number):
            return number
    return None


def chain_breaks(head: tuple[int, str], blocks: list[BlockRef]) -> bool:
    """True when ``blocks`` (consecutive, ascending) do not extend ``head`` link by link."""
    number, parent = head
    for b in blocks:
        if b.number != number + 1 or b.parent_hash != parent:
            return True
        number, parent = b.number, b.hash
    return False
