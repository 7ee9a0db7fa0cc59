"""ArchiveWriter: batching by size and age, dedup on retry and replay, dead letters, retries while the store is down."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops.simulator.stack.process import free_port
from sinks.clickhouse import SinkUnavailable, StoreError, connect, query_rows, session
from sinks.writer import ArchiveWriter
from tests.sinks.conftest import migrated
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


@pytest.mark.parametrize("background", [False, True])
def test_undecodable_record_becomes_a_dead_letter_and_the_rest_is_stored(store: str, background: bool) -> None:
    payloads = encode(TOPIC, [pool_sync(i) for i in range(5)])
    payloads[2] = payloads[2][:30]  # a valid header with a truncated body: only ClickHouse notices
    dead: list[tuple[str, int, int]] = []
    w = ArchiveWriter(
        lambda: connect(store),
        on_dead_letter=lambda t, p, o, _raw, _e: dead.append((t, p, o)),
        background=background,
    )
    w.add_many(TOPIC, 1, list(enumerate(payloads)))
    w.add_many(TOPIC + ".staging", 0, [(7, encode(TOPIC, [pool_sync(9)])[0])])  # same table, another topic
    w.close()
    assert dead == [(TOPIC, 1, 2)]
    assert (w.stats.rows, w.stats.dead_letters) == (5, 1)
    assert w.stats.inserts == 1  # one INSERT for both topics, once the rejected one was cleaned of the bad record
    assert _counts(store) == (5, 5)


def test_unreachable_server_is_unavailable_not_an_error() -> None:
    with pytest.raises(SinkUnavailable):
        connect(f"http://127.0.0.1:{free_port()}")


@pytest.mark.parametrize("background", [False, True])
def test_retries_while_another_process_holds_the_store_then_writes_everything(
    store: str, tmp_path: Path, background: bool
) -> None:
    path = store.removeprefix("chdb://")
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.sinks.holder", path, "2.5"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        retries: list[SinkUnavailable] = []
        w = ArchiveWriter(lambda: connect(store), max_backoff_s=0.5, on_retry=retries.append, background=background)
        w.add_many(TOPIC, 0, list(enumerate(encode(TOPIC, [pool_sync(i) for i in range(50)]))))
        w.close()  # blocks, retrying with backoff, until the holder lets go
    finally:
        holder.wait(timeout=30)
        holder.stdout.close()
    assert retries and "in use by process" in str(retries[0])
    assert w.stats.retries == len(retries)
    assert _counts(store) == (50, 50)


def test_one_insert_per_table_holds_every_partition_and_a_retry_is_dropped(store: str) -> None:
    payloads = encode(TOPIC, [pool_sync(i) for i in range(30)])
    for _ in range(2):  # the same batch twice: its token covers every partition's range, so the retry is dropped
        w = ArchiveWriter(lambda: connect(store), max_rows=1_000)
        for part in range(3):
            w.add_chunk(TOPIC, part, list(range(100, 110)), payloads[part * 10 : part * 10 + 10])
        w.close()
        assert (w.stats.inserts, w.stats.rows) == (1, 30)
    assert _counts(store) == (30, 30)
    with session(store) as client:
        _, rows = query_rows(
            client,
            "SELECT kafka_partition, min(kafka_offset), max(kafka_offset), count() FROM pulsearb.market_pool_sync "
            "GROUP BY kafka_partition ORDER BY kafka_partition",
        )
    assert rows == [(0, 100, 109, 10), (1, 100, 109, 10), (2, 100, 109, 10)]


def test_full_batches_are_cut_at_max_rows_across_partitions(store: str) -> None:
    payloads = encode(TOPIC, [pool_sync(i) for i in range(25)])
    w = ArchiveWriter(lambda: connect(store), max_rows=10)
    w.add_chunk(TOPIC, 0, list(range(15)), payloads[:15])
    assert (w.stats.inserts, w.pending) == (1, 5)
    w.add_chunk(TOPIC, 1, list(range(10)), payloads[15:])
    assert (w.stats.inserts, w.pending) == (2, 5)  # partition 0's last 5 + partition 1's first 5 made a batch
    w.close()
    assert (w.stats.inserts, w.stats.rows) == (3, 25)
    assert _counts(store) == (25, 25)


def test_background_writer_stores_what_the_plain_writer_stores(store: str, tmp_path: Path) -> None:
    other = migrated(tmp_path / "other")
    payloads = encode(TOPIC, [pool_sync(i) for i in range(500)])
    for dsn, background in ((store, False), (other, True)):
        w = ArchiveWriter(lambda dsn=dsn: connect(dsn), max_rows=64, background=background)
        for start in range(0, 500, 37):
            w.add_chunk(TOPIC, start % 3, list(range(start, min(start + 37, 500))), payloads[start : start + 37])
        w.flush()  # returns once everything is stored
        assert w.pending == 0 and w.stats.rows == 500
        w.close()
    want = "SELECT kafka_partition, kafka_offset, sequence, reserve0 FROM pulsearb.market_pool_sync ORDER BY ALL"
    with session(store) as client:
        _, plain = query_rows(client, want)
    with session(other) as client:
        _, threaded = query_rows(client, want)
    assert len(plain) == 500 and threaded == plain


def test_background_writer_hands_a_store_error_to_the_caller(store: str) -> None:
    w = ArchiveWriter(lambda: connect(store), database="no_such_db", background=True)
    w.add_chunk(TOPIC, 0, [0], encode(TOPIC, [pool_sync(0)]))
    with pytest.raises(StoreError, match="no_such_db"):
        w.flush()
    with pytest.raises(StoreError):
        w.add_chunk(TOPIC, 0, [1], encode(TOPIC, [pool_sync(1)]))
    with pytest.raises(StoreError):
        w.close()
