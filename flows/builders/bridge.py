"""Bridge flow: relay socket -> decode -> Avro -> market.* topics; bad frames -> dlq.relay."""

from __future__ import annotations

import time

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from flows.bridge import route_frame
from flows.builders.common import RunEnv, dlq_record
from flows.connectors.kafka import KafkaSink, OutRecord
from flows.connectors.relay import Received, RelaySource
from flows.errors import ConfigError, PulsearbError
from flows.relay.codec import Frame
from flows.spec import FlowSpec
from schemas.serde import codec


def bridge_flow(spec: FlowSpec, env: RunEnv) -> Dataflow:
    """Relay socket -> decode -> Avro -> market.* topics; bad frames -> dlq.relay with their raw bytes."""
    socket_path = env.relay_socket or spec.inputs.relay_socket
    if not socket_path:
        msg = f"{spec.path}: inputs.relay_socket: a bridge needs the relay socket path"
        raise ConfigError(msg)
    dlq_topic = spec.outputs.get("dlq", "dlq.relay")

    def route(rx: Received) -> list[OutRecord]:
        item = rx.item
        if not isinstance(item, Frame):  # a DeadFrame from the framer
            return [dlq_record(spec.name, dlq_topic, "frame", item.reason, item.raw, offset=item.offset)]
        trace = {"relay_ns": item.header.timestamp, "bridge_in_ns": rx.received_ns, "bridge_out_ns": time.time_ns()}
        routed, unroutable = route_frame(item, trace)
        out = []
        for r in routed:
            try:
                out.append(OutRecord(r.topic, r.key.encode(), codec(r.topic).encode(r.record)))
            except PulsearbError as exc:
                out.append(dlq_record(spec.name, dlq_topic, "encode", exc, item.raw))
        if unroutable:
            reason = f"no topic for TLV {', '.join(unroutable)}"
            out.append(dlq_record(spec.name, dlq_topic, "route", reason, item.raw))
        return out

    flow = Dataflow(spec.name)
    frames = op.input("relay", flow, RelaySource(socket_path))
    records = op.flat_map("route", frames, route)
    op.output("kafka", records, KafkaSink(env.bootstrap, dict(env.kafka_extra)))
    return flow
