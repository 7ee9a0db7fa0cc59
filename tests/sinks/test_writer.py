"""ArchiveWriter: batching by size and age, dedup on retry and replay, dead letters, retries while the store is down."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops.stack.process import free_port
from sinks.clickhouse import SinkUnavailable, connect, query_rows, session
from sinks.writer import ArchiveWriter
from tests.sinks.records import encode, pool_sync

TOPIC = "market.pool_sync"


def _counts(dsn: str) -> tuple[int, int]:
    with session(dsn) as client:
        _, rows = query_rows(
            client,
            "SELECT (SELECT count() FROM pulsearb.market_pool_sync), count() FROM pulsearb.market_pool_sync FINAL",
        )
    return int(rows[0][0]), int(rows[0][1])


def test_batches_by_size_and_by_age(store: str) -> None:
    payloads = encode(TOPIC, [pool_sync(i) for i in range(10)])
    w = ArchiveWriter(lambda: connect(store), max_rows=4, max_age_s=0.2)
    try:
        w.add_many(TOPIC, 0, list(enumerate(payloads)))
        assert (w.stats.inserts, w.pending) == (2, 2)  # two full batches of 4 written, 2 rows wait
        w.flush_due()
        assert w.pending == 2  # not old yet
        time.sleep(0.25)
        w.flush_due()
        assert (w.stats.inserts, w.pending, w.stats.rows) == (3, 0, 10)
    finally:
        w.close()
    assert _counts(store) == (10, 10)


def test_retried_batch_is_stored_once_and_replays_collapse(store: str) -> None:
    payloads = list(enumerate(encode(TOPIC, [pool_sync(i) for i in range(6)])))
    for _ in range(2):  # the same batch twice: the dedup token drops the second insert
        w = ArchiveWriter(lambda: connect(store))
        w.add_many(TOPIC, 0, payloads)
        w.close()
    assert _counts(store) == (6, 6)
    w = ArchiveWriter(lambda: connect(store), max_rows=4)  # replayed in another batch shape: FINAL collapses it
    w.add_many(TOPIC, 0, payloads)
    w.close()
    physical, final = _counts(store)
    assert final == 6 and physical == 12


def test_undecodable_record_becomes_a_dead_letter_and_the_rest_is_stored(store: str) -> None:
    payloads = encode(TOPIC, [pool_sync(i) for i in range(5)])
    payloads[2] = payloads[2][:30]  # a valid header with a truncated body: only ClickHouse notices
    dead: list[tuple[str, int, int]] = []
    w = ArchiveWriter(lambda: connect(store), on_dead_letter=lambda t, p, o, _raw, _e: dead.append((t, p, o)))
    w.add_many(TOPIC, 1, list(enumerate(payloads)))
    w.close()
    assert dead == [(TOPIC, 1, 2)]
    assert _counts(store) == (4, 4)


def test_unreachable_server_is_unavailable_not_an_error() -> None:
    with pytest.raises(SinkUnavailable):
        connect(f"http://127.0.0.1:{free_port()}")


def test_retries_while_another_process_holds_the_store_then_writes_everything(store: str, tmp_path: Path) -> None:
    path = store.removeprefix("chdb://")
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.sinks.holder", path, "2.5"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        retries: list[SinkUnavailable] = []
        w = ArchiveWriter(lambda: connect(store), max_backoff_s=0.5, on_retry=retries.append)
        w.add_many(TOPIC, 0, list(enumerate(encode(TOPIC, [pool_sync(i) for i in range(50)]))))
        w.close()  # blocks, retrying with backoff, until the holder lets go
    finally:
        holder.wait(timeout=30)
        holder.stdout.close()
    assert retries and "in use by process" in str(retries[0])
    assert w.stats.retries == len(retries)
    assert _counts(store) == (50, 50)
