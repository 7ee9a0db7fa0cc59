"""The detector flows on the real broker: scripted scenarios give exactly the opportunities the pure functions find.

Each test creates uuid-named topics, produces Avro records to them, runs the detector flow in-process over a finite
``KafkaSource`` (``tail=False``) with one or two workers, and reads ``arb.opportunity`` back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import cluster_main, run_main

from flows.builders.common import RunEnv
from flows.builders.detector import LATE_UPDATES, detector_flow, strategy_params
from flows.spec import load_spec
from ops.simulator.stack.stack import StackInfo
from sinks.kafka import KafkaWriter
from tests.detector import scenarios
from tests.detector.broker import Topics, consume_all, produce
from tests.strategies.factories import USDC, WBTC, WETH

pytestmark = pytest.mark.integration

INPUTS = ("market.pool_sync", "market.quote", "market.trade", "market.gas_price")
PARAMS = {
    "cross_dex": "base_tokens: [{usdc}]",
    "triangular": "base_tokens: [{usdc}, {weth}]\n    gas_units: 220000",
    "cex_dex": (
        "max_age_ms: 500\n    max_quote_age_ms: 500\n    cex_markets:\n"
        '      "102:ETH/USD": {{base: "{weth}", quote: "{usdc}", taker_fee_bps: 5}}'
    ),
}
SPEC = """\
version: 1
name: {name}
kind: detector
inputs: {{topics: [{inputs}], start_offset: earliest}}
clock: {{type: event, wait_for_system_ms: 600000}}
strategy:
  name: {strategy}
  params:
    chain_id: 137
    native_token: "{weth}"
    gas_price_wei: 2000000
    gas_venue: 137
    gas_price_scale: [1, 15000]
    max_age_blocks: 5
    usd_prices: {{"{usdc}": 1.0, "{weth}": 3000.0, "{wbtc}": 100000.0}}
    token_decimals: {{"{usdc}": 6, "{weth}": 18, "{wbtc}": 8}}
    {params}
