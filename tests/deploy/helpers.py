"""Helpers for deploy tests: the CLI as a user runs it, pool-sync records, reading a topic to its end."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from schemas.serde import codec, u256
from sinks.kafka import client_config

ROOT = Path(__file__).resolve().parents[2]
WETH = ("0x7ceb23fd6bc0add59e62ac25578270cff1b9f619", 18)
USDC = ("0x2791bca1f2de4661ed88a30c99a7a9449aa84174", 6)
WBTC = ("0x1bfd67037b42cf73acf2047067bd4f2c47d9bfd6", 8)


def cli(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``pulsearb ARGS`` with ``PULSEARB_HOME=home``."""
    env = os.environ | {"PULSEARB_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True, slots=True)
class Pool:
    """A test pool: two tokens (address, decimals), a venue and whole-token reserves."""

    tag: str
    venue: int
    a: tuple[str, int]
    b: tuple[str, int]

    @property
    def address(self) -> str:
        return "0x" + hashlib.sha256(self.tag.encode()).hexdigest()[:40]

    def record(self, amount_a: float, amount_b: float, block: int, sequence: int) -> tuple[bytes, bytes]:
        """(key, Avro value) of a market.pool_sync record holding these reserves, stamped now."""
        (t0, d0, r0), (t1, d1, r1) = sorted(
            [
                (self.a[0], self.a[1], int(amount_a * 10 ** self.a[1])),
                (self.b[0], self.b[1], int(amount_b * 10 ** self.b[1])),
            ]
        )
        now = time.time_ns()
        rec: dict[str, Any] = {
            "source": 4,
            "sequence": sequence,
            "timestamp_ns": now,
            "pool": self.address,
            "venue": self.venue,
            "token0": t0,
            "token1": t1,
            "token0_decimals": d0,
            "token1_decimals": d1,
            "reserve0": u256(r0),
            "reserve1": u256(r1),
            "block_number": block,
            "event_timestamp_ns": now,
            "trace": {},
        }
        return self.address.encode(), codec("market.pool_sync").encode(rec)


def read_topic(bootstrap: str, topic: str, partitions: int = 1) -> list[dict[str, Any]]:
    """Every record of ``topic``, decoded, read up to the end offsets fetch responses report."""
    consumer = Consumer(client_config(bootstrap, {"group.id": "t", "enable.auto.commit": False, "log_level": 0}))
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        out, idle = [], 0
        while idle < 3:
            msgs = consumer.consume(1000, 0.2)
            idle = 0 if msgs else idle + 1
            out += [codec(topic).decode(m.value()) for m in msgs if m.error() is None]
        return out
    finally:
        consumer.close()
