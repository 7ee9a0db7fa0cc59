"""Prometheus metrics of a flow process (one registry per process, served on 127.0.0.1:<metrics_port>).

Every flow labels its series with ``flow``; docs/operations.md and ops/monitoring/ name the alert rules built on
them. Domain modules never import this: builders and connectors count at the edges.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECORDS_IN = Counter("pulsearb_records_in", "Records (or relay frames) read", ["flow", "topic"])
RECORDS_OUT = Counter("pulsearb_records_out", "Records produced or archived", ["flow", "topic"])
DEAD_LETTERS = Counter("pulsearb_dead_letters", "Inputs sent to a dead-letter topic", ["flow", "stage"])
RELAY_BYTES = Counter("pulsearb_relay_bytes", "Bytes read from the relay socket", ["flow"])
RELAY_RECONNECTS = Counter("pulsearb_relay_reconnects", "Relay reconnections", ["flow"])
SIGNALS_DROPPED = Counter("pulsearb_signals_dropped", "Signals to AlphaPulse not delivered", ["flow"])
DELIVERY_FAILED = Counter("pulsearb_kafka_delivery_failed", "Kafka delivery reports with an error", ["flow"])
STORE_RETRIES = Counter("pulsearb_store_retries", "ClickHouse writes retried while the store was unavailable", ["flow"])
CONSUMER_LAG = Gauge("pulsearb_consumer_lag", "Records behind the partition end", ["flow", "topic", "partition"])
STATE_SIZE = Gauge("pulsearb_state_size", "Keys held by a stateful step", ["flow", "step"])
OPPORTUNITIES = Counter("pulsearb_opportunities", "Opportunities emitted", ["flow", "strategy"])
DECISIONS = Counter("pulsearb_decisions", "Risk decisions", ["flow", "reason"])
EXECUTIONS = Counter("pulsearb_executions", "Execution outcomes", ["flow", "status"])
REALIZED_PNL = Gauge("pulsearb_realized_pnl_usd", "Realized PnL today, USD (display)", ["flow"])
DAILY_LOSS_RATIO = Gauge("pulsearb_daily_loss_ratio", "Realized loss today / daily loss limit", ["flow"])
KILL_SWITCH = Gauge("pulsearb_kill_switch", "1 while the kill switch is on", ["flow"])
BREAKER_OPEN = Gauge("pulsearb_circuit_breaker_open", "1 while the failure circuit breaker is open", ["flow"])
ENDPOINT_UP = Gauge(
    "pulsearb_endpoint_up", "1 when a dependency (broker, rpc, store) answered its last check", ["flow", "endpoint"]
)
LATE_UPDATES = Counter(
    "pulsearb_late_updates", "Updates behind the event-time watermark of their join key, left out of the join", ["flow"]
)
STRAGGLERS = Counter(
    "pulsearb_join_stragglers",
    "Updates stamped before a later trigger of their join key that arrived after it: caught=yes while the trigger "
    "was held (clock.hold_ms), as in event order; caught=no after it was evaluated (live may differ from a backtest)",
    ["flow", "caught"],
)
OUT_OF_ORDER = Counter(
    "pulsearb_event_order_late",
    "Pool or CEX events that reached the detector more than clock.hold_ms after their stamp, behind a later event of "
    "their pool or instrument: folded out of event order (live may differ from a backtest)",
    ["flow", "kind"],
)
HOLD_MS = Gauge("pulsearb_detector_hold_ms", "A detector's clock.hold_ms (0: it evaluates on arrival)", ["flow"])
FLOW_INFO = Gauge("pulsearb_flow_info", "1 for a running flow process", ["flow", "kind", "process"])
HOP_LATENCY = Histogram(
    "pulsearb_hop_latency_seconds",
    "Latency of one pipeline hop (base/trace.py)",
    ["flow", "hop"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def serve(port: int) -> None:
    """Serve /metrics on 127.0.0.1:``port`` (0: do nothing). Loopback only; scrape through a sidecar or proxy."""
    if port:
        start_http_server(port, addr="127.0.0.1")


def observe_hops(flow: str, trace: dict[str, int], hops: tuple[tuple[str, str, str], ...]) -> None:
    """Record every hop of ``hops`` whose two stages are both in ``trace`` (ns stamps)."""
    for name, a, b in hops:
        if a in trace and b in trace:
            HOP_LATENCY.labels(flow, name).observe(max(0, trace[b] - trace[a]) / 1e9)
