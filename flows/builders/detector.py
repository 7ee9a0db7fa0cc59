"""Detector flow: market.* -> pool and CEX state -> event-time join per key -> strategy -> gas -> arb.opportunity.

Steps (Bytewax step ids)::

    kafka ─► decode ─┬─ pool events ─► [pool_order] ─► pool_state (fold, per pool) ────┐
                     ├─ CEX quotes/trades ─► [cex_order] ─► cex_state (per instrument) ┤ (join.pairs/... filter)
                     │                                                      ▼
                     │                         join (per token pair, or one key for the graph) ─► strategy
                     ├─ gas prices ──────────────────────────────────────► gas (per chain): cost, min profit
                     └─ dead letters ────────────────────────────────────────────────────────► kafka_out
                                                                              opportunities ─► kafka_out

``[pool_order]`` and ``[cex_order]`` exist with a hold (``clock.hold_ms``): each key's events wait that long after
their event time and are folded in event order (:mod:`flows.builders.event_order`). Event time is each record's
relay header timestamp; the join's clock, windows, lateness and staleness policy are
described in :mod:`flows.builders.detector_join` and docs/flows.md. Settings: ``clock`` (``event``/``system``,
``wait_for_system_ms``: the allowed lateness, else ``strategy.params.allowed_lateness_ms``), ``window`` (``latest``
by default: a session of the largest partner age), ``join`` (``by``, else ``strategy.params.join_by``, else the
strategy's own; ``pairs``/``tokens``/``venues`` restrict the states the flow joins), and ``strategy.params``
(:class:`~flows.strategies.params.StrategyParams`).

Gas: strategies run with gas at 0 (gas does not change a size), and the ``gas`` step costs each opportunity at the
chain's newest ``market.gas_price`` at or before the opportunity's detection time (event time;
``gas_price_scale`` converts it into the native token), else at ``gas_price_wei``, and drops it below
``min_net_profit``.

Time: an opportunity's ``detected_ns`` is its triggering update's event time and ``valid_until_ns`` that plus
``validity_ms``, so the same records give byte-identical opportunities live and in a backtest; only the trace's
stage times (``detect_in_ns``, ``detect_out_ns``) are wall times, for latency. The step functions live in
:class:`DetectorSteps`, which the dataflow and the archive replay (:mod:`flows.builders.replay`) share.
"""

from __future__ import annotations

import time
from bisect import bisect_right, insort
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import bytewax.operators as op
import bytewax.operators.windowing as win
from bytewax.dataflow import Dataflow
from prometheus_client import Gauge

from base.errors import ConfigError
from base.trace import HOPS
from flows.builders.common import RunEnv, start_offset
from flows.builders.contract import BuilderContract
from flows.builders.decode import PayloadDecoder, decode, per_record
from flows.builders.detector_join import (
    JoinConfig,
    JoinLogic,
    JoinSnapshot,
    event_time,
    join_logic,
    join_step,
    windower_for,
)
from flows.builders.event_order import in_event_order
from flows.connectors.kafka import KafkaSink, KafkaSource, OutRecord
from flows.metrics import HOLD_MS, LATE_UPDATES, OPPORTUNITIES, OUT_OF_ORDER, STATE_SIZE, STRAGGLERS, observe_hops
from flows.opportunity import Opportunity
from flows.opportunity import to_record as opportunity_record
from flows.pools import PoolState
from flows.spec import FlowSpec
from flows.spec.problems import Problems
from flows.state.events import GasEvent, PoolEvent, QuoteEvent, TradeEvent, from_record
from flows.state.fold import PoolBook, fold_event
from flows.state.join import Market
from flows.state.quotes import CexBook, CexQuote, fold_quote
from flows.strategies import join_by
from flows.strategies import strategy as find_strategy
from flows.strategies.assemble import is_fresh, reprice
from flows.strategies.params import StrategyParams, parse_params
from schemas.serde import AvroRecord, codec, schema_topic

SECTIONS = frozenset({"inputs", "strategy", "outputs", "clock", "window", "join"})
"""The spec sections this builder reads (its contract's, below)."""

