"""Trace stages: every record keeps the time (ns since epoch) it entered each stage, under these keys.

A hop is the time between two consecutive stages; ``pulsearb history latency`` and the run report compute their
quantiles from the ``trace`` map column in ClickHouse.
"""

from __future__ import annotations

STAGES: tuple[str, ...] = (
    "relay_ns",  # the frame was built/sent to the relay (relay header timestamp)
    "bridge_in_ns",  # the bridge read its last byte from the relay socket
    "bridge_out_ns",  # the bridge handed the Avro record to the producer
    "detect_in_ns",  # a detector decoded it from Kafka
    "detect_out_ns",  # the detector emitted the opportunity
    "risk_in_ns",  # the risk flow decoded the opportunity
    "decision_ns",  # risk decided
    "exec_sent_ns",  # the transaction was sent
    "exec_accepted_ns",  # the node accepted it (tx hash returned)
    "exec_receipt_ns",  # the receipt arrived
    "archive_ns",  # the archive flow wrote the record's batch to ClickHouse
)

HOPS: tuple[tuple[str, str, str], ...] = (
    ("relay->bridge", "relay_ns", "bridge_in_ns"),
    ("bridge", "bridge_in_ns", "bridge_out_ns"),
    ("kafka->detector", "bridge_out_ns", "detect_in_ns"),
    ("detector", "detect_in_ns", "detect_out_ns"),
    ("kafka->risk", "detect_out_ns", "risk_in_ns"),
    ("risk", "risk_in_ns", "decision_ns"),
    ("submit", "decision_ns", "exec_accepted_ns"),
    ("confirm", "exec_accepted_ns", "exec_receipt_ns"),
    ("relay->opportunity", "relay_ns", "detect_out_ns"),
    ("kafka->archive", "detect_out_ns", "archive_ns"),
)
