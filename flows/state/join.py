"""The event-time as-of join of market states that share a join key, and the views strategies read (pure).

A detector groups states by a join key (a token pair for ``cross_dex`` and ``cex_dex``, the whole token graph for
``triangular``) and keeps, per key, a short history of every market's states. Each arriving state is a *trigger*:
the strategy runs on the state every other market of the key had **as of the trigger's event time**, so what an
update is joined with does not depend on which Kafka partition happened to be read first.

Event time and order: states are ordered by (header timestamp, source, sequence, market key), a total order.
A state arriving after later ones (it was in another partition, or a producer lagged) is put at its place in
history, evaluated as of its own time, and every later state of a related market that would have been joined with
it (it is their as-of partner, and it may be joined with them) is re-evaluated. Related markets are those that can
share a 2- or 3-cycle with the late one: on its own pair, or on a pair from one of its tokens to a token adjacent to
both. Opportunities already emitted are never retracted, and the detector emits an id once per join key, so a
late partner can only add opportunities: those a run in event order would have found, plus any found meanwhile
with the partner it replaced.

Retention: a market's history keeps its states younger than ``retention_ns`` behind the newest event of the key
(the allowed lateness), plus the last one before that, which is the as-of partner of anything later: that is all
a state arriving within the lateness can be joined with. How late a state may arrive at all is the event-time
clock's business (Bytewax ``EventClock``, in the detector flow); this module only assumes that what it receives
is within the retention.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, overload

from flows.pools import PoolState
from flows.state.graph import TokenGraph
from flows.state.quotes import CexQuote

Order = tuple[int, int, int, str]

Market = PoolState | CexQuote
"""A market's state as the join holds it: a pool's or a CEX instrument's."""


class MarketState(Protocol):
    """What the join's order needs of a state: identity and event time (both kinds of :data:`Market` have it)."""

    @property
    def key(self) -> str: ...
    @property
    def source(self) -> int: ...
    @property
    def sequence(self) -> int: ...
    @property
    def timestamp_ns(self) -> int: ...
    @property
    def block_number(self) -> int: ...
    @property
    def trace(self) -> dict[str, int]: ...


def order_of(state: MarketState) -> Order:
    """The join's total order of states: (header timestamp, source, sequence, market key)."""
    return (state.timestamp_ns, state.source, state.sequence, state.key)


def ends_of(state: Market) -> tuple[str, str]:
    """The two tokens of a market state (pool tokens, or a CEX instrument's base and quote)."""
    if isinstance(state, CexQuote):
        return state.base, state.quote
    return state.token0, state.token1


class AsOfJoin:
    """Per-market histories of the states of one join key, and the token graph they span.

    Args:
        retention_ns: how far behind the newest event a market's past states are kept (the allowed lateness), ns.
        horizon_ns: how far after a late state later triggers are re-evaluated (the partner age limit), ns.
        partner_ok: ``(late_state, later_state) -> bool``, whether the two may be joined at all (for example
            within the block age limit); later states it rejects are not re-evaluated. None accepts all.
    """

    __slots__ = ("graph", "history", "horizon_ns", "latest", "newest", "orders", "partner_ok", "retention_ns")

    def __init__(
        self, retention_ns: int, horizon_ns: int, partner_ok: Callable[[Market, Market], bool] | None = None
    ) -> None:
        self.retention_ns = retention_ns
        self.horizon_ns = horizon_ns
        self.partner_ok = partner_ok
        self.history: dict[str, list[Market]] = {}
        self.orders: dict[str, list[Order]] = {}
        self.latest: dict[str, Market] = {}
        self.graph = TokenGraph()
        self.newest: Order | None = None

    def __len__(self) -> int:
        return len(self.latest)

    def copy(self) -> AsOfJoin:
        """A snapshot sharing only the (immutable) states with this join."""
        other = AsOfJoin(self.retention_ns, self.horizon_ns, self.partner_ok)
        other.history = {k: list(v) for k, v in self.history.items()}
        other.orders = {k: list(v) for k, v in self.orders.items()}
        other.latest = dict(self.latest)
        other.graph = self.graph.copy()
        other.newest = self.newest
        return other

    def __getstate__(self) -> tuple:
        # The predicate is configuration, not state: whoever restores a snapshot sets it again.
        return (
            self.retention_ns, self.horizon_ns, self.history, self.orders, self.latest,
            self.graph, self.newest,
        )  # fmt: skip

    def __setstate__(self, state: tuple) -> None:
        (
            self.retention_ns, self.horizon_ns, self.history, self.orders, self.latest,
            self.graph, self.newest,
        ) = state  # fmt: skip
        self.partner_ok = None

    def _record(self, state: Market, order: Order | None = None) -> Order | None:
        """Put a state in its market's history; None if that exact state is already there.

        ``order`` is the state's :func:`order_of`, when the caller has it already.
        """
        key = state.key
        if order is None:
            order = order_of(state)
        orders = self.orders.get(key)
        if orders is None:
            self.orders[key] = [order]
            self.history[key] = [state]
            self.latest[key] = state
            self.graph.add(key, *ends_of(state))
        elif order > orders[-1]:
            orders.append(order)
            self.history[key].append(state)
            self.latest[key] = state
        else:
            i = bisect_left(orders, order)
            if i < len(orders) and orders[i] == order:
                return None
            orders.insert(i, order)
            self.history[key].insert(i, state)
        newest = self.newest
        if newest is None or order > newest:
            self.newest = newest = order
        if self.orders[key][0][0] < newest[0] - self.retention_ns:  # the test of _prune, without the call
            self._prune(key)
        return order

    def _prune(self, key: str) -> None:
        assert self.newest is not None
        cutoff = self.newest[0] - self.retention_ns
        orders = self.orders[key]
        if orders[0][0] >= cutoff:
            return
        # Keep the last state before the cutoff too: it is the as-of partner of everything up to the next one.
        drop = bisect_left(orders, (cutoff,)) - 1
        if drop > 0:
            del orders[:drop]
            del self.history[key][:drop]

    def load(self, state: Market) -> None:
        """Record a state without evaluating anything (building a view from plain states)."""
        self._record(state)

    def add(self, state: Market, order: Order | None = None) -> list[tuple[Order, Market]]:
        """Record an arriving state; return the triggers to evaluate, as ``(order, state)``.

        That is the state itself, and when it arrived late, every later state of a related market whose as-of
        partner it now is and that it may be joined with (:attr:`partner_ok`, within the horizon). A state
        already recorded gives nothing. ``order`` is the state's :func:`order_of`, when the caller has it already.
        """
        newest = self.newest
        order = self._record(state, order)
        if order is None:
            return []
        triggers: list[tuple[Order, Market]] = [(order, state)]
        if newest is None or order > newest:
            return triggers
        key = state.key
        orders = self.orders[key]
        i = bisect_right(orders, order)
        # A later state of the same market is the partner of everything after it: only states before it change.
        until = orders[i] if i < len(orders) else None
        limit = (order[0] + self.horizon_ns, 2**63, 2**63, "\uffff")
        if until is None or until > limit:
            until = limit
        partner_ok = self.partner_ok
        for other in self.related(key):
            other_orders = self.orders[other]
            history = self.history[other]
            for j in range(bisect_right(other_orders, order), bisect_left(other_orders, until)):
                if partner_ok is None or partner_ok(state, history[j]):
                    triggers.append((other_orders[j], history[j]))
        return triggers

    def view(self, trigger: Market, at: Order) -> MarketView:
        """The view a trigger is evaluated on: every market as of ``at`` (the latest states when that is newest)."""
        return MarketView(self, trigger, None if at == self.newest else at)

    def insert(self, state: Market) -> list[MarketView]:
        """:meth:`add` a state and return the views of its triggers, in event order."""
        return [self.view(trigger, at) for at, trigger in sorted(self.add(state), key=lambda t: t[0])]

    def related(self, key: str) -> list[str]:
        """Markets that can share a 2- or 3-cycle with ``key`` (``key`` itself excluded), sorted."""
        a, b = self.graph.ends(key)
        found = {*self.graph.between(a, b)}
        for c in self.graph.common_neighbours(a, b):
            found.update(self.graph.between(a, c))
            found.update(self.graph.between(b, c))
        found.discard(key)
        return sorted(k for k in found if k in self.orders)


