"""Each hop's pool kind travels from the strategy to the executor: set where opportunities are assembled, carried by
``arb.opportunity`` (schema v2), read as all V2 from records written before it."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import fastavro

from flows.amm.v3 import load_state_file
from flows.opportunity import from_record, to_record
from flows.pools import PoolState
from flows.strategies.assemble import pool_kind
from schemas.serde import HISTORY_DIR, MAGIC, codec, load_schema_file
from schemas.serde import _fingerprint as fingerprint  # the writer fingerprint a single-object payload carries
from tests.risk.factories import POOL_A, POOL_B, USDC, WETH, make_opportunity

V3_STATE = load_state_file(Path(__file__).resolve().parents[1] / "data" / "ethereum" / "v3_wbtc_weth_state.json")


def _state(pool: str, v3: bool) -> PoolState:
    return PoolState(pool, 300, USDC, WETH, 6, 18, 10**12, 10**21, 30, 1, 4, 1, 1, v3=V3_STATE if v3 else None)


def test_the_kind_of_an_input_is_v3_when_it_carries_v3_state() -> None:
    assert pool_kind(_state(POOL_A, v3=False)) == "v2"
    assert pool_kind(_state(POOL_B, v3=True)) == "v3"
    assert pool_kind(object()) == "cex"  # a CEX quote


def test_kinds_survive_the_topic() -> None:
    opp = make_opportunity(kinds=("v3", "v2"))
    topic = codec("arb.opportunity")
    back = from_record(topic.decode(topic.encode(to_record(opp))))
    assert back.kinds == ("v3", "v2") and back == opp


def test_a_record_written_before_kinds_reads_as_all_v2() -> None:
    old = load_schema_file(HISTORY_DIR / "arb.opportunity" / "v1.avsc")
    record = {k: v for k, v in to_record(make_opportunity(kinds=("v3", "v2"))).items() if k != "kinds"}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, old, record)
    topic = codec("arb.opportunity")
    header = MAGIC + fingerprint(old)
    back = from_record(topic.decode(header + body.getvalue()))
    assert back.kinds == () and back.hop_kinds == ("v2", "v2")
    assert replace(back, kinds=("v3", "v2")) == make_opportunity(kinds=("v3", "v2"))
