"""Fixtures of the bridge tests: a private broker, short socket directories, and a way to read topics back.

The bridge writes fixed topic names (market.*, dlq.relay) and tests/integration asserts absolute counts on those
topics of the session broker, so the end-to-end bridge tests run on a broker of their own (a fresh Tansu: a
broker-side namespace nobody else writes to). It is started once for this directory and stopped by pid.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from ops.control.topics import apply, load_topics
from ops.simulator.stack import stack
from ops.simulator.stack.stack import StackInfo
from sinks.kafka import client_config


@pytest.fixture(scope="package")
def bridge_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackInfo]:
    """A Tansu broker for the bridge tests only, with the topics of ops/control/topics.yaml."""
    home = tmp_path_factory.mktemp("bridge-broker")
    info = stack.up(home, chain=False, store=False)
    try:
        report = apply(info.bootstrap or "", load_topics())
        assert not report.refused, report.refused
        yield info
    finally:
        stack.down(home)


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short, uuid-named directory for relay sockets (sun_path holds 107 bytes)."""
    path = Path(tempfile.gettempdir()) / f"parb-{uuid.uuid4().hex[:12]}"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class Stored:
    """One record read back from a topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def read_topic(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[Stored]:
    """Every record of ``topic``, up to the end offsets fetch responses report (partition EOF)."""
    consumer = Consumer(
        client_config(bootstrap, {"group.id": f"bridge-test-{os.getpid()}", "enable.partition.eof": True})
    )
    try:
        parts = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        out, eof = [], set()
        deadline = time.monotonic() + timeout_s
        while len(eof) < len(parts):
            assert time.monotonic() < deadline, f"{topic}: no end of partitions {set(parts) - eof}"
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                eof.add(msg.partition())
                continue
            out.append(Stored(topic, msg.partition(), msg.offset(), msg.key(), msg.value()))
        return out
    finally:
        consumer.close()
