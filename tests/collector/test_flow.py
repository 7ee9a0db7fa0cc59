"""The collector flow end to end on the real broker and anvil: ``python -m flows.run`` with the RPC endpoint in the
environment (as ``flows deploy`` runs it) publishes market.pool_state; a cross_dex detector that reads only that
topic (no PoolSync frame anywhere) finds the cross-venue opportunity a large swap makes; a refused pool is a dead
letter; a wrong chain ends the process with one line."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bytewax.testing import run_main

from flows.builders.common import RunEnv
from flows.builders.detector import detector_flow
from flows.relay.protocol import InstrumentId
from flows.spec import load_spec
from ops.control.flowproc import FlowProcess
from ops.simulator.stack.stack import StackInfo
from tests.collector.market import Market, deploy_market
from tests.detector.broker import Topics, consume_all, produce

pytestmark = pytest.mark.integration

COLLECTOR = """\
version: 1
name: t_collector
kind: collector
inputs: {{topics: [{invalidation}], start_offset: earliest}}
collector:
  chain_id: {chain_id}
  factories:
    - {{address: "{f2a}", kind: v2, venue: 400}}
    - {{address: "{f2b}", kind: v2, venue: 401, pool_type: 2}}
    - {{address: "{f3}", kind: v3, venue: 301}}
  pools: ["{eoa}"]
  poll_interval_ms: 100
outputs: {{states: {states}, dlq: {dlq}}}
"""
DETECTOR = """\
version: 1
name: t_cross
kind: detector
inputs: {{topics: [{states}], start_offset: earliest}}
clock: {{type: event, wait_for_system_ms: 600000}}
strategy:
  name: cross_dex
  params:
    chain_id: 31337
    native_token: "{a}"
    base_tokens: ["{b}"]
    gas_price_wei: 1
    min_net_profit: 1
    max_age_blocks: 50
    token_decimals: {{"{a}": 18, "{b}": 6, "{c}": 18}}
    usd_prices: {{"{a}": 2.0, "{b}": 1.0, "{c}": 1.0}}
