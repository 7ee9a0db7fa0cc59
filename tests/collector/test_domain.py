"""The collector's pure domain: log decoding, exact state application, block window and reorg decisions, seeding
plans, configuration problems, and the layering rule (no web3, Kafka or Bytewax below flows/collector)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from eth_abi import encode

from flows.amm.v3.pool import V3PoolState
from flows.amm.v3.tick_math import get_sqrt_ratio_at_tick
from flows.collector.abi import (
    BURN,
    INITIALIZE,
    MINT,
    PAIR_CREATED,
    POOL_CREATED,
    SWAP,
    SYNC,
    Burn,
    Initialize,
    Mint,
    PairCreated,
    PoolCreated,
    RawLog,
    Swap,
    Sync,
    decode_log,
    raw_log,
)
from flows.collector.config import parse_config
from flows.collector.records import pool_state_record
from flows.collector.seed import FactoryConfig, Probe, Refusal, bitmap_words, classify, ticks_of_words, verified
from flows.collector.state import Inconsistent, PoolInfo, V2State, V3State, apply_event, differences
from flows.collector.window import BlockRef, BlockWindow, Discontinuity, chain_breaks, fork_point
from flows.spec.problems import yaml_lines
from schemas.serde import codec

POOL = "0x" + "ab" * 20
OWNER = "0x" + "0c" * 20


def topic_int(value: int) -> str:
    return "0x" + (value % 2**256).to_bytes(32, "big").hex()


def topic_addr(addr: str) -> str:
    return "0x" + "00" * 12 + addr[2:]


def log(topics: list[str], data: bytes, block: int = 5, index: int = 0) -> RawLog:
    return RawLog(POOL, tuple(topics), data, block, "0x" + "01" * 32, index)


# --- decoding -------------------------------------------------------------------------------------------------


def test_every_event_decodes_from_its_abi_encoding() -> None:
    assert decode_log(log([SYNC], encode(["uint112", "uint112"], [7, 2**112 - 1]))) == Sync(7, 2**112 - 1)
    swap = encode(["int256", "int256", "uint160", "uint128", "int24"], [-5, 9, 2**96, 10**20, -887272])
    assert decode_log(log([SWAP, topic_addr(OWNER), topic_addr(OWNER)], swap)) == Swap(-5, 9, 2**96, 10**20, -887272)
    mint = encode(["address", "uint128", "uint256", "uint256"], [OWNER, 123, 4, 5])
    topics = [MINT, topic_addr(OWNER), topic_int(-120), topic_int(60)]
    assert decode_log(log(topics, mint)) == Mint(OWNER, -120, 60, 123)
    burn = encode(["uint128", "uint256", "uint256"], [0, 0, 0])
    assert decode_log(log([BURN, topic_addr(OWNER), topic_int(-120), topic_int(60)], burn)) == Burn(OWNER, -120, 60, 0)
    init = encode(["uint160", "int24"], [2**96, 0])
    assert decode_log(log([INITIALIZE], init)) == Initialize(2**96, 0)
    pair = encode(["address", "uint256"], [POOL, 3])
    assert decode_log(log([PAIR_CREATED, topic_addr(OWNER), topic_addr(POOL)], pair)) == PairCreated(OWNER, POOL, POOL)
    created = encode(["int24", "address"], [60, POOL])
    got = decode_log(log([POOL_CREATED, topic_addr(OWNER), topic_addr(POOL), topic_int(3000)], created))
    assert got == PoolCreated(OWNER, POOL, 3000, 60, POOL)


def test_logs_without_the_events_shape_are_not_decoded() -> None:
    assert decode_log(log([SYNC], encode(["uint256", "uint256"], [2**112, 1]))) is None  # above uint112
    assert decode_log(log([SYNC], b"\x00" * 63)) is None
    bad_tick = encode(["int256", "int256", "uint160", "uint128", "int256"], [1, 1, 2**96, 1, 2**23])
    assert decode_log(log([SWAP, topic_addr(OWNER), topic_addr(OWNER)], bad_tick)) is None
    assert decode_log(log([MINT, topic_addr(OWNER), topic_int(2**23), topic_int(60)], b"\x00" * 128)) is None
    assert decode_log(log(["0x" + "00" * 32], b"")) is None and decode_log(log([], b"")) is None


def test_raw_log_reads_the_nodes_json() -> None:
    obj = {"address": "0xAB" + "ab" * 19, "topics": ["0x" + "AA" * 32], "data": "0x0102", "blockNumber": "0x10",
           "blockHash": "0x" + "BB" * 32, "logIndex": "0x3", "removed": False}  # fmt: skip
    assert raw_log(obj) == RawLog(POOL, ("0x" + "aa" * 32,), b"\x01\x02", 16, "0x" + "bb" * 32, 3)


# --- state application ----------------------------------------------------------------------------------------


def v3(tick: int = 0, liquidity: int = 0) -> V3State:
    return V3State(get_sqrt_ratio_at_tick(tick), tick, liquidity)


def test_mint_and_burn_follow_modify_position() -> None:
    s = v3(tick=5)
    assert apply_event(s, Mint(OWNER, -60, 60, 100)) is True  # spans the tick: active
    assert (s.liquidity, s.ticks) == (100, {-60: (100, 100), 60: (100, -100)})
    apply_event(s, Mint(OWNER, 60, 120, 100))  # adjacent, equal: 60 stays initialized with net 0
    assert s.ticks[60] == (200, 0) and s.liquidity == 100  # out of range: the active liquidity does not move
    assert s.net_map() == {-60: 100, 60: 0, 120: -100}
    apply_event(s, Burn(OWNER, -60, 60, 40))
    assert s.ticks[-60] == (60, 60) and s.ticks[60] == (160, 40) and s.liquidity == 60
    assert apply_event(s, Burn(OWNER, 60, 120, 0)) is False  # a poke changes nothing
    apply_event(s, Burn(OWNER, -60, 60, 60))
    assert s.ticks == {60: (100, 100), 120: (100, -100)}  # gross 0: cleared
    # the lower bound is inclusive, the upper exclusive: tick == upper is out of range
    s = v3(tick=60)
    apply_event(s, Mint(OWNER, 0, 60, 7))
    apply_event(s, Mint(OWNER, 60, 120, 9))
    assert s.liquidity == 9


def test_swap_sets_price_tick_and_liquidity_absolutely_and_sync_sets_reserves() -> None:
    s = v3(tick=0, liquidity=5)
    s.ticks[60] = (1, 1)
    assert apply_event(s, Swap(1, -1, 2**96 + 7, 123, 61)) is False
    assert (s.sqrt_price_x96, s.tick, s.liquidity, s.ticks) == (2**96 + 7, 61, 123, {60: (1, 1)})
    apply_event(s, Initialize(2**95, -13863))
    assert (s.sqrt_price_x96, s.tick) == (2**95, -13863)
    r = V2State(1, 2)
    apply_event(r, Sync(10, 20))
    apply_event(r, Swap(1, 1, 2**96, 1, 1))  # not a V2 event: nothing
    assert r == V2State(10, 20)


def test_a_burn_the_state_cannot_hold_is_inconsistent() -> None:
    s = v3(tick=0)
    apply_event(s, Mint(OWNER, -60, 60, 10))
    with pytest.raises(Inconsistent):
        apply_event(s, Burn(OWNER, -60, 60, 11))


def test_differences_name_every_field_that_differs() -> None:
    a, b = v3(0, 5), v3(0, 5)
    a.ticks[60], b.ticks[60] = (2, 0), (2, 1)
    assert differences("p", a, b) == ["p: tick 60 (gross, net) (2, 0), chain (2, 1)"]
    assert differences("p", V2State(1, 2), V2State(1, 2)) == []
    assert differences("p", V2State(1, 2), a) == ["p: held a V2State, the chain has a V3State"]


def test_published_state_swaps_like_the_pool_with_its_zero_net_tick() -> None:
    """A tick initialized with net 0 stays in the published map: the swap loop stops there, as the pool's does."""
    s = v3(tick=5)
    apply_event(s, Mint(OWNER, -60, 60, 10**18))
    apply_event(s, Mint(OWNER, 60, 120, 10**18))
    info = PoolInfo(POOL, "v3", "0xf", 301, 1, "0x" + "01" * 20, "0x" + "02" * 20, 18, 18, 3000, 60)
    rec = pool_state_record(info, s, block_number=9, block_timestamp_s=2, with_ticks=True, source=62, sequence=1,
                            now_ns=3)  # fmt: skip
    assert codec("market.pool_state").decode(codec("market.pool_state").encode(rec)) == rec
    held = V3PoolState(s.sqrt_price_x96, s.tick, s.liquidity, 3000, 60, s.net_map())
    assert 60 in held.ticks and held.ticks[60] == 0
    out, after = held.swap_exact_in(10**17, zero_for_one=False)
    assert out > 0 and after.tick > 60  # crossed the zero-net tick
    rec = pool_state_record(info, V3State(2**96, 0, 0), block_number=9, block_timestamp_s=2, with_ticks=True,
                            source=62, sequence=2, now_ns=3)  # fmt: skip
    assert rec["ticks"] == []  # an empty map goes as "unchanged": no liquidity either way