DETECT_HOPS = tuple(h for h in HOPS if h[0] in ("kafka->detector", "detector", "relay->opportunity"))
GRAPH_KEY = "graph"

Routed = tuple[str, PoolEvent | tuple[str, QuoteEvent | TradeEvent | GasEvent]]
"""A decoded record as the flow routes it: ``(pool, event)``, ``("cex", (instrument, event))`` or ``("gas", (chain,
event))``."""


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """What a detector spec configures, read once: the strategy's parameters and how its states are joined.

    Attributes:
        params: ``strategy.params``.
        join_by: ``pair`` or ``graph``: ``join.by``, else ``strategy.params.join_by``, else the strategy's own.
    """

    params: StrategyParams
    join_by: str


def load_config(spec: FlowSpec) -> DetectorConfig:
    """Read what this builder owns (``strategy``, ``join.by``, ``window``, topic names) without any I/O.

    Raises:
        SpecError: every problem, one line each naming the spec, the line and the field.
    """
    problems = Problems.of(spec)
    if not spec.strategy.name:
        problems.note("strategy.name", "expected the name of a strategy, got nothing")
    params = parse_params(spec.name, spec.strategy.params, problems)
    mode = "pair"
    try:
        mode = join_by(spec.strategy.name, spec.join.by or params.join_by)
    except ConfigError as exc:
        problems.note("join.by" if spec.join.by else "strategy.params.join_by", str(exc))
    try:
        _windower(spec, params)
    except ValueError as exc:
        problems.note("window", str(exc))
    if spec.clock.hold_ms and spec.clock.hold_ms >= _lateness_ms(spec, params):
        problems.note(
            "clock.hold_ms",
            f"expected less than the allowed lateness ({_lateness_ms(spec, params)} ms: a held update must still be "
            f"within it), got {spec.clock.hold_ms}",
        )
    topics = [("outputs.opportunities", spec.outputs.get("opportunities", "arb.opportunity"))]
    topics += [(f"inputs.topics[{i}]", topic) for i, topic in enumerate(spec.inputs.topics)]
    for field, topic in topics:
        try:
            schema_topic(topic)
        except ConfigError as exc:
            problems.note(field, str(exc))
    problems.raise_any()
    return DetectorConfig(params, mode)


def strategy_params(spec: FlowSpec) -> StrategyParams:
    """The strategy parameters of a detector spec (:func:`load_config`).

    Raises:
        SpecError: every problem of the spec's settings, located.
    """
    return load_config(spec).params


def check_spec(spec: FlowSpec) -> None:
    """Check a detector spec without any I/O (:func:`load_config`).

    Raises:
        SpecError: every problem, located.
    """
    load_config(spec)


def join_key_of(mode: str) -> Callable[[Market], str]:
    """The join key of a state: its token pair (``pair``), or one key for the whole graph (``graph``)."""
    if mode == GRAPH_KEY:
        return lambda _state: GRAPH_KEY
    pairs: dict[tuple[str, str], str] = {}  # a pool's (token0, token1) -> its pair key: built once, not per update

    def pair_of(state: Market) -> str:
        if type(state) is not PoolState:
            return state.pair
        ends = (state.token0, state.token1)
        pair = pairs.get(ends)
        if pair is None:
            pair = pairs[ends] = state.pair
        return pair

    return pair_of


def _partner_age_ms(params: StrategyParams) -> int:
    return max(params.max_age_ms, params.max_quote_age_ms)


def _lateness_ms(spec: FlowSpec, params: StrategyParams) -> int:
    return spec.clock.wait_for_system_ms or params.allowed_lateness_ms


def _windower(spec: FlowSpec, params: StrategyParams) -> win.Windower:
    w = spec.window
    gap = w.gap_ms if w.type == "session" else _partner_age_ms(params)
    return windower_for(w.type, w.length_ms, w.slide_ms, gap)


