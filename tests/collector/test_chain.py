"""The collector on a real chain (anvil) with the genuine Uniswap contracts: its state equals the chain's, read by
direct eth_calls, after every block of random swaps, mints and burns, through reorgs, gaps and new pools; an RPC
that lies gets one clear line and no state."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from flows.collector.config import CollectorConfig
from flows.collector.engine import Collector, CollectorError, read_pool_states
from flows.collector.seed import FactoryConfig
from flows.collector.state import V2State, V3State, differences
from flows.connectors.rpc import JsonRpc
from ops.simulator.chain.tx import contract
from ops.simulator.chain.uniswap import create_v2_pair, create_v3_pool, deploy_v2_factory
from schemas.serde import codec
from tests.collector.market import Market, deploy_market

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def market(anvil) -> Market:
    return deploy_market(anvil)


def config(m: Market, **over: Any) -> CollectorConfig:
    factories = (
        FactoryConfig(m.v2_factories[0], "v2", 400),
        FactoryConfig(m.v2_factories[1], "v2", 401, pool_type=2),
        FactoryConfig(m.v3_factory, "v3", 301, pool_type=1),
    )
    return CollectorConfig(31337, over.pop("factories", factories), **over)


def assert_equals_chain(m: Market, c: Collector, block: int) -> None:
    diffs = [d for p in c.pools for d in differences(p, c.states[p], m.chain_state(p, block))]
    assert diffs == [], diffs[:5]


def record_state(rec: dict) -> tuple:
    """What a published record says of the pool (ticks: the map, or None when unchanged: empty)."""
    ticks = {t["tick"]: int.from_bytes(t["liquidity_net"], "big", signed=True) for t in rec["ticks"]} or None
    ints = [int.from_bytes(rec[k], "big") for k in ("reserve0", "reserve1", "sqrt_price_x96", "liquidity")]
    return (*ints, rec["tick"], ticks)


def chain_record_state(state: V2State | V3State) -> tuple:
    if isinstance(state, V2State):
        return (state.reserve0, state.reserve1, 0, 0, 0, None)
    return (0, 0, state.sqrt_price_x96, state.liquidity, state.tick, {t: n for t, (_, n) in state.ticks.items()})


def check_records(m: Market, records: Sequence[dict], published: dict[str, int]) -> None:
    """Every record is the chain's state of its pool at its block (the tick map when it carries one), round-trips
    through the Avro codec, and no pool goes back to a lower block."""
    for rec in records:
        assert codec("market.pool_state").decode(codec("market.pool_state").encode(rec)) == rec
        assert rec["end_of_block"] is True
        want = chain_record_state(m.chain_state(rec["pool"], rec["block_number"]))
        got = record_state(rec)
        assert got[:5] == want[:5], rec["pool"]
        if got[5] is not None:
            assert got[5] == want[5]
        assert rec["block_number"] >= published.get(rec["pool"], -1)
        published[rec["pool"]] = rec["block_number"]


def test_state_equals_the_chain_after_every_block_of_random_swaps_mints_and_burns(market: Market) -> None:
    m = market
    c = Collector(config(m), JsonRpc(m.anvil.url))
    start = c.start()
    assert {r["pool"] for r in start.records} == set(m.pairs) | set(m.pools) and not start.refusals
    published: dict[str, int] = {}
    check_records(m, start.records, published)
    head = c.window.head[0]
    assert_equals_chain(m, c, head)
    # the adjacent equal positions left a tick that is initialized with no net liquidity: it is held
    assert any(net == 0 and gross > 0 for p in m.pools for gross, net in c.states[p].ticks.values())

    rng = random.Random(7)
    with_ticks = 0
    for i in range(24):
        blocks = [m.block(lambda mk: mk.random_block(rng)) for _ in range(1 + (i % 3 == 2) * 2)]  # sometimes 3
        out = c.poll()
        assert c.window.head[0] == blocks[-1]
        assert_equals_chain(m, c, blocks[-1])
        check_records(m, out.records, published)
        with_ticks += sum(bool(r["ticks"]) for r in out.records)
        # one record per pool touched per block: never two for one (pool, block)
        keys = [(r["pool"], r["block_number"]) for r in out.records]
        assert len(keys) == len(set(keys))
    assert c.stats.logs_applied > 100 and with_ticks > 5 and c.stats.reorgs == 0
    assert m.reverted < 10


def test_a_reorg_re_seeds_what_the_dropped_blocks_touched(market: Market) -> None:
    m = market
    c = Collector(config(m), JsonRpc(m.anvil.url))
    c.start()
    rng = random.Random(11)
    published: dict[str, int] = dict(c.published)
    for length, replacement in ((3, 3), (4, 2), (2, 5)):  # same height, a shorter chain, a longer one
        snap = m.snapshot()
        for _ in range(length):
            m.block(lambda mk: mk.random_block(rng))
        out = c.poll()
        check_records(m, out.records, published)
        old_head = c.window.head
        m.revert(snap)
        blocks = [m.block(lambda mk: mk.random_block(rng, events=3)) for _ in range(replacement)]
        out = c.poll()
        assert c.window.head[0] == blocks[-1] and c.window.head != old_head
        assert_equals_chain(m, c, blocks[-1])
        check_records(m, out.records, published)  # never below a block already published for the pool
        # the window now holds the new chain's hashes
        assert c.window.hash_of(blocks[-1]) == m.w3.eth.get_block(blocks[-1])["hash"].to_0x_hex()
    assert c.stats.reorgs == 3 and c.stats.reorged_blocks == 3 + 4 + 2


def test_pools_created_after_start_are_discovered_and_those_of_a_dropped_block_forgotten(market: Market) -> None:
    m = market
    c = Collector(config(m), JsonRpc(m.anvil.url))
    c.start()
    tx = m.tx
    snap = m.snapshot()
    pair, s = create_v2_pair(tx, m.v2_factories[1], m.tokens["B"], m.tokens["C"])
    tx.wait([s])
    c.poll()
    assert pair in c.pools and c.states[pair] == V2State(0, 0)
    m.revert(snap)
    pool, sent = create_v3_pool(tx, m.v3_factory, m.tokens["B"], m.tokens["C"], 10_000, 2**96)
    tx.wait(sent)
    m.spacing[pool], m.fee[pool] = 200, 10_000
    tx.wait(m.mint(pool, -2000, 2000, 10**18))
    out = c.poll()
    assert pair not in c.pools  # created in a dropped block
    assert pool in c.pools and c.pools[pool].tick_spacing == 200 and c.pools[pool].fee == 10_000
    assert_equals_chain(m, c, c.window.head[0])
    assert any(r["pool"] == pool and r["ticks"] for r in out.records)


def test_a_gap_or_a_node_that_refuses_log_ranges_is_repaired(market: Market) -> None:
    m = market
    rpc = Refusing(JsonRpc(m.anvil.url))
    c = Collector(config(m, catch_up_blocks=4, max_block_range=50), rpc)
    c.start()
    rng = random.Random(5)
    for _ in range(6):  # more than catch_up_blocks behind: everything is re-seeded at the head
        m.block(lambda mk: mk.random_block(rng, events=2))
    c.poll()
    assert c.stats.gaps == 1
    assert_equals_chain(m, c, c.window.head[0])
    rpc.max_range = 1  # the node refuses ranges of more than one block: ranges are halved until it answers
    for _ in range(3):
        m.block(lambda mk: mk.random_block(rng, events=2))
    c.poll()
    assert rpc.refused > 0 and c.stats.gaps == 1
    assert_equals_chain(m, c, c.window.head[0])
    rpc.max_range = 0  # it refuses every eth_getLogs: the pools are re-seeded instead (a gap) ...
    pair, s = create_v2_pair(m.tx, m.v2_factories[1], m.tokens["A"], m.tokens["C"])
    m.tx.wait([s])
    c.poll()
    assert c.stats.gaps == 2 and pair not in c.pools  # ... and the pair created meanwhile is owed
    assert_equals_chain(m, c, c.window.head[0])
    rpc.max_range = 10**9
    m.block(lambda mk: mk.random_block(rng, events=2))
    c.poll()
    assert pair in c.pools and c.undiscovered == []
    assert_equals_chain(m, c, c.window.head[0])


def test_an_invalidated_pool_is_re_seeded_at_the_next_poll(market: Market) -> None:
    m = market
    c = Collector(config(m), JsonRpc(m.anvil.url))
    c.start()
    pool = m.pools[0]
    c.states[pool].liquidity += 1  # a state gone wrong (what an invalidation is about)
    assert c.invalidate([pool, "0x" + "00" * 20]) == 1
    out = c.poll()
    assert [r["pool"] for r in out.records] == [pool] and out.records[0]["ticks"]
    assert_equals_chain(m, c, c.window.head[0])


def test_a_lying_rpc_gets_one_clear_line_and_no_state(market: Market) -> None:
    m = market
    with pytest.raises(CollectorError, match=r"is chain 31337, the spec says collector.chain_id 137: point --rpc-url"):
        Collector(CollectorConfig(137, config(m).factories), JsonRpc(m.anvil.url)).check_chain()
    eoa = "0x" + "11" * 20
    with pytest.raises(CollectorError, match=f"factory {eoa} has no code on chain 31337"):
        Collector(config(m, factories=(FactoryConfig(eoa, "v2", 400),)), JsonRpc(m.anvil.url)).check_chain()
    stranger = deploy_v2_factory(m.tx)  # genuine, but not configured
    alien, s = create_v2_pair(m.tx, stranger, m.tokens["A"], m.tokens["C"])
    m.tx.wait([s])
    token = m.tokens["A"]
    lies = {
        eoa: "no contract code at this address",
        token: "does not answer like a Uniswap V2 pair",
        alien: f"its factory() {stranger} is not a configured factory",
    }
    c = Collector(config(m, pools=(*lies, m.pairs[0])), JsonRpc(m.anvil.url))
    out = c.start()
    reasons = {r.pool: str(r) for r in out.refusals}
    assert set(reasons) == set(lies)
    for pool, why in lies.items():
        assert reasons[pool].startswith(f"pool {pool} refused: ") and why in reasons[pool]
        assert "\n" not in reasons[pool]
    assert not set(lies) & {r["pool"] for r in out.records} and not set(lies) & set(c.pools)
    assert c.stats.refused == 3
    # a V2 factory configured as V3: its pairs do not answer like its pools
    wrong = config(m, factories=(FactoryConfig(m.v2_factories[0], "v3", 301),), pools=(m.pairs[0],))
    out = Collector(wrong, JsonRpc(m.anvil.url)).start()
    assert [str(r) for r in out.refusals] == [
        f"pool {m.pairs[0]} refused: answers like a v2 pool but its factory {m.v2_factories[0]} is configured as v3"
    ]
    assert contract(m.w3, "TestToken", token).functions.decimals().call() == 18  # the token itself is fine


class Refusing:
    """A node that refuses eth_getLogs over more than ``max_range`` blocks (0: every one), like a rate-limited
    provider; everything else goes to the real node."""

    def __init__(self, rpc: JsonRpc) -> None:
        self.rpc = rpc
        self.where = rpc.where
        self.max_range = 10**9
        self.refused = 0

    def batch(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        out = self.rpc.batch(requests)
        for i, (method, params) in enumerate(requests):
            if method == "eth_getLogs":
                span = int(params[0]["toBlock"], 16) - int(params[0]["fromBlock"], 16) + 1
                if span > self.max_range:
                    self.refused += 1
                    out[i] = ValueError(f"query exceeds max block range {self.max_range}")
        return out


def test_known_pools_are_read_at_one_block_without_a_log_and_a_failed_read_names_the_pool(market: Market) -> None:
    m = market
    c = Collector(config(m), JsonRpc(m.anvil.url))
    c.start()
    block = c.window.head[0]
    infos = [c.pools[p] for p in sorted(c.pools)]
    node = Refusing(JsonRpc(m.anvil.url))
    node.max_range = 0  # a provider that refuses every eth_getLogs
    states, failed = read_pool_states(node, infos, hex(block), batch_size=7)
    assert failed == {} and node.refused == 0
    assert [d for p in states for d in differences(p, states[p], m.chain_state(p, block))] == []
    assert sorted(states) == sorted(c.pools) and any(isinstance(st, V3State) and st.ticks for st in states.values())

    broken = m.pools[0]  # every call to this pool fails: the others are still read

    class Failing(Refusing):
        def batch(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
            out = self.rpc.batch(requests)
            return [ValueError("execution reverted") if p and p[0].get("to") == broken else r
                    for (_m, p), r in zip(requests, out, strict=True)]  # fmt: skip

    states, failed = read_pool_states(Failing(JsonRpc(m.anvil.url)), infos, hex(block))
    assert failed == {broken: "slot0() or liquidity() failed"} and set(states) == set(c.pools) - {broken}


def test_confirmations_keep_the_state_behind_the_head_and_a_restart_never_publishes_a_lower_block(
    market: Market,
) -> None:
    m = market
    c = Collector(config(m, confirmations=2), JsonRpc(m.anvil.url))
    c.start()
    rng = random.Random(3)
    for _ in range(3):
        m.block(lambda mk: mk.random_block(rng, events=2))
    c.poll()
    head = int(m.anvil.rpc("eth_blockNumber"), 16)
    assert c.window.head[0] == head - 2
    assert_equals_chain(m, c, head - 2)
    # a restart resumes with the blocks already published: states at a lower block wait, none goes back
    ahead = {p: head + 1 for p in c.pools}
    restarted = Collector(config(m), JsonRpc(m.anvil.url), published=ahead)
    assert restarted.start().records == []
    assert_equals_chain(m, restarted, head)
    m.block(lambda mk: mk.random_block(rng, events=2))
    out = restarted.poll()
    assert {r["pool"] for r in out.records} == set(restarted.pools)  # head + 1 reached: every pool published
    assert {r["block_number"] for r in out.records} == {head + 1}