outputs: {{opportunities: {out}, dlq: {dlq2}}}
"""
EOA = "0x" + "11" * 20


@pytest.fixture(scope="module")
def market(anvil) -> Market:
    return deploy_market(anvil, seed=3)


@pytest.fixture
def topics(broker_stack: StackInfo) -> Iterator[Topics]:
    t = Topics(broker_stack.bootstrap or "", ["market.pool_state", "market.invalidation", "arb.opportunity", "dlq"])
    yield t
    t.delete()


def spec_text(m: Market, topics: Topics, chain_id: int = 31337) -> str:
    return COLLECTOR.format(
        chain_id=chain_id, f2a=m.v2_factories[0], f2b=m.v2_factories[1], f3=m.v3_factory, eoa=EOA,
        invalidation=topics["market.invalidation"], states=topics["market.pool_state"], dlq=topics["dlq"],
    )  # fmt: skip


def wait_for(what, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.2)
    raise TimeoutError


def test_detectors_find_opportunities_on_collector_states_alone(
    broker_stack: StackInfo, anvil, market: Market, topics: Topics, tmp_path: Path
) -> None:
    m, bootstrap = market, broker_stack.bootstrap or ""
    spec = tmp_path / "collector.yaml"
    spec.write_text(spec_text(m, topics))
    proc = FlowProcess(load_spec(spec), bootstrap, tmp_path / "logs", rpc_url=anvil.url)
    proc.start()
    try:
        states = topics["market.pool_state"]
        seeded = wait_for(lambda: len(consume_all(bootstrap, states, "market.pool_state")) >= 5 or None)
        assert seeded
        a_b = m.pairs[:2]  # A/B on venue 400 and on venue 401
        # a large sale of A on venue 400 moves its price away from venue 401's
        block = m.block(lambda mk: mk.v2_swap(a_b[0], True, 10**23))

        def after_swap() -> list[dict]:
            got = consume_all(bootstrap, states, "market.pool_state")
            return [r for r in got if r["pool"] == a_b[0] and r["block_number"] == block]

        [moved] = wait_for(after_swap)
        assert int.from_bytes(moved["reserve0"], "big") == m.chain_state(a_b[0], block).reserve0
        dead = consume_all(bootstrap, topics["dlq"], "dlq.any")
        assert len(dead) == 1 and dead[0]["stage"] == "validate" and EOA in dead[0]["reason"]
        assert "no contract code" in dead[0]["reason"] and dead[0]["raw"] == bytes.fromhex(EOA[2:])
        # an AlphaPulse StateInvalidation of the venue-401 A/B pool (via the bridge's topic) re-seeds that pool
        before = [r for r in consume_all(bootstrap, states, "market.pool_state") if r["pool"] == a_b[1]]
        iid = InstrumentId.pool(401, InstrumentId.token(401, m.tokens["A"]), InstrumentId.token(401, m.tokens["B"]))
        signed = iid.asset_id - (1 << 64) if iid.asset_id >= 1 << 63 else iid.asset_id
        rec = {"source": 4, "sequence": 1, "timestamp_ns": time.time_ns(), "venue": 401, "reason": 1,
               "instruments": [{"asset_id": signed, "venue": 401, "asset_type": 100, "reserved": 0}],
               "tlv_sequence": 1, "event_timestamp_ns": 0, "trace": {}}  # fmt: skip
        produce(bootstrap, [("market.invalidation", "401", rec)], topics)
        again = wait_for(
            lambda: [r for r in consume_all(bootstrap, states, "market.pool_state") if r["pool"] == a_b[1]][
                len(before) :
            ]
        )
        assert [r["pool"] for r in again] == [a_b[1]] and again[0]["block_number"] >= before[-1]["block_number"]
    finally:
        assert proc.stop(30) == 0
    log = proc.log_path.read_text()
    assert f"pool {EOA} refused: no contract code" in log and "Traceback" not in log

    records = consume_all(bootstrap, states, "market.pool_state")
    assert {r["pool"] for r in records} == set(m.pairs) | set(m.pools)
    assert all(r["end_of_block"] for r in records)

    detector = tmp_path / "detector.yaml"
    detector.write_text(
        DETECTOR.format(
            states=states, out=topics["arb.opportunity"], dlq2=f"{topics['dlq']}d", a=m.tokens["A"], b=m.tokens["B"],
            c=m.tokens["C"],
        )
    )  # fmt: skip
    run_main(detector_flow(load_spec(detector), RunEnv(bootstrap=bootstrap), tail=False))
    opportunities = consume_all(bootstrap, topics["arb.opportunity"])
    found = [o for o in opportunities if set(o["pools"]) == set(a_b)]
    assert found, [o["pools"] for o in opportunities]
    assert all(int.from_bytes(o["net_profit"], "big", signed=True) > 0 for o in found)
    # the swap's dislocation, priced on the collector's state of the swap's block
    after = [o for o in found if any(i["pool"] == a_b[0] and i["block_number"] == block for i in o["inputs"])]
    assert after and max(int.from_bytes(o["net_profit"], "big", signed=True) for o in after) > 10**9


def test_a_node_of_another_chain_ends_the_flow_with_one_line(
    broker_stack: StackInfo, anvil, market: Market, topics: Topics, tmp_path: Path
) -> None:
    spec = tmp_path / "collector.yaml"
    spec.write_text(spec_text(market, topics, chain_id=137))
    proc = FlowProcess(load_spec(spec), broker_stack.bootstrap or "", tmp_path / "logs", rpc_url=anvil.url)
    proc.start()
    wait_for(lambda: not proc.alive() or None, 60)
    assert proc.exit_code() == 2
    lines = [ln for ln in proc.log_path.read_text().splitlines() if "error" in ln]
    assert lines == [
        f"pulsearb flow {spec}: error: collector: {anvil.url} is chain 31337, the spec says collector.chain_id 137: "
        "point --rpc-url (PULSEARB_RPC_URL) at chain 137 or fix the spec"
    ]
    assert not consume_all(broker_stack.bootstrap or "", topics["market.pool_state"], "market.pool_state")