def _clock(spec: FlowSpec, params: StrategyParams, now: Callable[[], datetime] | None = None) -> win.Clock:
    """The join's clock. ``now`` replaces the system clock (a backtest passes the replayed event time)."""
    if now is not None:
        if spec.clock.type == "system":  # a system clock stamps each state with "now": the replay's now
            return win.EventClock(lambda _s: now(), wait_for_system_duration=timedelta(0), now_getter=now)
        lateness = timedelta(milliseconds=_lateness_ms(spec, params))
        return win.EventClock(event_time, wait_for_system_duration=lateness, now_getter=now)
    if spec.clock.type == "system":
        return win.SystemClock()
    return win.EventClock(event_time, wait_for_system_duration=timedelta(milliseconds=_lateness_ms(spec, params)))


def _accepts(spec: FlowSpec) -> Callable[[Market], bool]:
    """The ``join`` section's filter over pool states and CEX quotes (everything when it restricts nothing)."""
    rule = spec.join
    if not (rule.pairs or rule.tokens or rule.venues):
        return lambda _state: True

    def accepts(state: Market) -> bool:
        if isinstance(state, PoolState):
            return rule.accepts(state.token0, state.token1, state.venue)
        return rule.accepts(state.base, state.quote)  # a CEX venue is not a DEX venue: only the pair counts

    return accepts


GasBook = tuple[tuple[int, int, int], ...]
"""The gas step's state: recent ``(timestamp_ns, sequence, price in wei of native_token)`` in event order."""


def gas_as_of(book: GasBook, timestamp_ns: int) -> int | None:
    """The newest gas price at or before ``timestamp_ns`` (event time), or None when the book has none that old."""
    i = bisect_right(book, (timestamp_ns, 2**63, 0))
    return book[i - 1][2] if i else None


def gas_with(book: GasBook, entry: tuple[int, int, int], keep_ns: int) -> GasBook:
    """The book with a reading added at its place, keeping the readings younger than ``keep_ns`` behind the newest
    (plus the last one before: it is the price as of anything up to the next)."""
    entries = list(book)
    insort(entries, entry)
    cutoff = entries[-1][0] - keep_ns
    drop = bisect_right(entries, (cutoff, -1, -1)) - 1
    return tuple(entries[drop:] if drop > 0 else entries)