class MarketView(Sequence[Market]):
    """The states of a join as of one moment, as a strategy reads them.

    Iterating gives the as-of state of every market of the join (in key order). ``trigger`` is the state whose
    arrival caused this evaluation (None for a view of plain states), and :meth:`get`, :meth:`between` and
    :meth:`common_neighbours` answer without scanning every market.
    """

    __slots__ = ("_all", "at", "join", "trigger")

    def __init__(self, join: AsOfJoin, trigger: Market | None, at: Order | None) -> None:
        self.join = join
        self.trigger = trigger
        self.at = at
        self._all: list[Market] | None = None

    def get(self, key: str) -> Market | None:
        """The state of a market as of this view's moment (None if it had none)."""
        if self.at is None:
            return self.join.latest.get(key)
        orders = self.join.orders.get(key)
        if not orders:
            return None
        i = bisect_right(orders, self.at) - 1
        return self.join.history[key][i] if i >= 0 else None

    def between(self, token_a: str, token_b: str) -> list[Market]:
        """States of the markets between two tokens (sorted by market key)."""
        join = self.join
        keys = join.graph.between(token_a, token_b)
        if self.at is None:  # the latest states: no search (the common case, an update in event order)
            get = join.latest.get
            return [s for k in keys if (s := get(k)) is not None]
        found = []
        at, orders_of, history = self.at, join.orders, join.history
        for key in keys:
            orders = orders_of.get(key)
            if orders:
                i = bisect_right(orders, at) - 1
                if i >= 0:
                    found.append(history[key][i])
        return found

    def common_neighbours(self, token_a: str, token_b: str) -> list[str]:
        """Tokens sharing a market with both tokens, sorted."""
        return self.join.graph.common_neighbours(token_a, token_b)

    def _states(self) -> list[Market]:
        if self._all is None:
            self._all = [s for s in (self.get(k) for k in sorted(self.join.orders)) if s is not None]
        return self._all

    def __len__(self) -> int:
        return len(self._states())

    @overload
    def __getitem__(self, index: int) -> Market: ...
    @overload
    def __getitem__(self, index: slice) -> list[Market]: ...
    def __getitem__(self, index: int | slice) -> Market | list[Market]:
        return self._states()[index]

    def __iter__(self) -> Iterator[Market]:
        return iter(self._states())


def as_view(states: Sequence[Market]) -> MarketView:
    """A view over plain states (the newest state of each market wins), or ``states`` itself if it is a view."""
    if isinstance(states, MarketView):
        return states
    join = AsOfJoin(retention_ns=2**62, horizon_ns=0)
    for s in states:
        join.load(s)
    return MarketView(join, None, None)


__all__ = ["AsOfJoin", "Market", "MarketState", "MarketView", "Order", "as_view", "ends_of", "order_of"]
