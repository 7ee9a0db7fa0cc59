"""Event order for a keyed stream read from several partitions: hold each item a while after its event time, then
release the key's items sorted by (header timestamp, source, sequence).

A detector folds each pool's events in the order it receives them, and a pool's events come from several topics
(a chain watcher's swaps, a collector's states): read in arrival order, two records of one block can be folded
either way round, and the state the join sees (its identity, hence the opportunity ids) depends on which partition
was polled first. Held ``hold`` after its stamp, an event is released behind every event of its key stamped
before it that arrived meanwhile, which is the order a backtest reads the archive in. An event that arrives after
its stamp's hold (a detector that is behind) is held half the hold after it arrived instead: what decides the
order is then how the source interleaves partitions (consecutive polls, milliseconds apart).

Live, "now" is the wall clock (relay stamps are wall times), and Bytewax's timer (``notify_at``) releases a key's
items when the first one's hold ends. The end of the input releases everything held; a snapshot holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

import bytewax.operators as op
from bytewax.operators import KeyedStream, StatefulBatchLogic
from prometheus_client import Counter

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def wake_at(ns: int) -> datetime:
    """A timer's moment for ``ns`` since epoch, rounded up to the µs (Bytewax's resolution): never before it."""
    return EPOCH + timedelta(0, 0, -(-ns // 1000))


class Stamped(Protocol):
    """What the order needs of an item: its relay header identity."""

    @property
    def timestamp_ns(self) -> int: ...
    @property
    def source(self) -> int: ...
    @property
    def sequence(self) -> int: ...


T = TypeVar("T", bound=Stamped)

Held = list[tuple[tuple[int, int, int], int, object, int]]
"""A key's held items: ((timestamp, source, sequence), arrival number, item, when it is due), in event order."""

OrderSnapshot = tuple[Held, tuple[int, int, int]]
"""A key's held items and the order of the last one released."""


class EventOrder(StatefulBatchLogic[T, T, OrderSnapshot]):
    """One key's held items (``hold_ns`` after their event time), released in event order.

    Args:
        hold_ns: how long after its event time an item is held, ns.
        now_ns: the wall clock, ns since epoch.
        late: counts items that arrive after a later item of their key was released (they arrived more than the
            hold after their stamp, behind it): those are passed on out of event order.
        resume: the key's snapshot, or None.
    """

    def __init__(
        self, hold_ns: int, now_ns: Callable[[], int], late: Counter, resume: OrderSnapshot | None = None
    ) -> None:
        self.hold_ns = hold_ns
        self.now_ns = now_ns
        self.late = late
        self.held: Held = list(resume[0]) if resume is not None else []
        self.released: tuple[int, int, int] = resume[1] if resume is not None else (-1, -1, -1)
        self._arrivals = max((entry[1] for entry in self.held), default=0)

    def on_batch(self, values: list[T]) -> tuple[list[T], bool]:
        held = self.held
        now = self.now_ns()
        hold = self.hold_ns
        settle = now + hold // 2
        for item in values:
            order = (item.timestamp_ns, item.source, item.sequence)
            if order < self.released:
                self.late.inc()  # it comes after a later item of its key was released: out of event order
            self._arrivals += 1  # ties keep their arrival order: a stable sort
            due = order[0] + hold
            held.append((order, self._arrivals, item, due if due > now else settle))
        held.sort(key=_order)
        return self._release(now), False

    def _release(self, now_ns: int | None) -> list[T]:
        """The held items up to the first one not yet due (all of them when ``now_ns`` is None)."""
        held = self.held
        n = len(held) if now_ns is None else 0
        while now_ns is not None and n < len(held) and held[n][3] <= now_ns:
            n += 1
        if not n:
            return []
        out = [entry[2] for entry in held[:n]]
        self.released = max(self.released, held[n - 1][0])
        del held[:n]
        return out  # type: ignore[return-value]

    def on_notify(self) -> tuple[list[T], bool]:
        return self._release(self.now_ns()), False

    def on_eof(self) -> tuple[list[T], bool]:
        return self._release(None), False

    def notify_at(self) -> datetime | None:
        if not self.held:
            return None
        return wake_at(self.held[0][3])

    def snapshot(self) -> OrderSnapshot:
        return list(self.held), self.released


def _order(entry: tuple[tuple[int, int, int], int, object, int]) -> tuple[tuple[int, int, int], int]:
    return entry[0], entry[1]


def in_event_order(
    step_id: str, up: KeyedStream[T], hold_ms: int, now_ns: Callable[[], int], late: Counter
) -> KeyedStream[T]:
    """``up`` with each key's items held ``hold_ms`` after their event time and released in event order (``up``
    itself when ``hold_ms`` is 0)."""
    if hold_ms <= 0:
        return up
    hold_ns = hold_ms * 1_000_000
    return op.stateful_batch(step_id, up, lambda resume: EventOrder(hold_ns, now_ns, late, resume))


__all__ = ["EPOCH", "EventOrder", "in_event_order", "wake_at"]