class DetectorSteps:
    """The detector's step functions for one spec: what the dataflow's steps run, and what a backtest replays.

    One object per flow: configuration and metrics only. Per-key state (a pool's book, a CEX book, a key's join,
    the chain's gas readings) is passed in and handed back, as Bytewax's keyed steps hold it, so the dataflow
    (:func:`detector_flow`) and the archive replay (:mod:`flows.builders.replay`) run the same code on it.

    Args:
        spec: a ``kind: detector`` spec.
        now: the clock of the join's watermark; None is the system clock (a live flow). A backtest passes the
            event time of the record being replayed, which is what the system clock reads live (the relay stamps
            each frame with its wall time).
        now_ns: the same "now" in ns since epoch, for the join's hold (``clock.hold_ms``).

    Raises:
        ConfigError: a bad parameter, window, join or topic name.
    """

    def __init__(
        self,
        spec: FlowSpec,
        now: Callable[[], datetime] | None = None,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        config = load_config(spec)
        self.spec = spec
        self.params = params = config.params
        name = spec.strategy.name
        self.catalog = params.catalog()
        self.markets = params.cex_markets
        self.chain_key = str(params.chain_id)
        self.key_of = join_key_of(config.join_by)
        self.accepts = _accepts(spec)
        self.opportunities = OPPORTUNITIES.labels(spec.name, name)
        self.pools_held = STATE_SIZE.labels(spec.name, "pool_state")
        self.books_held = STATE_SIZE.labels(spec.name, "cex_state")
        age_ms = _partner_age_ms(params)
        # An opportunity is costed up to the hold after its detection time: keep the readings that old too.
        self.gas_keep_ns = (_lateness_ms(spec, params) + age_ms + spec.clock.hold_ms) * 1_000_000
        self.join = JoinConfig(
            clock=_clock(spec, params, now),
            windower=_windower(spec, params),
            retention_ns=_lateness_ms(spec, params) * 1_000_000,
            horizon_ns=age_ms * 1_000_000,
            partner_ok=lambda late, later: is_fresh(late, later, params),
            evaluate=find_strategy(name),
            params=replace(params, gas_price_wei=0),
            late=LATE_UPDATES.labels(spec.name),
            windows=STATE_SIZE.labels(spec.name, "join"),
            hold_ns=spec.clock.hold_ms * 1_000_000,
            now_ns=now_ns,
            stragglers=(STRAGGLERS.labels(spec.name, "yes"), STRAGGLERS.labels(spec.name, "no")),
        )

    def route(self, topic: str, rec: AvroRecord, detect_in_ns: int | None) -> Routed | None:
        """A decoded ``market.*`` record as the flow routes it: ``(pool, event)`` for the pool fold, ``("cex",
        (instrument, event))``, ``("gas", (chain, event))``, or None when the flow does not use it.

        Args:
            topic: the record's schema topic.
            rec: the Avro-decoded record.
            detect_in_ns: added to the event's trace (None adds nothing: a replay is not a detector stage).

        Raises:
            PulsearbError, KeyError, ValueError, TypeError: the record cannot be an event (a dead letter).
        """
        event = from_record(topic, rec, detect_in_ns)
        if isinstance(event, PoolEvent):
            return event.pool, event
        if isinstance(event, QuoteEvent | TradeEvent):
            return "cex", (event.instrument, event)
        if isinstance(event, GasEvent) and (not self.params.gas_venue or event.venue == self.params.gas_venue):
            return "gas", (self.chain_key, event)
        return None

    def _counted(self, gauge: Gauge, held: object, kept: object) -> None:
        # A key's state appears or is discarded (None): the gauge follows the keys held.
        if (held is None) != (kept is None):
            gauge.inc(1 if held is None else -1)

    def fold_pool(self, held: PoolBook | None, event: PoolEvent) -> tuple[PoolBook, PoolState | None]:
        """The ``pool_state`` step: fold a pool event into the pool's book."""
        kept, state = fold_event(held, event, self.catalog)
        self._counted(self.pools_held, held, kept)
        return kept, state

    def fold_cex(self, held: CexBook | None, event: QuoteEvent | TradeEvent) -> tuple[CexBook | None, CexQuote | None]:
        """The ``cex_state`` step: fold a quote or trade into the instrument's book."""
        kept, quote = fold_quote(held, event, self.markets)
        self._counted(self.books_held, held, kept)
        return kept, quote

    def to_join(self, value: tuple[str, Market | None]) -> tuple[str, Market] | None:
        """A changed state keyed for the join (None: no change, or the ``join`` section leaves it out)."""
        state = value[1]
        return None if state is None or not self.accepts(state) else (self.key_of(state), state)

    def join_logic(self, resume: JoinSnapshot | None = None) -> JoinLogic:
        """The ``join`` step's logic of one key (fresh, or from a snapshot)."""
        return join_logic(self.join, resume)

    def gas(self, held: GasBook | int | None, item: Opportunity | GasEvent) -> tuple[GasBook, Opportunity | None]:
        """The ``gas`` step (per chain): keep gas readings; cost an opportunity at the newest reading at or before
        its detection (event) time, else at ``gas_price_wei``; None when it no longer pays ``min_net_profit``.

        Costing as of event time makes the price independent of whether the gas record or the pool update was
        read first, so a live run and a backtest of the same records agree.
        """
        book: GasBook = ((0, 0, held),) if isinstance(held, int) else held or ()  # a pre-event-time snapshot
        params = self.params
        if isinstance(item, GasEvent):
            entry = (item.timestamp_ns, item.sequence, params.gas_price_from_gwei(item.gas_price_gwei))
            return gas_with(book, entry, self.gas_keep_ns), None
        price = gas_as_of(book, item.detected_ns)
        opp = reprice(item, params.gas_price_wei if price is None else price, params)
        if opp is not None:
            self.opportunities.inc()
        return book, opp


def detector_flow(spec: FlowSpec, env: RunEnv, *, tail: bool = True) -> Dataflow:
    """market.* -> pool/CEX state -> event-time join per key -> strategy -> gas -> arb.opportunity.

    Args:
        spec: a ``kind: detector`` spec.
        env: endpoints.
        tail: keep reading new records (True, deployed flows) or end at the end offsets seen at start-up (tests,
            backfills).

    Raises:
        ConfigError: a bad parameter, window, join or topic name.
    """
    steps = DetectorSteps(spec)
    out_topic = spec.outputs.get("opportunities", "arb.opportunity")
    topics = spec.inputs.topics or ("market.pool_sync",)
    logical = {t: schema_topic(t) for t in topics}
    codecs = {t: codec(logical[t]) for t in topics}
    out_codec = codec(schema_topic(out_topic))

    def reader(topic: str) -> PayloadDecoder[Routed]:
        # Pool events leave as (pool, event), ready for the keyed fold; the rest as (kind, payload). One read time
        # per chunk (one poll of one partition).
        now, schema_name, read, route = time.time_ns(), logical[topic], codecs[topic].decode, steps.route
        return lambda value: route(schema_name, read(value), now)

    def to_out(value: tuple[str, Opportunity | None]) -> OutRecord | None:
        opp = value[1]
        if opp is None:
            return None
        rec = opportunity_record(opp)
        rec["trace"] = rec["trace"] | {"detect_out_ns": time.time_ns()}  # a wall time: latency, not identity
        observe_hops(spec.name, rec["trace"], DETECT_HOPS)
        return OutRecord(out_topic, opp.pair.encode(), out_codec.encode(rec))

    flow = Dataflow(spec.name)
    source = KafkaSource(
        env.bootstrap, topics, tail=tail, start=start_offset(spec), extra=dict(env.kafka_extra), chunks=True
    )
    decoded = decode(
        "decode", op.input("kafka", flow, source), per_record(reader), flow=spec.name, dlq_topic=spec.dlq_topic
    )
    split = op.branch("split", decoded.oks, lambda x: isinstance(x[1], PoolEvent))
    pool_events = split.trues
    rest = split.falses
    cex_events = op.filter_map("cex_events", rest, lambda x: x[1] if x[0] == "cex" else None)
    gas_events = op.filter_map("gas_events", rest, lambda x: x[1] if x[0] == "gas" else None)
    errs = decoded.errs

    # With a hold, each pool's (instrument's) events are folded in event order whatever partition each came from,
    # as a backtest folds them: the state a trigger is joined with does not depend on which topic was read first.
    hold = spec.clock.hold_ms
    HOLD_MS.labels(spec.name).set(hold)
    pool_events = in_event_order("pool_order", pool_events, hold, time.time_ns, OUT_OF_ORDER.labels(spec.name, "pool"))
    cex_events = in_event_order("cex_order", cex_events, hold, time.time_ns, OUT_OF_ORDER.labels(spec.name, "cex"))
    pool_states = op.filter_map(
        "pool_changed", op.stateful_map("pool_state", pool_events, steps.fold_pool), steps.to_join
    )
    cex_states = op.filter_map("cex_changed", op.stateful_map("cex_state", cex_events, steps.fold_cex), steps.to_join)
    found = join_step("join", op.merge("states", pool_states, cex_states), steps.join)
    candidates = op.map("by_chain", found, lambda kv: (steps.chain_key, kv[1]))
    priced = op.stateful_map("gas", op.merge("costs", candidates, gas_events), steps.gas)
    opps = op.filter_map("detect", priced, to_out)
    op.output("kafka_out", op.merge("out", opps, errs), KafkaSink(env.bootstrap, dict(env.kafka_extra)))
    return flow


CONTRACT = BuilderContract(kind="detector", sections=SECTIONS, config=load_config, build=detector_flow)
"""The detector's builder, as flows/build.py registers it."""
