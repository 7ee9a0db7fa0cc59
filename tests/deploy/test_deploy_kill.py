"""`pulsearb flows deploy` on a real broker: two detector flows, one a 2-process cluster; kill -9 one of its
processes mid-stream; the supervisor brings the cluster back and the outputs have no gap and no duplicate.

The input is shaped so the expected output is exact: each token pair has one static pool (written before the flows
start) and one moving pool whose every update is dislocated from it by about 2 %, so every moving update yields
exactly one opportunity, whose id hashes the flow, the pools and the update. Natural key of an output: (flow,
moving pool, block). Replays after the restart re-emit some of them with the same id (at-least-once, deduplicated
by id downstream); no key may be missing and none may have two different ids.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest

from flows.builders import detector
from ops.control import record
from ops.simulator.stack.process import pid_alive
from ops.simulator.stack.stack import StackInfo
from sinks.kafka import KafkaWriter
from tests.deploy.helpers import USDC, WBTC, WETH, Pool, cli, read_topic

pytestmark = pytest.mark.integration

UPDATES = 80  # moving-pool updates per pair, 20 per second: 4 s of stream
KILL_AFTER = 25  # updates per pair sent before the kill
JOIN = "join" in getattr(detector, "SECTIONS", ())  # does the detector builder apply join.pairs yet?
PAIRS = {
    "weth_usdc": (Pool("weth-usdc-static", 401, WETH, USDC), Pool("weth-usdc-moving", 400, WETH, USDC), 3800.0),
    "weth_wbtc": (Pool("weth-wbtc-static", 401, WETH, WBTC), Pool("weth-wbtc-moving", 400, WETH, WBTC), 0.05),
}
FLOWS = {"arb_weth_usdc": ("weth_usdc", 2), "arb_weth_wbtc": ("weth_wbtc", 1)}  # flow -> (its pair, processes)

SPEC = """\
version: 1
name: {name}
kind: detector
inputs: {{topics: [market.pool_sync], start_offset: earliest}}
{join}strategy:
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
outputs: {{opportunities: arb.opportunity, dlq: dlq.{name}}}
recovery: {{snapshot_interval_s: 0.2}}
"""
TOPICS = """\
defaults: {partitions: 1, replication_factor: 1, config: {retention.ms: "3600000"}}
dlq: {partitions: 1}
topics: {market.pool_sync: {}, arb.opportunity: {}}
"""


@dataclass
class Run:
    """What the scenario observed."""

    outputs: list[dict[str, Any]]
    killed_pid: int
    before: record.FlowRecord
    after: dict[str, record.FlowRecord]
    status: list[dict[str, Any]]
    stopped: dict[str, record.FlowRecord]
    leftovers: list[int] = field(default_factory=list)


def _spec(name: str, pair: str) -> str:
    static, _moving, _price = PAIRS[pair]
    join = f"join: {{pairs: [['{static.a[0]}', '{static.b[0]}']]}}\n" if JOIN else ""
    return SPEC.format(name=name, join=join, weth=WETH[0])


def _stream(writer: KafkaWriter, sent: list[int]) -> None:
    for k in range(UPDATES):
        for _static, moving, price in PAIRS.values():
            factor = 1.02 if k % 2 == 0 else 0.98
            writer.produce("market.pool_sync", *moving.record(1000.0, 1000.0 * price * factor, 2001 + k, 100 + k))
        writer.flush()
        sent.append(k)
        time.sleep(0.05)


def _covered(outputs: list[dict[str, Any]]) -> dict[tuple[str, str], set[int]]:
    moving = {m.address: pair for pair, (_s, m, _p) in PAIRS.items()}
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for o in outputs:
        for i in o["inputs"]:
            if i["pool"] in moving:
                seen[(o["flow"], moving[i["pool"]])].add(i["block_number"])
    return seen


def _expected() -> dict[tuple[str, str], set[int]]:
    blocks = set(range(2001, 2001 + UPDATES))
    return {(f, p): blocks for f, (own, _n) in FLOWS.items() for p in (PAIRS if not JOIN else [own])}


@pytest.fixture(scope="module")
def run(own_broker: StackInfo, tmp_path_factory: pytest.TempPathFactory) -> Run:
    home = tmp_path_factory.mktemp("deploy-home")
    root = home / "deploy"
    boot = own_broker.bootstrap or ""
    specs = {}
    for name, (pair, _n) in FLOWS.items():
        specs[name] = home / f"{name}.yaml"
        specs[name].write_text(_spec(name, pair))
    (home / "topics.yaml").write_text(TOPICS)
    applied = cli(
        home,
        "topics",
        "apply",
        "--bootstrap",
        boot,
        "--file",
        str(home / "topics.yaml"),
        "--specs",
        *map(str, specs.values()),
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "created   dlq.arb_weth_usdc" in applied.stdout  # derived from the spec, not listed in the file

    writer = KafkaWriter(boot)
    for i, (static, _m, price) in enumerate(PAIRS.values()):
        writer.produce("market.pool_sync", *static.record(1000.0, 1000.0 * price, 2000, 1 + i))
    writer.flush()

    for name, (_pair, n) in FLOWS.items():
        deployed = cli(
            home,
            "flows",
            "deploy",
            "--bootstrap",
            boot,
            "--specs",
            str(specs[name]),
            "--processes",
            str(n),
            "--root",
            str(root),
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        print(deployed.stdout.strip())
    time.sleep(1.0)  # the static pools are in the join state before any moving update

    sent: list[int] = []
    feeder = threading.Thread(target=_stream, args=(writer, sent))
    feeder.start()
    while len(sent) < KILL_AFTER:
        time.sleep(0.02)
    before = record.read_all(root)["arb_weth_usdc"]
    victim = before.processes[1].pid
    assert victim and pid_alive(victim)
    os.kill(victim, signal.SIGKILL)
    print(f"kill -9 {victim} (process 1 of arb_weth_usdc) after {len(sent)} of {UPDATES} updates per pair")
    feeder.join()

    deadline = time.monotonic() + 90
    outputs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        outputs = read_topic(boot, "arb.opportunity")
        covered = _covered(outputs)
        if all(covered.get(k, set()) >= v for k, v in _expected().items()):
            break
        time.sleep(0.5)
    after = record.read_all(root)
    status = cli(home, "flows", "status", "--root", str(root), "--json")
    stop = cli(home, "flows", "stop", "--root", str(root))
    assert stop.returncode == 0, stop.stdout + stop.stderr
    stopped = record.read_all(root)
    pids = [p for r in after.values() for p in [r.supervisor_pid] + [x.pid for x in r.processes] if p]
    return Run(
        outputs=read_topic(boot, "arb.opportunity"),
        killed_pid=victim,
        before=before,
        after=after,
        status=json.loads(status.stdout or "[]"),
        stopped=stopped,
        leftovers=[p for p in pids if pid_alive(p)],
    )


def test_killed_process_comes_back_with_no_gap_and_no_duplicate(run: Run) -> None:
    by_flow = Counter(o["flow"] for o in run.outputs)
    ids = {f: {o["id"] for o in run.outputs if o["flow"] == f} for f in FLOWS}
    covered = _covered(run.outputs)
    expected = _expected()
    for f in FLOWS:
        print(f"{f}: records {by_flow[f]}, distinct ids {len(ids[f])}, replayed duplicates {by_flow[f] - len(ids[f])}")

    # It came back: the supervisor restarted the whole 2-process cluster on new pids; the other flow never stopped.
    cluster = run.after["arb_weth_usdc"]
    assert cluster.restarts >= 1 and cluster.last_exit == -signal.SIGKILL
    assert all(p.pid and p.pid != run.killed_pid for p in cluster.processes)
    assert run.after["arb_weth_wbtc"].restarts == 0
    healthy = {s["record"]["name"]: s["healthy"] for s in run.status}
    assert healthy == {"arb_weth_usdc": True, "arb_weth_wbtc": True}, run.status

    # No gap: every moving update of every pair the flow watches has its opportunity.
    for key, blocks in expected.items():
        missing = sorted(blocks - covered.get(key, set()))
        assert not missing, f"{key}: no opportunity for blocks {missing[:10]}"
    # No duplicate: one id per natural key (replays carry the same id), nothing unexpected.
    per_key: dict[tuple[str, str, int], set[str]] = defaultdict(set)
    moving = {m.address: pair for pair, (_s, m, _p) in PAIRS.items()}
    for o in run.outputs:
        [(pool, block)] = [(i["pool"], i["block_number"]) for i in o["inputs"] if i["pool"] in moving]
        per_key[(o["flow"], moving[pool], block)].add(o["id"])
    assert all(len(v) == 1 for v in per_key.values()), {k: v for k, v in per_key.items() if len(v) > 1}
    assert len(per_key) == sum(len(v) for v in expected.values())

    # Stopped cleanly: recorded as stopped, no process left behind.
    assert {r.state for r in run.stopped.values()} == {"stopped"} and run.leftovers == []


def test_two_detector_specs_each_emit_only_their_pairs(run: Run) -> None:
    ids = {f: {o["id"] for o in run.outputs if o["flow"] == f} for f in FLOWS}
    assert ids["arb_weth_usdc"] and ids["arb_weth_wbtc"]
    assert not ids["arb_weth_usdc"] & ids["arb_weth_wbtc"], "the flow name is part of every id"
    if not JOIN:
        pytest.xfail("flows/builders/detector.py does not apply join.pairs yet (no SECTIONS with 'join')")
    pairs = {f: {o["pair"] for o in run.outputs if o["flow"] == f} for f in FLOWS}
    want = {f: {"/".join(sorted((PAIRS[p][0].a[0], PAIRS[p][0].b[0])))} for f, (p, _n) in FLOWS.items()}
    assert pairs == want
