"""Drill (b), detector: kill -9 of a single detector process mid-stream, restart from its recovery directory.

After the restart the flow resumes from its last snapshot, so the updates since then are evaluated again. What is
guaranteed, and asserted: every input update has its opportunity (no gap), each under exactly one id (ids hash the
flow, the pools and the update, so a re-evaluation yields the same id), and the records a replay repeats carry the
same trade as the first (same pools, path and amounts), so collapsing them by id downstream (the risk ledger, the
archive's ReplacingMergeTree) loses nothing. Duplicates on Kafka are expected and counted.

(The deploy manager's variant, a process of a 2-process cluster killed and the cluster restarted by its supervisor,
is tests/deploy/test_deploy_kill.py.)
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from flows.spec import load_spec
from ops.control.flowproc import FlowProcess
from ops.control.kafka_counts import TopicCounter
from ops.control.topics import apply, load_topics
from ops.simulator.stack.stack import StackInfo
from schemas.serde import from_u256
from sinks.kafka import KafkaWriter
from tests.deploy.helpers import USDC, WETH, Pool
from tests.reliability.topics import read_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]

UPDATES = 120  # moving-pool updates, 20 per second
KILL_AFTER = 20  # opportunities out before the kill
STATIC, MOVING = Pool("kill-static", 401, WETH, USDC), Pool("kill-moving", 400, WETH, USDC)
PRICE = 3800.0
SPEC = """\
version: 1
name: kill_cross_dex
kind: detector
inputs: {{topics: [market.pool_sync], start_offset: earliest}}
strategy:
  name: cross_dex
  params:
    chain_id: 137
    native_token: "{weth}"
    gas_units: 150000
    gas_price_wei: 1
    min_net_profit: 1
    max_age_ms: 600000
    max_age_blocks: 1000000
    allowed_lateness_ms: 600000
    venue_fees_bps: {{400: 30, 401: 30}}
outputs: {{opportunities: arb.opportunity, dlq: dlq.kill_cross_dex}}
recovery: {{snapshot_interval_s: 0.2}}
"""


def _stream(writer: KafkaWriter, sent: list[int]) -> None:
    """Every update of the moving pool sits about 2 % away from the static one: one opportunity each."""
    for k in range(UPDATES):
        factor = 1.02 if k % 2 == 0 else 0.98
        writer.produce("market.pool_sync", *MOVING.record(1000.0, 1000.0 * PRICE * factor, 2001 + k, 100 + k))
        writer.flush()
        sent.append(k)
        time.sleep(0.05)


def test_detector_killed_mid_stream_resumes_without_gap(own_broker: StackInfo, tmp_path: Path) -> None:
    boot = own_broker.bootstrap or ""
    spec_path = tmp_path / "kill_cross_dex.yaml"
    spec_path.write_text(SPEC.format(weth=WETH[0]))
    spec = load_spec(spec_path)
    apply(boot, load_topics(specs=[spec]))
    writer = KafkaWriter(boot)
    writer.produce("market.pool_sync", *STATIC.record(1000.0, 1000.0 * PRICE, 2000, 1))
    writer.flush()
    flow = FlowProcess(spec, boot, tmp_path / "logs", recovery_dir=str(tmp_path / "recovery"))
    expected = set(range(2001, 2001 + UPDATES))
    sent: list[int] = []
    try:
        flow.start()
        feeder = threading.Thread(target=_stream, args=(writer, sent))
        feeder.start()
        counter = TopicCounter(boot)
        while counter.count("arb.opportunity") < KILL_AFTER:  # mid-stream: it is reading and emitting
            assert flow.alive() and feeder.is_alive(), flow.tail()
            time.sleep(0.02)
        counter.close()
        flow.kill()
        killed_after = len(sent)
        flow.start()  # same recovery directory: resumes from the last snapshot
        feeder.join()
        deadline = time.monotonic() + 60
        covered: set[int] = set()
        while not covered >= expected and time.monotonic() < deadline:
            assert flow.alive(), flow.tail()
            covered = {b for o in read_all(boot, "arb.opportunity") for b in _blocks(o)}
            time.sleep(0.5)
        assert flow.stop() == 0, flow.tail()
    finally:
        flow.kill()
    outputs = read_all(boot, "arb.opportunity")
    ids_per_update: dict[int, set[str]] = defaultdict(set)
    trades: dict[str, set[tuple]] = defaultdict(set)
    for o in outputs:
        [block] = _blocks(o)
        ids_per_update[block].add(o["id"])
        trades[o["id"]].add(_trade(o))
    copies = Counter(o["id"] for o in outputs)
    print(
        f"sent={UPDATES} (kill -9 after {killed_after} sent, {KILL_AFTER} out) evaluated={len(ids_per_update)} "
        f"records={len(outputs)} distinct_ids={len(copies)} duplicates={len(outputs) - len(copies)} "
        f"lost={len(expected - set(ids_per_update))}"
    )
    assert set(ids_per_update) == expected, f"no opportunity for updates {sorted(expected - set(ids_per_update))}"
    assert all(len(ids) == 1 for ids in ids_per_update.values()), "an update evaluated under two ids"
    assert all(len(t) == 1 for t in trades.values()), "a replayed id carries a different trade"
    assert {o["flow"] for o in outputs} == {"kill_cross_dex"}


def _blocks(opportunity: dict) -> list[int]:
    return [i["block_number"] for i in opportunity["inputs"] if i["pool"] == MOVING.address]


def _trade(o: dict) -> tuple:
    return (tuple(o["pools"]), tuple(o["path"]), from_u256(o["amount_in"]), from_u256(o["amount_out"]))