# --- window ---------------------------------------------------------------------------------------------------


def ref(n: int, tag: str = "a") -> BlockRef:
    return BlockRef(n, f"0x{tag}{n}", f"0x{tag}{n - 1}")


def test_window_accepts_only_children_and_rolls_back_to_the_fork() -> None:
    w = BlockWindow(size=4)
    w.reset(ref(10))
    for n in range(11, 15):
        w.push(ref(n), {f"pool{n}"})
    assert w.numbers() == [11, 12, 13, 14] and w.head == (14, "0xa14")
    with pytest.raises(Discontinuity):
        w.push(ref(15, "b"))
    assert fork_point(w, {12: "0xa12", 13: "0xb13", 14: "0xb14"}) == 12
    assert w.rollback(12) == {"pool13", "pool14"} and w.head == (12, "0xa12")
    assert fork_point(w, {11: "0xb11", 12: "0xb12"}) is None  # deeper than the window
    assert chain_breaks((12, "0xa12"), [ref(13), ref(14)]) is False
    assert chain_breaks((12, "0xa12"), [ref(13), ref(14, "b")]) is True


# --- seeding --------------------------------------------------------------------------------------------------


def test_bitmap_words_cover_the_tick_range_and_bits_become_ticks() -> None:
    assert bitmap_words(60) == range(-58, 58) and bitmap_words(1) == range(-3466, 3466)
    assert ticks_of_words({-1: 1 << 255 | 1, 0: 1 << 3}, 60) == [-256 * 60, -60, 180]


