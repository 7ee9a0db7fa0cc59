"""Chain collector benchmark: seed time for 1,000 genuine Uniswap pools, and logs/s applied while following.

Runs on an anvil it starts itself. Untimed set-up: tokens, a genuine UniswapV2Factory with 900 funded pairs and a
genuine UniswapV3Factory with 100 pools, each with three positions (``LiquidityMinter``), all sent as pipelined
signed transactions (one JSON-RPC batch of ``eth_sendRawTransaction`` per step). Then, in one run:

- **seed**: ``Collector.start()`` (flows/collector/engine.py) discovers the 1,000 pools from the factories'
  PairCreated/PoolCreated logs, probes and verifies each (code, token0/token1/factory, getPair/getPool, decimals),
  and reads its state at one pinned block (getReserves; slot0, liquidity, every tickBitmap word, ticks(t)). Its
  baseline is the node alone: every JSON-RPC batch the seed sent, recorded and sent again as is (no parsing, no
  checks, no state), timed the same way; ``ratio`` = baseline seconds / seed seconds (the share of the seed that
  is the node's time).
- **follow**: each round sends ``--blocks`` batches of ``--swaps`` real swaps (one per V2 pair picked, through the
  pair; a sixth through the genuine SwapRouter on V3 pools), mined as blocks (a batch that exceeds a block's gas
  limit takes two), then times ``Collector.poll()`` until it has processed them all
  (headers, hash continuity, ``eth_getLogs``, decoding, exact application, one ``market.pool_state`` record per
  touched pool and block, Avro-encoded as the flow would produce it). ``value`` = logs applied per second.
  ``baseline`` = the same fetch without the collector: the same ``eth_getBlockByNumber`` batch and the same
  ``eth_getLogs`` (same blocks, addresses, topics), timed right after on the same blocks, in logs fetched per
  second; ``ratio`` = value / baseline, 1.0 meaning applying costs nothing beyond reading. Before either is timed
  the same fetch runs once untimed, so both read from a warm node (anvil answers a range faster the second time).
  Medians over rounds.

At the end the collector's state of every pool is compared with the chain's (``exact``). The machine may be shared:
figures are lower bounds. Usage: ``.venv/bin/python bench/collector.py [--v2 900] [--v3 100] [--rounds 7]
[--blocks 12] [--swaps 120]``; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eth_abi import encode  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_utils import keccak, to_checksum_address  # noqa: E402
from web3.utils.address import get_create_address  # noqa: E402

from flows.amm.v2 import get_amount_out  # noqa: E402
from flows.collector.abi import EVENT_TOPICS  # noqa: E402
from flows.collector.config import CollectorConfig  # noqa: E402
from flows.collector.engine import Collector  # noqa: E402
from flows.collector.seed import FactoryConfig  # noqa: E402
from flows.collector.state import V2State, V3State  # noqa: E402
from flows.connectors.rpc import JsonRpc  # noqa: E402
from flows.execution.abi import load_artifact  # noqa: E402
from flows.execution.signer import Signer  # noqa: E402
from ops.simulator.chain.uniswap import load_genuine, v2_pair_address, v3_pool_address  # noqa: E402
from ops.simulator.stack import process  # noqa: E402
from ops.simulator.stack.chain import chain_spec, rpc_call  # noqa: E402
from schemas.serde import codec  # noqa: E402

BIG = 10**45
RESERVE = 10**24


def say(text: str) -> None:
    """Progress for people (stderr keeps stdout's last line the JSON)."""
    print(text, file=sys.stderr, flush=True)


def sel(signature: str) -> bytes:
    return keccak(text=signature)[:4]


class Bulk:
    """Signs transactions locally and sends them in JSON-RPC batches (consecutive nonces, no per-tx round trip).

    Automine is off: transactions are gathered into blocks by their gas limits (anvil drops a transaction that does
    not fit the block being mined, and every later nonce with it) and each block is mined with ``evm_mine``.
    """

    BLOCK_GAS = 29_000_000

    def __init__(self, rpc: JsonRpc, signer: Signer) -> None:
        self.rpc, self.signer = rpc, signer
        self.chain_id = int(rpc.call("eth_chainId"), 16)
        self.nonce = int(rpc.call("eth_getTransactionCount", [signer.address, "pending"]), 16)
        self.pending: list[str] = []
        self.gas = 0
        self.last = ""

    def add(self, to: str | None, data: bytes, gas: int) -> str | None:
        """Sign one transaction into the current block (mining the block first when it would not fit)."""
        if self.gas + gas > self.BLOCK_GAS:
            self.send()
        tx: dict[str, Any] = {"type": 2, "chainId": self.chain_id, "nonce": self.nonce, "value": 0, "data": data,
                              "gas": gas, "maxFeePerGas": 200 * 10**9, "maxPriorityFeePerGas": 10**9}  # fmt: skip
        created = None
        if to is None:
            created = get_create_address(self.signer.address, self.nonce).lower()
        else:
            tx["to"] = to_checksum_address(to)
        signed = self.signer.sign(tx)
        self.pending.append("0x" + signed.raw.hex())
        self.gas += gas
        self.last = signed.tx_hash
        self.nonce += 1
        return created

    def send(self) -> None:
        """Send the current block's transactions, mine them in one block, check they are all in and the last
        succeeded."""
        if not self.pending:
            return
        # Full blocks raise the base fee 12.5 % a block; the benchmark's chain keeps it at 1 gwei.
        self.rpc.call("anvil_setNextBlockBaseFeePerGas", [hex(10**9)])
        out = self.rpc.batch([("eth_sendRawTransaction", [raw]) for raw in self.pending])
        bad = [r for r in out if isinstance(r, Exception)]
        if bad:
            raise RuntimeError(f"{len(bad)} transactions refused: {bad[0]}")
        self.pending, self.gas = [], 0
        self.rpc.call("evm_mine")
        included = int(self.rpc.call("eth_getTransactionCount", [self.signer.address, "latest"]), 16)
        receipt = self.rpc.call("eth_getTransactionReceipt", [self.last])
        if included != self.nonce or receipt is None or receipt["status"] != "0x1":
            raise RuntimeError(f"block not mined as sent: nonce {included} of {self.nonce}, last {receipt}")


def deploy(bulk: Bulk, n_v2: int, n_v3: int) -> dict[str, Any]:
    """Tokens, factories, router, minter, pairs and pools with liquidity; returns what the run needs."""
    me = bulk.signer.address
    n_tokens = next(n for n in itertools.count(3) if n * (n - 1) // 2 >= max(n_v2, n_v3))
    token_code = bytes.fromhex(load_artifact("TestToken").bytecode[2:])
    tokens = [
        bulk.add(None, token_code + encode(["string", "string", "uint8"], [f"T{i}", f"T{i}", 18]), 2_000_000)
        for i in range(n_tokens)
    ]
    v2f = bulk.add(
        None, bytes.fromhex(load_genuine("UniswapV2Factory").bytecode[2:]) + encode(["address"], [me]), 6_000_000
    )
    v3f = bulk.add(None, bytes.fromhex(load_genuine("UniswapV3Factory").bytecode[2:]), 6_000_000)
    router_code = bytes.fromhex(load_genuine("SwapRouter").bytecode[2:])
    router = bulk.add(None, router_code + encode(["address", "address"], [v3f, tokens[0]]), 6_000_000)
    minter = bulk.add(None, bytes.fromhex(load_artifact("LiquidityMinter").bytecode[2:]), 3_000_000)
    bulk.send()
    for t in tokens:
        bulk.add(t, sel("mint(address,uint256)") + encode(["address", "uint256"], [me, BIG]), 80_000)
        bulk.add(t, sel("mint(address,uint256)") + encode(["address", "uint256"], [minter, BIG]), 80_000)
        bulk.add(t, sel("approve(address,uint256)") + encode(["address", "uint256"], [router, 2**256 - 1]), 60_000)
    combos = [tuple(sorted(c, key=lambda a: int(a, 16))) for c in itertools.combinations(tokens, 2)]
    pairs, pools = [], []
    for a, b in combos[:n_v2]:
        bulk.add(v2f, sel("createPair(address,address)") + encode(["address", "address"], [a, b]), 2_600_000)
        pairs.append((v2_pair_address(v2f, a, b), a, b))
    for a, b in combos[:n_v3]:
        create = sel("createPool(address,address,uint24)") + encode(["address", "address", "uint24"], [a, b, 3000])
        bulk.add(v3f, create, 5_000_000)
        pool = v3_pool_address(v3f, a, b, 3000)
        bulk.add(pool, sel("initialize(uint160)") + encode(["uint160"], [2**96]), 200_000)
        pools.append((pool, a, b))
    bulk.send()
    for pair, a, b in pairs:
        for t in (a, b):
            bulk.add(t, sel("transfer(address,uint256)") + encode(["address", "uint256"], [pair, RESERVE]), 60_000)
        bulk.add(pair, sel("mint(address)") + encode(["address"], [me]), 200_000)
    lowers, uppers, amounts = [-600, -60, -6000], [600, 60, 6000], [10**21, 10**21, 10**20]
    for pool, _, _ in pools:
        data = sel("mintMany(address,address,int24[],int24[],uint128[])") + encode(
            ["address", "address", "int24[]", "int24[]", "uint128[]"], [pool, me, lowers, uppers, amounts]
        )
        bulk.add(minter, data, 2_000_000)
    bulk.send()
    return {"v2f": v2f, "v3f": v3f, "router": router, "pairs": pairs, "pools": pools}


class Recorder:
    """A ChainReader that records every batch it forwards (the seed's baseline replays them)."""

    def __init__(self, rpc: JsonRpc) -> None:
        self.rpc, self.where, self.batches = rpc, rpc.where, []

    def batch(self, requests: list[tuple[str, list[Any]]]) -> list[Any]:
        self.batches.append(list(requests))
        return self.rpc.batch(requests)


def swaps(bulk: Bulk, d: dict[str, Any], reserves: dict[str, list[int]], rng: random.Random, n: int) -> int:
    """Add one block's swaps: ~5/6 through V2 pairs (each pair at most once), the rest through the router."""
    n3 = n // 6
    for pair, a, b in rng.sample(d["pairs"], n - n3):
        zero = rng.random() < 0.5
        r = reserves[pair]
        amount = rng.randint(RESERVE // 10_000, RESERVE // 1_000)
        out = get_amount_out(amount, r[0], r[1], 30) if zero else get_amount_out(amount, r[1], r[0], 30)
        bulk.add(
            a if zero else b, sel("transfer(address,uint256)") + encode(["address", "uint256"], [pair, amount]), 100_000
        )
        a0, a1 = (0, out) if zero else (out, 0)
        data = sel("swap(uint256,uint256,address,bytes)") + encode(
            ["uint256", "uint256", "address", "bytes"], [a0, a1, bulk.signer.address, b""]
        )
        bulk.add(pair, data, 120_000)
        r[0], r[1] = (r[0] + amount, r[1] - out) if zero else (r[0] - out, r[1] + amount)
    for _ in range(n3):
        _, a, b = rng.choice(d["pools"])
        t_in, t_out = (a, b) if rng.random() < 0.5 else (b, a)
        params = (t_in, t_out, 3000, bulk.signer.address, 2**40, rng.randint(10**15, 10**19), 0, 0)
        data = sel("exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))") + encode(
            ["(address,address,uint24,address,uint256,uint256,uint256,uint160)"], [params]
        )
        bulk.add(d["router"], data, 400_000)
    return n


def fetch_only(rpc: JsonRpc, start: int, end: int, addresses: list[str]) -> int:
    """The baseline: the same headers and logs the poll reads, fetched and not used; returns logs fetched."""
    rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in range(start, end + 1)])
    chunks = [addresses[i : i + 1000] for i in range(0, len(addresses), 1000)]
    span = {"fromBlock": hex(start), "toBlock": hex(end), "topics": [list(EVENT_TOPICS)]}
    found = rpc.batch([("eth_getLogs", [{**span, "address": ch}]) for ch in chunks])
    return sum(len(f) for f in found)


def exact(c: Collector, rpc: JsonRpc, block: int) -> bool:
    """The collector's state of every pool equals the chain's at ``block`` (reserves; price, tick, liquidity)."""
    pools = sorted(c.pools)
    tag = hex(block)
    reqs = []
    for p in pools:
        if isinstance(c.states[p], V2State):
            reqs.append(("eth_call", [{"to": p, "data": "0x" + sel("getReserves()").hex()}, tag]))
        else:
            reqs.append(("eth_call", [{"to": p, "data": "0x" + sel("slot0()").hex()}, tag]))
            reqs.append(("eth_call", [{"to": p, "data": "0x" + sel("liquidity()").hex()}, tag]))
    out = iter(rpc.batch(reqs))
    for p in pools:
        s = c.states[p]
        first = bytes.fromhex(next(out)[2:])
        if isinstance(s, V2State):
            ok = (int.from_bytes(first[:32], "big"), int.from_bytes(first[32:64], "big")) == (s.reserve0, s.reserve1)
        else:
            assert isinstance(s, V3State)
            liq = int(next(out), 16)
            tick = int.from_bytes(first[32:64], "big", signed=True)
            ok = (int.from_bytes(first[:32], "big"), tick, liq) == (s.sqrt_price_x96, s.tick, s.liquidity)
        if not ok:
            say(f"MISMATCH {p}")
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and the JSON line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--v2", type=int, default=900)
    p.add_argument("--v3", type=int, default=100)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--blocks", type=int, default=12)
    p.add_argument("--swaps", type=int, default=120, help="swaps per block")
    args = p.parse_args(argv)
    # SIGTERM (a timeout, Ctrl-C from a supervisor) must still stop the anvil below: run the finally block.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rng = random.Random(1)
    port = process.free_port()
    home = Path(tempfile.mkdtemp(prefix="pulsearb-bench-collector-"))
    pid = process.start(chain_spec(port), home)
    url = f"http://127.0.0.1:{port}"
    try:
        rpc = JsonRpc(url)
        signer = Signer.from_key("0x" + Account.create().key.hex().removeprefix("0x"))
        rpc_call(url, "anvil_setBalance", [signer.address, hex(10**27)])
        rpc.call("evm_setAutomine", [False])
        bulk = Bulk(rpc, signer)
        t = time.perf_counter()
        say(f"deploying {args.v2} V2 pairs and {args.v3} V3 pools (genuine Uniswap, pipelined; not timed) ...")
        d = deploy(bulk, args.v2, args.v3)
        say(f"  deployed in {time.perf_counter() - t:.1f} s, head block {int(rpc.call('eth_blockNumber'), 16)}")
        config = CollectorConfig(
            31337, (FactoryConfig(d["v2f"], "v2", 400), FactoryConfig(d["v3f"], "v3", 301, pool_type=1)),
            batch_size=1000,
        )  # fmt: skip
        recorder = Recorder(JsonRpc(url))
        collector = Collector(config, recorder)
        say("seeding every pool at one pinned block ...")
        t = time.perf_counter()
        start = collector.start()
        seed_s = time.perf_counter() - t
        pools = len(collector.pools)
        calls = sum(len(b) for b in recorder.batches)
        t = time.perf_counter()
        for b in recorder.batches:
            recorder.rpc.batch(b)
        seed_base_s = time.perf_counter() - t
        say(f"  {pools} pools in {seed_s:.2f} s ({calls:,} calls in {len(recorder.batches)} batches); "
            f"the same batches alone: {seed_base_s:.2f} s")  # fmt: skip
        assert pools == args.v2 + args.v3 and len(start.records) == pools and not start.refusals
        follow_rpc = JsonRpc(url)
        collector.rpc = follow_rpc
        encode_state = codec("market.pool_state").encode
        addresses = sorted(set(collector.pools) | {d["v2f"], d["v3f"]})
        reserves = {pair: [RESERVE, RESERVE] for pair, _, _ in d["pairs"]}
        values, bases, logs_total = [], [], 0
        for r in range(args.rounds):
            first = collector.window.head[0] + 1
            for _ in range(args.blocks):
                swaps(bulk, d, reserves, rng, args.swaps)
                bulk.send()  # a block (more when the swaps do not fit one block's gas)
            head = int(rpc.call("eth_blockNumber"), 16)
            fetch_only(follow_rpc, first, head, addresses)  # untimed: the node serves both timed reads warm
            applied = collector.stats.logs_applied
            t = time.perf_counter()
            records = 0
            while collector.window.head[0] < head:
                out = collector.poll()
                for rec in out.records:  # what the flow does with them
                    encode_state(rec)
                records += len(out.records)
            elapsed = time.perf_counter() - t
            logs = collector.stats.logs_applied - applied
            t = time.perf_counter()
            fetched = fetch_only(follow_rpc, first, head, addresses)
            base_s = time.perf_counter() - t
            values.append(logs / elapsed)
            bases.append(fetched / base_s)
            logs_total += logs
            say(f"  round {r + 1}: {head - first + 1} blocks, {logs:,} logs applied, {records:,} records in "
                f"{elapsed * 1000:.0f} ms; fetch alone {fetched:,} logs in {base_s * 1000:.0f} ms")  # fmt: skip
        ok = exact(collector, JsonRpc(url), collector.window.head[0])
    finally:
        process.stop_pid(pid)
        shutil.rmtree(home, ignore_errors=True)
    value, baseline = statistics.median(values), statistics.median(bases)
    say("")
    say(f"{'measure':<48}{'samples':>9}{'value':>14}")
    say(f"{'seed: pools':<48}{1:>9}{pools:>14,}")
    say(f"{'seed: seconds (collector.start)':<48}{1:>9}{seed_s:>14.2f}")
    say(f"{'seed: seconds of the same batches alone':<48}{1:>9}{seed_base_s:>14.2f}")
    say(f"{'follow: logs/s applied (median)':<48}{len(values):>9}{value:>14,.0f}")
    say(f"{'follow: logs/s fetched alone (baseline, median)':<48}{len(bases):>9}{baseline:>14,.0f}")
    say(f"ratio follow / fetch alone: {value / baseline:.2f}; state equals the chain: {ok} (machine may be shared)")
    seed = {"pools": pools, "seconds": round(seed_s, 3), "calls": calls, "baseline_seconds": round(seed_base_s, 3),
            "ratio": round(seed_base_s / seed_s, 3)}  # fmt: skip
    follow = {
        "value": round(value),
        "baseline": round(baseline),
        "ratio": round(value / baseline, 3),
        "logs": logs_total,
    }
    print(json.dumps({"seed": seed, "follow": follow, "samples": len(values), "exact": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
