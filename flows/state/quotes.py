"""CEX market state: what the exchange's quotes and trades say about its book, per instrument (pure).

:func:`fold_quote` is the step function of the keyed ``cex_state`` step (one key per instrument, ``venue:symbol``).
A Quote/QuoteUpdate is a two-sided state (best bid and ask). A trade is a one-sided observation of the book: a taker
buy executed at the ask, a taker sell at the bid, so it is a state with that side only. Quotes and trades travel
on different topics, so they are two markets of the join (keys ``venue:symbol`` and ``venue:symbol#trade``), each
in its own topic's order: which of them arrives first never changes what either says. Instruments without a
configured token mapping (:class:`CexMarket`) are ignored, and an event not newer than the last of its kind is
dropped (a replay).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from flows.state.events import QuoteEvent, TradeEvent

E8 = 10**8
"""AlphaPulse's fixed point for CEX prices and sizes."""


@dataclass(frozen=True, slots=True)
class CexMarket:
    """How a CEX instrument maps onto chain tokens.

    Attributes:
        instrument: ``venue:symbol`` key, e.g. ``102:ETH/USD``.
        base: address of the token the instrument's base asset stands for (WETH for ETH).
        quote: address of the token its quote currency stands for (USDC for USD: a 1:1 peg is assumed).
        base_decimals: decimals of ``base``.
        quote_decimals: decimals of ``quote``.
        taker_fee_bps: the CEX taker fee, bps of the notional.
    """

    instrument: str
    base: str
    quote: str
    base_decimals: int
    quote_decimals: int
    taker_fee_bps: int = 10


@dataclass(frozen=True, slots=True)
class CexQuote:
    """Best bid and ask of a CEX instrument, mapped to chain tokens; prices USD x1e8 per whole base, sizes x1e8.

    A side with price 0 is unknown. ``source``/``sequence``/``timestamp_ns`` identify the newest event folded in.
    """

    instrument: str
    venue: int
    base: str
    quote: str
    base_decimals: int
    quote_decimals: int
    taker_fee_bps: int
    bid_price: int
    bid_size: int
    bid_ns: int
    ask_price: int
    ask_size: int
    ask_ns: int
    source: int
    sequence: int
    timestamp_ns: int
    block_number: int = 0
    trace: dict[str, int] = field(default_factory=dict, compare=False)
    kind: str = "quote"
    """``quote`` (both sides from a Quote) or ``trade`` (the side a trade executed at)."""

    @property
    def key(self) -> str:
        """The market in joins: the instrument for quotes, ``<instrument>#trade`` for trades."""
        return self.instrument if self.kind == "quote" else f"{self.instrument}#trade"

    @property
    def pool(self) -> str:
        """The instrument, under the name opportunity inputs use for a market's identity."""
        return self.instrument

    @property
    def pair(self) -> str:
        """The chain token pair the instrument stands for: sorted addresses joined by '/'."""
        a, b = sorted((self.base, self.quote))
        return f"{a}/{b}"


@dataclass(frozen=True, slots=True)
class CexBook:
    """The ``cex_state`` step's state of one instrument: the last quote and trade folded in, (timestamp, seq)."""

    quote_position: tuple[int, int] = (0, 0)
    trade_position: tuple[int, int] = (0, 0)

    def __deepcopy__(self, memo: dict) -> CexBook:
        return self  # immutable: Bytewax snapshots by deepcopy


def fold_quote(
    held: CexBook | None, event: QuoteEvent | TradeEvent, markets: Mapping[str, CexMarket]
) -> tuple[CexBook | None, CexQuote | None]:
    """Turn a quote or trade of a configured instrument into its state.

    Args:
        held: the instrument's positions, or None.
        event: a Quote/QuoteUpdate or a Trade.
        markets: configured instruments.

    Returns:
        ``(state to keep, state to emit)``; nothing is kept for an unconfigured instrument, nothing emitted for an
        event not newer than the last of its kind or with no price.
    """
    market = markets.get(event.instrument)
    if market is None:
        return None, None
    book = held or CexBook()
    position = (event.timestamp_ns, event.sequence)
    is_quote = isinstance(event, QuoteEvent)
    if position <= (book.quote_position if is_quote else book.trade_position):
        return book, None
    book = replace(book, quote_position=position) if is_quote else replace(book, trade_position=position)
    ts = event.timestamp_ns
    sides = {"bid_price": 0, "bid_size": 0, "bid_ns": 0, "ask_price": 0, "ask_size": 0, "ask_ns": 0}
    if isinstance(event, QuoteEvent):
        if event.bid_price > 0:
            sides |= {"bid_price": event.bid_price, "bid_size": max(event.bid_size, 0), "bid_ns": ts}
        if event.ask_price > 0:
            sides |= {"ask_price": event.ask_price, "ask_size": max(event.ask_size, 0), "ask_ns": ts}
    elif event.price > 0 and event.volume > 0:
        side = "ask" if event.side == "buy" else "bid"  # a taker buy lifted the ask, a taker sell hit the bid
        sides |= {f"{side}_price": event.price, f"{side}_size": event.volume, f"{side}_ns": ts}
    if not sides["bid_ns"] and not sides["ask_ns"]:
        return book, None
    state = CexQuote(
        instrument=event.instrument,
        venue=event.venue,
        base=market.base,
        quote=market.quote,
        base_decimals=market.base_decimals,
        quote_decimals=market.quote_decimals,
        taker_fee_bps=market.taker_fee_bps,
        source=event.source,
        sequence=event.sequence,
        timestamp_ns=ts,
        trace=event.trace,
        kind="quote" if is_quote else "trade",
        **sides,
    )
    return book, state
