"""Detector flow: market.* -> pool and CEX state -> event-time join per key -> strategy -> gas -> arb.opportunity.

Steps (Bytewax step ids)::

    kafka ─► decode ─┬─ pool events ─► pool_state (fold, per pool) ─────────┐
                     ├─ CEX quotes/trades ─► cex_state (per instrument) ───┤ (join.pairs/tokens/venues filter)
                     │                                                      ▼
                     │                         join (per token pair, or one key for the graph) ─► strategy
                     ├─ gas prices ──────────────────────────────────────► gas (per chain): cost, min profit
                     └─ dead letters ────────────────────────────────────────────────────────► kafka_out
                                                                              opportunities ─► kafka_out

Event time is each record's relay header timestamp; the join's clock, windows, lateness and staleness policy are
described in :mod:`flows.builders.detector_join` and docs/flows.md. Settings: ``clock`` (``event``/``system``,
``wait_for_system_ms``: the allowed lateness, else ``strategy.params.allowed_lateness_ms``), ``window`` (``latest``
by default: a session of the largest partner age), ``join`` (``by``, else ``strategy.params.join_by``, else the
strategy's own; ``pairs``/``tokens``/``venues`` restrict the states the flow joins), and ``strategy.params``
(:class:`~flows.strategies.params.StrategyParams`).

Gas: strategies run with gas at 0 (gas does not change a size), and the ``gas`` step costs each opportunity at the
newest ``market.gas_price`` of the chain it has seen (``gas_price_scale`` converts it into the native token), else
at ``gas_price_wei``, and drops it below ``min_net_profit``. A ``market.gas_price`` record and an opportunity that
arrive together are costed in arrival order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import bytewax.operators as op
import bytewax.operators.windowing as win
from bytewax.dataflow import Dataflow
from prometheus_client import Counter

from flows.builders.common import RunEnv, dlq_record, start_offset
from flows.builders.detector_join import JoinConfig, event_time, join_step, windower_for
from flows.connectors.kafka import KafkaRecord, KafkaSink, KafkaSource, OutRecord
from flows.errors import ConfigError, PulsearbError
from flows.metrics import DEAD_LETTERS, OPPORTUNITIES, RECORDS_IN, STATE_SIZE, observe_hops
from flows.opportunity import Opportunity
from flows.opportunity import to_record as opportunity_record
from flows.pools import PoolState
from flows.spec import FlowSpec
from flows.state.events import GasEvent, PoolEvent, QuoteEvent, TradeEvent, from_record
from flows.state.fold import fold_event
from flows.state.quotes import CexBook, CexQuote, fold_quote
from flows.strategies import join_by
from flows.strategies import strategy as find_strategy
from flows.strategies.assemble import is_fresh, reprice
from flows.strategies.params import StrategyParams, params_from_mapping
from flows.trace import HOPS
from schemas.serde import codec, topics_with_schemas

SECTIONS = frozenset({"inputs", "strategy", "outputs", "clock", "window", "join"})
"""The spec sections this builder reads (ops/deploy/checks.py convention)."""

LATE_UPDATES = Counter(
    "pulsearb_late_updates", "Updates behind the event-time watermark of their join key, left out of the join", ["flow"]
)
DETECT_HOPS = tuple(h for h in HOPS if h[0] in ("kafka->detector", "detector", "relay->opportunity"))
GRAPH_KEY = "graph"


def strategy_params(spec: FlowSpec) -> StrategyParams:
    """Build the strategy parameters from ``strategy.params``.

    Raises:
        ConfigError: an unknown or mistyped parameter (names the spec file and the field).
    """
    try:
        return params_from_mapping(spec.name, spec.strategy.params)
    except ConfigError as exc:
        msg = f"{spec.path}: {exc}"
        raise ConfigError(msg) from exc


def check_spec(spec: FlowSpec) -> None:
    """Check what this builder owns (``strategy.params``, ``clock``, ``window``, ``join.by``) without any I/O.

    Raises:
        ConfigError: one line naming the spec and the field.
    """
    params = strategy_params(spec)
    try:
        join_by(spec.strategy.name, spec.join.by or params.join_by)
        _windower(spec, params)
    except (ConfigError, ValueError) as exc:
        msg = f"{spec.path}: {exc}"
        raise ConfigError(msg) from exc
    schema_topic(spec.outputs.get("opportunities", "arb.opportunity"))
    for topic in spec.inputs.topics:
        schema_topic(topic)


def schema_topic(topic: str) -> str:
    """The topic whose Avro schema a topic uses: itself, or for a prefixed name (``<prefix>.market.pool_sync``,
    per environment or per test) the schema'd topic name it ends with.

    Raises:
        ConfigError: no schema matches the name.
    """
    known = topics_with_schemas()
    if topic in known or topic.startswith("dlq."):
        return topic
    for name in sorted(known, key=len, reverse=True):
        if topic.endswith("." + name):
            return name
    msg = f"topic {topic!r}: no Avro schema in schemas/avro matches it (name it after one, optionally prefixed)"
    raise ConfigError(msg)


def join_key_of(mode: str) -> Callable[[Any], str]:
    """The join key of a state: its token pair (``pair``), or one key for the whole graph (``graph``)."""
    if mode == GRAPH_KEY:
        return lambda _state: GRAPH_KEY
    return lambda state: state.pair


def _partner_age_ms(params: StrategyParams) -> int:
    return max(params.max_age_ms, params.max_quote_age_ms)


def _lateness_ms(spec: FlowSpec, params: StrategyParams) -> int:
    return spec.clock.wait_for_system_ms or params.allowed_lateness_ms


def _windower(spec: FlowSpec, params: StrategyParams) -> win.Windower:
    w = spec.window
    gap = w.gap_ms if w.type == "session" else _partner_age_ms(params)
    return windower_for(w.type, w.length_ms, w.slide_ms, gap)


def _clock(spec: FlowSpec, params: StrategyParams) -> win.Clock:
    if spec.clock.type == "system":
        return win.SystemClock()
    return win.EventClock(event_time, wait_for_system_duration=timedelta(milliseconds=_lateness_ms(spec, params)))


def _accepts(spec: FlowSpec) -> Callable[[Any], bool]:
    """The ``join`` section's filter over pool states and CEX quotes (everything when it restricts nothing)."""
    rule = spec.join
    if not (rule.pairs or rule.tokens or rule.venues):
        return lambda _state: True

    def accepts(state: Any) -> bool:
        if isinstance(state, PoolState):
            return rule.accepts(state.token0, state.token1, state.venue)
        return rule.accepts(state.base, state.quote)  # a CEX venue is not a DEX venue: only the pair counts

    return accepts


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
    check_spec(spec)
    params = strategy_params(spec)
    name = spec.strategy.name
    mode = join_by(name, spec.join.by or params.join_by)
    catalog = params.catalog()
    markets = params.cex_markets
    out_topic = spec.outputs.get("opportunities", "arb.opportunity")
    dlq_topic = spec.dlq_topic
    topics = spec.inputs.topics or ("market.pool_sync",)
    chain_key = str(params.chain_id)
    key_of = join_key_of(mode)
    accepts = _accepts(spec)
    opportunities = OPPORTUNITIES.labels(spec.name, name)
    dead = DEAD_LETTERS.labels(spec.name, "decode")
    records_in = {t: RECORDS_IN.labels(spec.name, t) for t in topics}
    logical = {t: schema_topic(t) for t in topics}
    codecs = {t: codec(logical[t]) for t in topics}
    out_codec = codec(schema_topic(out_topic))

    def decode(batch: list[KafkaRecord]) -> list[tuple[str, Any]]:
        # Pool events leave as (pool, event), ready for the keyed fold; the rest as (kind, payload).
        now = time.time_ns()
        out: list[tuple[str, Any]] = []
        counts = dict.fromkeys(records_in, 0)
        for msg in batch:
            counts[msg.topic] += 1
            try:
                event = from_record(logical[msg.topic], codecs[msg.topic].decode(msg.value or b""), now)
            except (PulsearbError, KeyError, ValueError, TypeError) as exc:
                where = {"source_topic": msg.topic, "partition": msg.partition, "offset": msg.offset}
                out.append(("err", dlq_record(spec.name, dlq_topic, "decode", exc, msg.value or b"", **where)))
                dead.inc()
                continue
            if isinstance(event, PoolEvent):
                out.append((event.pool, event))
            elif isinstance(event, QuoteEvent | TradeEvent):
                out.append(("cex", (event.instrument, event)))
            elif isinstance(event, GasEvent) and (not params.gas_venue or event.venue == params.gas_venue):
                out.append(("gas", (chain_key, event)))
        for topic, n in counts.items():
            if n:
                records_in[topic].inc(n)
        return out

    pools_held = STATE_SIZE.labels(spec.name, "pool_state")
    books_held = STATE_SIZE.labels(spec.name, "cex_state")

    def counted(gauge: Any, held: Any, kept: Any) -> None:
        # A key's state appears or is discarded (None): the gauge follows the keys held.
        if (held is None) != (kept is None):
            gauge.inc(1 if held is None else -1)

    def fold_pool(held: Any, event: PoolEvent) -> tuple[Any, PoolState | None]:
        kept, state = fold_event(held, event, catalog)
        counted(pools_held, held, kept)
        return kept, state

    def fold_cex(held: CexBook | None, event: QuoteEvent | TradeEvent) -> tuple[CexBook | None, CexQuote | None]:
        kept, quote = fold_quote(held, event, markets)
        counted(books_held, held, kept)
        return kept, quote

    def to_join(value: tuple[str, Any]) -> tuple[str, Any] | None:
        state = value[1]
        return None if state is None or not accepts(state) else (key_of(state), state)

    def gas(price: int | None, item: Opportunity | GasEvent) -> tuple[int | None, list[OutRecord]]:
        if isinstance(item, GasEvent):
            return params.gas_price_from_gwei(item.gas_price_gwei), []
        opp = reprice(item, params.gas_price_wei if price is None else price, params)
        if opp is None:
            return price, []
        rec = opportunity_record(opp)
        rec["trace"] = rec["trace"] | {"detect_out_ns": time.time_ns()}
        opportunities.inc()
        observe_hops(spec.name, rec["trace"], DETECT_HOPS)
        return price, [OutRecord(out_topic, opp.pair.encode(), out_codec.encode(rec))]

    age_ms = _partner_age_ms(params)
    config = JoinConfig(
        clock=_clock(spec, params),
        windower=_windower(spec, params),
        retention_ns=_lateness_ms(spec, params) * 1_000_000,
        horizon_ns=age_ms * 1_000_000,
        partner_ok=lambda late, later: is_fresh(late, later, params),
        evaluate=find_strategy(name),
        params=replace(params, gas_price_wei=0),
        late=LATE_UPDATES.labels(spec.name),
        windows=STATE_SIZE.labels(spec.name, "join"),
    )

    flow = Dataflow(spec.name)
    source = KafkaSource(env.bootstrap, topics, tail=tail, start=start_offset(spec), extra=dict(env.kafka_extra))
    decoded = op.flat_map_batch("decode", op.input("kafka", flow, source), decode)
    split = op.branch("split", decoded, lambda x: isinstance(x[1], PoolEvent))
    pool_events = split.trues
    rest = split.falses
    cex_events = op.filter_map("cex_events", rest, lambda x: x[1] if x[0] == "cex" else None)
    gas_events = op.filter_map("gas_events", rest, lambda x: x[1] if x[0] == "gas" else None)
    errs = op.filter_map("errs", rest, lambda x: x[1] if x[0] == "err" else None)

    pool_states = op.filter_map("pool_changed", op.stateful_map("pool_state", pool_events, fold_pool), to_join)
    cex_states = op.filter_map("cex_changed", op.stateful_map("cex_state", cex_events, fold_cex), to_join)
    found = join_step("join", op.merge("states", pool_states, cex_states), config)
    candidates = op.map("by_chain", found, lambda kv: (chain_key, kv[1]))
    priced = op.stateful_map("gas", op.merge("costs", candidates, gas_events), gas)
    opps = op.flat_map("detect", priced, lambda kv: kv[1])
    op.output("kafka_out", op.merge("out", opps, errs), KafkaSink(env.bootstrap, dict(env.kafka_extra)))
    return flow