outputs: {{opportunities: {out}, dlq: {dlq}}}
"""


@pytest.fixture
def topics(broker_stack: StackInfo) -> Iterator[Topics]:
    t = Topics(broker_stack.bootstrap or "", [*INPUTS, "arb.opportunity", "dlq"], {"market.gas_price": 1})
    yield t
    t.delete()


def write_spec(path: Path, topics: Topics, strategy: str, name: str | None = None) -> Path:
    text = SPEC.format(
        name=name or f"t_{strategy}",
        strategy=strategy,
        inputs=", ".join(topics[t] for t in INPUTS),
        out=topics["arb.opportunity"],
        dlq=topics["dlq"],
        usdc=USDC,
        weth=WETH,
        wbtc=WBTC,
        params=PARAMS[strategy].format(usdc=USDC, weth=WETH),
    )
    path.write_text(text)
    return path


def run(bootstrap: str, spec_path: Path, workers: int = 1, recovery: Path | None = None) -> None:
    flow = detector_flow(load_spec(spec_path), RunEnv(bootstrap=bootstrap), tail=False)
    config = RecoveryConfig(str(recovery)) if recovery else None
    if workers == 1:
        run_main(flow, recovery_config=config)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers, recovery_config=config)


def _by_id(records: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in records:
        assert out.setdefault(r["id"], r) == r, f"id {r['id']} emitted twice with different content"
    return out


def _summary(o) -> tuple:
    return (o.pools, o.path, o.amount_in, o.amount_out, o.gas_cost, o.net_profit)


def _record_summary(r: dict) -> tuple:
    big = lambda raw: int.from_bytes(raw, "big", signed=False)  # noqa: E731
    net = int.from_bytes(r["net_profit"], "big", signed=True)
    return (tuple(r["pools"]), tuple(r["path"]), big(r["amount_in"]), big(r["amount_out"]), big(r["gas_cost"]), net)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("strategy", ["cross_dex", "triangular"])
def test_dex_strategies_find_exactly_the_expected_opportunities(
    broker_stack: StackInfo, topics: Topics, tmp_path: Path, strategy: str, workers: int
) -> None:
    bootstrap = broker_stack.bootstrap or ""
    items = scenarios.dex_rounds(rounds=6)
    produce(bootstrap, items, topics)
    spec = write_spec(tmp_path / "spec.yaml", topics, strategy)
    want = scenarios.expected(items, strategy, strategy_params(load_spec(spec)))
    run(bootstrap, spec, workers)
    got = _by_id(consume_all(bootstrap, topics["arb.opportunity"]))
    assert len(want) >= 5, "the scenario must dislocate"
    assert set(got) == set(want)
    assert {i: _record_summary(r) for i, r in got.items()} == {i: _summary(o) for i, o in want.items()}
    assert all(
        r["strategy"] == strategy and r["trace"]["detect_out_ns"] >= r["trace"]["detect_in_ns"] for r in got.values()
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_cex_dex_finds_exactly_the_expected_opportunities(
    broker_stack: StackInfo, topics: Topics, tmp_path: Path, workers: int
) -> None:
    bootstrap = broker_stack.bootstrap or ""
    items = scenarios.cex_rounds(rounds=8)
    produce(bootstrap, items, topics)
    spec = write_spec(tmp_path / "spec.yaml", topics, "cex_dex")
    want = scenarios.expected(items, "cex_dex", strategy_params(load_spec(spec)))
    run(bootstrap, spec, workers)
    got = _by_id(consume_all(bootstrap, topics["arb.opportunity"]))
    assert len(want) >= 3 and {r["venues"][0] for r in got.values()} == {102, 400, 401}
    assert {i: _record_summary(r) for i, r in got.items()} == {i: _summary(o) for i, o in want.items()}


def test_gas_price_from_the_chain_costs_opportunities_and_survives_a_restart(
    broker_stack: StackInfo, topics: Topics, tmp_path: Path
) -> None:
    bootstrap = broker_stack.bootstrap or ""
    spec = write_spec(tmp_path / "spec.yaml", topics, "cross_dex")
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    init_db_dir(recovery, 1)
    gas = [("market.gas_price", "137", scenarios.gas_record(300_000, 999, 1, scenarios.T0 - 1))]
    produce(bootstrap, gas, topics)
    run(bootstrap, spec, recovery=recovery)  # learns the gas price, snapshots it at the end
    items = scenarios.dex_rounds(rounds=4)
    produce(bootstrap, items, topics)
    run(bootstrap, spec, recovery=recovery)  # resumes after the gas record
    params = strategy_params(load_spec(spec))
    want = scenarios.expected(items, "cross_dex", params, gas_gwei=300_000)
    got = _by_id(consume_all(bootstrap, topics["arb.opportunity"]))
    assert {i: _record_summary(r) for i, r in got.items()} == {i: _summary(o) for i, o in want.items()}
    assert {int.from_bytes(r["gas_price_wei"], "big") for r in got.values()} == {300_000 * 10**9 // 15000}
    # 3,000,000 gwei of POL (about $9 a swap) costs more than some opportunities make: fewer survive.
    assert len(want) < len(scenarios.expected(items, "cross_dex", params))


def test_bad_records_are_dead_lettered_and_late_updates_left_out(
    broker_stack: StackInfo, topics: Topics, tmp_path: Path
) -> None:
    bootstrap = broker_stack.bootstrap or ""
    spec_path = tmp_path / "spec.yaml"
    write_spec(spec_path, topics, "cross_dex", name="t_late")
    spec_path.write_text(spec_path.read_text().replace("wait_for_system_ms: 600000", "wait_for_system_ms: 1000"))
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    init_db_dir(recovery, 1)
    produce(bootstrap, scenarios.dex_rounds(rounds=1, first_round=100), topics)  # event time T0 + 100 s
    run(bootstrap, spec_path, recovery=recovery)
    # A new pool of a known pair, 90 s behind that pair's newest update in event time (the lateness is 1 s).
    address = "0x" + "ee" * 20
    late = scenarios.sync_record(address, 403, USDC, WETH, 10**12, 10**21, 11_000, 99_999, scenarios.T0 + 10**10)
    produce(bootstrap, [("market.pool_sync", address, late)], topics)
    writer = KafkaWriter(bootstrap)
    writer.produce(topics["market.pool_sync"], b"0xbad", b"not avro")
    writer.flush()
    before = LATE_UPDATES.labels("t_late")._value.get()
    run(bootstrap, spec_path, recovery=recovery)
    dead = consume_all(bootstrap, topics["dlq"], schema_topic="dlq.x")
    assert [(d["stage"], d["raw"], d["source_topic"]) for d in dead] == [
        ("decode", b"not avro", topics["market.pool_sync"])
    ]
    assert LATE_UPDATES.labels("t_late")._value.get() - before == 1
    got = consume_all(bootstrap, topics["arb.opportunity"])
    assert got and all(i["pool"] != address for r in got for i in r["inputs"])


def test_state_size_gauges_count_the_keys_held(broker_stack: StackInfo, topics: Topics, tmp_path: Path) -> None:
    from prometheus_client import REGISTRY

    bootstrap = broker_stack.bootstrap or ""
    items = scenarios.dex_rounds(rounds=2) + scenarios.cex_rounds(rounds=2)
    produce(bootstrap, items, topics)
    name = "t_state_size"
    run(bootstrap, write_spec(tmp_path / "spec.yaml", topics, "cex_dex", name=name), 1)

    def held(step: str) -> float | None:
        return REGISTRY.get_sample_value("pulsearb_state_size", {"flow": name, "step": step})

    assert held("pool_state") == len({key for topic, key, _ in items if topic == "market.pool_sync"})
    assert held("cex_state") == len({key for topic, key, _ in items if topic != "market.pool_sync"})
    # One open window per join key at least (the input's end closes none: they are kept for a resume).
    assert 1 <= (held("join") or 0) <= len(items)


@pytest.mark.parametrize("strategy", ["cross_dex", "triangular"])
def test_a_detector_with_a_hold_finds_exactly_the_expected_opportunities(
    broker_stack: StackInfo, topics: Topics, tmp_path: Path, strategy: str
) -> None:
    """The event-order steps (``pool_order``) and the join's hold in the real dataflow, two workers: what a run in
    event order finds, each id once; the end of the input releases what is still held."""
    bootstrap = broker_stack.bootstrap or ""
    items = scenarios.dex_rounds(rounds=6)
    produce(bootstrap, items, topics)
    spec = write_spec(tmp_path / "spec.yaml", topics, strategy)
    spec.write_text(spec.read_text().replace("wait_for_system_ms: 600000}", "wait_for_system_ms: 600000, hold_ms: 50}"))
    assert load_spec(spec).clock.hold_ms == 50
    want = scenarios.expected(items, strategy, strategy_params(load_spec(spec)))
    run(bootstrap, spec, workers=2)
    got = _by_id(consume_all(bootstrap, topics["arb.opportunity"]))
    assert len(want) >= 5, "the scenario must dislocate"
    assert {i: _record_summary(r) for i, r in got.items()} == {i: _summary(o) for i, o in want.items()}
