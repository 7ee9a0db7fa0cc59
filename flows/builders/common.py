"""What every flow builder shares: the run environment, dead-letter records, start offsets."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END

from flows.connectors.kafka import OutRecord
from flows.deadletter import dead_letter
from flows.spec import FlowSpec
from schemas.serde import codec


@dataclass(frozen=True, slots=True)
class RunEnv:
    """Where a flow runs: endpoints that differ between the laptop stack and a cluster."""

    bootstrap: str
    store_dsn: str = ""
    relay_socket: str = ""
    kafka_extra: Mapping[str, Any] = field(default_factory=dict)
    rpc_url: str = ""
    signals_socket: str = ""
    state_dir: str = ""


def dlq_record(
    flow: str,
    topic: str,
    stage: str,
    error: BaseException | str,
    raw: bytes,
    *,
    source_topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> OutRecord:
    """A dead letter for ``topic`` (a ``dlq.*`` topic), Avro-encoded and ready to produce."""
    rec = dead_letter(
        flow=flow, stage=stage, error=error, raw=raw, received_ns=time.time_ns(),
        source_topic=source_topic, partition=partition, offset=offset,
    )  # fmt: skip
    return OutRecord(topic, None, codec(topic).encode(rec))


def start_offset(spec: FlowSpec) -> int:
    """The Kafka start offset a spec asks for (used when there is no recovery snapshot)."""
    return OFFSET_END if spec.inputs.start_offset == "latest" else OFFSET_BEGINNING
