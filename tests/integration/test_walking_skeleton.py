"""End to end on the real stack: relay -> bridge -> Kafka -> detector -> archive -> ClickHouse, exact counts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from flows.builders.detector import strategy_params
from flows.pools import PoolState
from flows.spec import load_specs
from flows.strategies import cross_dex
from ops.control.kafka_counts import TopicCounter
from ops.simulator.market import model
from ops.simulator.pipeline import Pipeline
from ops.simulator.stack.stack import StackInfo
from sinks.clickhouse import query_rows, session

pytestmark = pytest.mark.integration

BLOCKS = 60  # 6 pools -> 360 PoolSync frames


def _state(e: model.MarketEvent, fee_bps: int) -> PoolState:
    t0, t1 = e.pool.tokens
    return PoolState(
        pool=e.pool.address,
        venue=e.pool.venue,
        token0=t0.address,
        token1=t1.address,
        token0_decimals=t0.decimals,
        token1_decimals=t1.decimals,
        reserve0=e.reserve0,
        reserve1=e.reserve1,
        fee_bps=fee_bps,
        block_number=e.block_number,
        source=4,
        sequence=0,
        timestamp_ns=0,
    )


def test_relay_to_clickhouse_exact_counts(broker_stack: StackInfo, stack_home: Path) -> None:
    events = list(model.generate(BLOCKS, seed=11, shock_probability=0.15))
    pipeline = Pipeline(broker_stack, stack_home, load_specs())
    try:
        pipeline.start()
        stats = pipeline.feed([(e.offset_ns, e.frame) for e in events], speed=0)
        assert stats.frames == len(events)
        assert pipeline.wait_for("market.pool_sync", len(events), timeout_s=180), pipeline.describe()
    finally:
        codes = pipeline.stop()
    # Counted after the stop: detectors drain their inputs before exiting, so every opportunity is on Kafka now.
    counter = TopicCounter(broker_stack.bootstrap or "")
    on_kafka = counter.counts(("market.pool_sync", "arb.opportunity", "dlq.relay"))
    counter.close()
    assert all(code == 0 for code in codes.values()), codes
    print(f"sent={stats.frames} kafka={on_kafka}")

    # Nothing lost, nothing twice: frames sent == records on Kafka == rows in ClickHouse.
    assert on_kafka["market.pool_sync"] == len(events)
    assert on_kafka["dlq.relay"] == 0
    with session(broker_stack.store_dsn) as client:
        _, rows = query_rows(client, "SELECT count(), uniqExact(pool, sequence) FROM pulsearb.market_pool_sync")
        assert rows[0] == (len(events), len(events))
        _, rows = query_rows(client, "SELECT count() FROM pulsearb.arb_opportunity")
        assert rows[0][0] == on_kafka["arb.opportunity"]
        assert on_kafka["arb.opportunity"] > 0, "the shocked market must dislocate"
        _, archived = query_rows(
            client,
            "SELECT id, pools, amount_in, amount_out, token_in, "
            "arrayMap(i -> (i.1, i.2), inputs) FROM pulsearb.arb_opportunity WHERE strategy = 'cross_dex'",
        )
        _, reserves = query_rows(
            client,
            "SELECT pool, block_number, toString(reserve0), toString(reserve1) FROM pulsearb.market_pool_sync",
        )
    # The archived reserves are the ones sent, to the unit.
    sent = {(e.pool.address, e.block_number): (e.reserve0, e.reserve1) for e in events}
    assert {(p, b): (int(r0), int(r1)) for p, b, r0, r1 in reserves} == sent

    # Every archived opportunity re-derives exactly from the pool states it names.
    spec = next(s for s in load_specs() if s.name == "cross_dex")
    params = strategy_params(spec)
    by_key = {(e.pool.address, e.block_number): e for e in events}
    for opp_id, pools, amount_in, amount_out, token_in, inputs in archived:
        states = [_state(by_key[(p, b)], params.fee_for(p, by_key[(p, b)].pool.venue)) for p, b in inputs]
        # The same cycle started in the other token lists its pools the other way round: start where it started.
        again = cross_dex.evaluate(states, dataclasses.replace(params, base_tokens=(token_in,)), now_ns=0)
        match = [o for o in again if o.pools == tuple(pools)]
        assert match, f"opportunity {opp_id} does not re-derive from its inputs {inputs}: {pools} got {again}"
        assert (match[0].amount_in, match[0].amount_out) == (int(amount_in), int(amount_out))