def word(value: int, size: int = 32) -> bytes:
    return value.to_bytes(size, "big")


def test_classify_refuses_what_is_not_a_pool_of_a_configured_factory() -> None:
    factory = "0x" + "fa" * 20
    t0, t1 = "0x" + "01" * 20, "0x" + "02" * 20
    configured = {factory: FactoryConfig(factory, "v2", 400)}
    addr = lambda a: word(int(a, 16))  # noqa: E731
    v2 = [addr(t0), addr(t1), addr(factory), word(5) + word(6) + word(7), None, None, None]
    assert classify(POOL, b"\x60", v2, configured) == Probe(POOL, "v2", configured[factory], t0, t1)
    assert "no contract code" in classify(POOL, b"", v2, configured).reason  # type: ignore[union-attr]
    assert "does not answer like" in classify(POOL, b"\x60", [None] * 7, configured).reason  # type: ignore[union-attr]
    other = [addr(t0), addr(t1), addr("0x" + "fb" * 20), *v2[3:]]
    assert "is not a configured factory" in classify(POOL, b"\x60", other, configured).reason  # type: ignore[union-attr]
    unsorted = [addr(t1), addr(t0), *v2[2:]]
    assert "does not sort before" in classify(POOL, b"\x60", unsorted, configured).reason  # type: ignore[union-attr]
    probe = Probe(POOL, "v2", configured[factory], t0, t1)
    assert isinstance(verified(probe, addr("0x" + "cd" * 20), {t0: 18, t1: 6}), Refusal)
    assert isinstance(verified(probe, addr(POOL), {t0: 18}), Refusal)
    info = verified(probe, addr(POOL), {t0: 18, t1: 6}, created_block=3)
    assert isinstance(info, PoolInfo) and (info.fee_bps, info.venue, info.created_block) == (30, 400, 3)


# --- configuration --------------------------------------------------------------------------------------------


def test_config_problems_name_the_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "collector:\n"
        "  chain_id: 0\n"
        "  factories:\n"
        "    - {address: '0x12', kind: v4, venue: 400}\n"
        "  pols: []\n"
        "  confirmations: -1\n"
    )
    import yaml

    config, problems = parse_config(yaml.safe_load(path.read_text())["collector"], path, yaml_lines(path))
    assert config is None
    text = "\n".join(problems)
    assert f"{path}:2: collector.chain_id: expected an integer >= 1, got 0" in text
    assert f"{path}:3: collector.factories.0.address: expected a 0x-prefixed 20-byte hex address" in text
    assert "collector.factories.0.kind: expected v2 or v3, got 'v4'" in text
    assert f"{path}:5: collector.pols: unknown key" in text
    assert f"{path}:6: collector.confirmations: expected an integer in [0, 1000], got -1" in text


def test_the_shipped_spec_validates_and_a_bad_one_fails_with_lines(tmp_path: Path) -> None:
    from flows.builders.collector import load_config
    from flows.spec import SpecError, load_spec

    spec = load_spec(Path("flows/specs/collector.yaml"))
    config = load_config(spec)
    assert config.chain_id == 137 and len(config.pools) == 4 and config.confirmations == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        Path("flows/specs/collector.yaml")
        .read_text()
        .replace("processes: 1 ", "processes: 2 ")
        .replace("chain_id: 137", "chain_id: many")
    )
    with pytest.raises(SpecError) as err:
        load_config(load_spec(bad))
    lines = str(err.value).splitlines()
    assert any("collector.chain_id: expected an integer >= 1, got 'many'" in ln for ln in lines)
    assert any("resources.processes: expected 1 (one poller of one chain), got 2" in ln for ln in lines)
    assert all(ln.startswith(str(bad)) for ln in lines)
    bad.write_text(Path("flows/specs/collector.yaml").read_text().replace("chain_id: 137", "chain_id: many"))
    cli = subprocess.run(
        [sys.executable, "-m", "ops", "flows", "validate", str(bad)], capture_output=True, text=True, check=False
    )
    assert cli.returncode == 1 and "Traceback" not in cli.stderr
    assert f"{bad}:13: collector.chain_id: expected an integer >= 1, got 'many'" in cli.stderr + cli.stdout


def test_the_collector_domain_imports_no_web3_kafka_or_bytewax() -> None:
    code = (
        "import sys\n"
        "for m in ('web3', 'bytewax', 'confluent_kafka', 'clickhouse_connect'):\n"
        "    sys.modules[m] = None\n"
        "import flows.collector.engine, flows.collector.invalidation, flows.collector.records, flows.collector.config\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
