"""A genuine Uniswap market on anvil for the collector tests: V2 pairs on two factories, V3 pools, and the
transactions that move them (swaps through the pair or the genuine SwapRouter, exact-liquidity mints through
LiquidityMinter, burns by the position owner straight on the pool), several per block.

The chain's state is read here independently of the collector: raw ``eth_call``s decoded with eth_abi
(``getReserves``, ``slot0``, ``liquidity``, every ``tickBitmap`` word and ``ticks(t)`` of every set bit).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode, encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from flows.amm.v2 import get_amount_out
from flows.amm.v3.tick_math import MAX_TICK, MIN_TICK, get_sqrt_ratio_at_tick
from flows.collector.state import V2State, V3State
from flows.connectors.rpc import JsonRpc
from flows.execution.signer import Signer
from ops.simulator.chain.tx import Sent, TxSender, contract
from ops.simulator.chain.uniswap import (
    TokenSpec,
    create_v2_pair,
    create_v3_pool,
    deploy_minter,
    deploy_periphery,
    deploy_tokens,
    deploy_v2_factory,
    deploy_v3_factory,
    genuine,
    seed_v2_pair,
)

BIG = 10**40


def _sel(sig: str) -> str:
    return "0x" + keccak(text=sig)[:4].hex()


@dataclass
class Market:
    """What was deployed, and the positions minted (pool -> [lower, upper, liquidity])."""

    anvil: Any
    tx: TxSender
    tokens: dict[str, str]
    v2_factories: list[str]
    v3_factory: str
    pairs: list[str]
    pools: list[str]
    minter: str
    router: str
    spacing: dict[str, int]
    fee: dict[str, int]
    positions: dict[str, list[list[int]]] = field(default_factory=dict)
    reverted: int = 0

    @property
    def w3(self) -> Any:
        return self.anvil.w3

    # --- blocks ------------------------------------------------------------------------------------------

    def block(self, build: Any) -> int:
        """Send what ``build(market)`` sends (a list of Sent) in one block; return the block number.

        A transaction may revert (a swap into a pool with no liquidity left on that side): it emits no log, as on
        any chain; ``reverted`` counts them.
        """
        self.anvil.rpc("evm_setAutomine", [False])
        try:
            sent = build(self)
            self.anvil.rpc("evm_mine")
        finally:
            self.anvil.rpc("evm_setAutomine", [True])
        for s in sent:
            receipt = self.w3.eth.get_transaction_receipt(s.tx_hash)
            self.reverted += receipt["status"] != 1
        return int(self.anvil.rpc("eth_blockNumber"), 16)

    def snapshot(self) -> tuple[str, dict[str, list[list[int]]]]:
        """``evm_snapshot``, with the positions held at that point."""
        return str(self.anvil.rpc("evm_snapshot")), copy.deepcopy(self.positions)

    def revert(self, snap: tuple[str, dict[str, list[list[int]]]]) -> None:
        """``evm_revert`` to a snapshot: the blocks after it are dropped (their transactions, nonces, positions)."""
        assert self.anvil.rpc("evm_revert", [snap[0]]) is True
        self.positions = copy.deepcopy(snap[1])
        self.tx._nonce = self.w3.eth.get_transaction_count(self.tx.signer.address, "pending")

    # --- transactions ------------------------------------------------------------------------------------

    def v2_swap(self, pair: str, zero_for_one: bool, amount_in: int) -> list[Sent]:
        """Swap through the pair: transfer in, then ``swap`` for exactly ``getAmountOut`` (one per pair and block)."""
        p = genuine(self.w3, "UniswapV2Pair", pair)
        r0, r1, _ = p.functions.getReserves().call()
        t0, t1 = p.functions.token0().call(), p.functions.token1().call()
        token_in = t0 if zero_for_one else t1
        out = get_amount_out(amount_in, r0, r1, 30) if zero_for_one else get_amount_out(amount_in, r1, r0, 30)
        a0, a1 = (0, out) if zero_for_one else (out, 0)
        return [
            self.tx.call(contract(self.w3, "TestToken", token_in), "transfer", p.address, amount_in),
            self.tx.call(p, "swap", a0, a1, self.tx.signer.address, b"", gas=200_000),
        ]

    def v3_swap(self, pool: str, zero_for_one: bool, amount_in: int) -> list[Sent]:
        """Swap through the genuine SwapRouter (exactInputSingle, no limit, no minimum)."""
        p = genuine(self.w3, "UniswapV3Pool", pool)
        t0, t1 = p.functions.token0().call(), p.functions.token1().call()
        token_in, token_out = (t0, t1) if zero_for_one else (t1, t0)
        r = genuine(self.w3, "SwapRouter", self.router)
        params = (token_in, token_out, self.fee[pool], self.tx.signer.address, 2**40, amount_in, 0, 0)
        return [self.tx.call(r, "exactInputSingle", params, gas=1_500_000)]

    def mint(self, pool: str, lower: int, upper: int, liquidity: int) -> list[Sent]:
        """Mint an exact liquidity for the deployer (who can then burn it on the pool)."""
        self.positions.setdefault(pool, []).append([lower, upper, liquidity])
        m = contract(self.w3, "LiquidityMinter", self.minter)
        return [self.tx.call(m, "mint", to_checksum_address(pool), self.tx.signer.address, lower, upper, liquidity,
                             gas=1_500_000)]  # fmt: skip

    def burn(self, pool: str, index: int, liquidity: int) -> list[Sent]:
        """Burn ``liquidity`` of the index-th position (0: a poke)."""
        pos = self.positions[pool][index]
        pos[2] -= liquidity
        p = genuine(self.w3, "UniswapV3Pool", pool)
        return [self.tx.call(p, "burn", pos[0], pos[1], liquidity, gas=500_000)]

    def random_block(self, rng: random.Random, events: int = 6) -> list[Sent]:
        """A mix of swaps, mints and burns for one block (V2 pairs swap at most once per block)."""
        sent: list[Sent] = []
        for pair in rng.sample(self.pairs, k=rng.randint(0, len(self.pairs))):
            zero_for_one = rng.random() < 0.5
            r0, r1, _ = genuine(self.w3, "UniswapV2Pair", pair).functions.getReserves().call()
            sent += self.v2_swap(pair, zero_for_one, int((r0 if zero_for_one else r1) * rng.uniform(1e-4, 0.05)))
        for _ in range(events):
            pool = rng.choice(self.pools)
            what = rng.random()
            live = [i for i, p in enumerate(self.positions.get(pool, [])) if p[2] > 0]
            if what < 0.45:
                zero_for_one = rng.random() < 0.5  # token A (18 decimals) in, else B (6 decimals): ~1e12 A per B
                amount = int(10 ** rng.uniform(14, 23)) if zero_for_one else int(10 ** rng.uniform(3, 11))
                sent += self.v3_swap(pool, zero_for_one, amount)
            elif what < 0.75 or not live:
                tick = self.slot0(pool)[1]
                s = self.spacing[pool]
                lower = (tick // s + rng.randint(-20, 2)) * s
                upper = lower + s * rng.randint(1, 25)
                sent += self.mint(pool, lower, upper, rng.randint(10**15, 10**19))
            else:
                i = rng.choice(live)
                amount = (
                    0
                    if rng.random() < 0.15
                    else rng.choice([self.positions[pool][i][2], rng.randint(1, self.positions[pool][i][2])])
                )
                sent += self.burn(pool, i, amount)
        return sent

    # --- reading the chain directly ----------------------------------------------------------------------

    def slot0(self, pool: str, block: int | str = "latest") -> tuple[int, int]:
        s = genuine(self.w3, "UniswapV3Pool", pool).functions.slot0().call(block_identifier=block)
        return int(s[0]), int(s[1])

    def chain_state(self, pool: str, block: int) -> V2State | V3State:
        """The pool's state at ``block``, from eth_calls decoded with eth_abi."""
        rpc = JsonRpc(self.anvil.url)
        tag = hex(block)

        def calls(items: Sequence[tuple[str, bytes]]) -> list[bytes]:
            out = rpc.batch([("eth_call", [{"to": pool, "data": _sel(sig) + args.hex()}, tag]) for sig, args in items])
            return [bytes.fromhex(x[2:]) for x in out]

        if pool not in self.spacing:  # a V2 pair
            [raw] = calls([("getReserves()", b"")])
            r0, r1, _ = decode(["uint112", "uint112", "uint32"], raw)
            return V2State(r0, r1)
        spacing = self.spacing[pool]
        words = range((MIN_TICK // spacing) >> 8, ((MAX_TICK // spacing) >> 8) + 1)
        raws = calls(
            [("slot0()", b""), ("liquidity()", b"")] + [("tickBitmap(int16)", encode(["int16"], [w])) for w in words]
        )
        price, tick = decode(["uint160", "int24", "uint16", "uint16", "uint16", "uint8", "bool"], raws[0])[:2]
        [liquidity] = decode(["uint128"], raws[1])
        ticks = []
        for w, raw in zip(words, raws[2:], strict=True):
            [bits] = decode(["uint256"], raw)
            ticks += [(w * 256 + b) * spacing for b in range(256) if bits >> b & 1]
        state = V3State(price, tick, liquidity)
        for t, raw in zip(ticks, calls([("ticks(int24)", encode(["int24"], [t])) for t in ticks]), strict=True):
            gross, net = decode(["uint128", "int128"], raw[:64])
            state.ticks[t] = (gross, net)
        rpc.close()
        return state


def deploy_market(anvil: Any, seed: int = 1) -> Market:
    """Deploy 3 tokens, two V2 factories with an A/B pair each (and B/C on the first), a V3 factory with A/B pools
    at 0.3 % and 0.05 %, each V3 pool with adjacent equal positions (a zero-net initialized tick) around its price."""
    rng = random.Random(seed)
    key = "0x" + Account.create().key.hex().removeprefix("0x")
    signer = Signer.from_key(key)
    anvil.fund(signer.address)
    tx = TxSender(anvil.w3, signer)
    tokens = deploy_tokens(
        tx, [TokenSpec("A", "Token A", 18), TokenSpec("B", "Token B", 6), TokenSpec("C", "Token C", 18)]
    )
    minter = deploy_minter(tx)
    f2a, f2b = deploy_v2_factory(tx), deploy_v2_factory(tx)
    f3 = deploy_v3_factory(tx)
    _, router = deploy_periphery(tx, f3, tokens["C"])
    sent = []
    for t in tokens.values():
        tk = contract(anvil.w3, "TestToken", t)
        sent += [tx.call(tk, "mint", signer.address, BIG), tx.call(tk, "mint", to_checksum_address(minter), BIG)]
        sent.append(tx.call(tk, "approve", to_checksum_address(router), 2**256 - 1))
    tx.wait(sent)
    pairs = []
    for factory, (a, b) in ((f2a, ("A", "B")), (f2b, ("A", "B")), (f2a, ("B", "C"))):
        pair, s = create_v2_pair(tx, factory, tokens[a], tokens[b])
        tx.wait([s])
        tx.wait(
            seed_v2_pair(
                tx, pair, tokens[a], tokens[b], 10**24 + rng.randint(0, 10**22), 2 * 10**12 + rng.randint(0, 10**10)
            )
        )
        pairs.append(pair)
    pools, spacing, fee = [], {}, {}
    for f, s in ((3000, 60), (500, 10)):
        tick = -276_300 + rng.randint(-50, 50) * s  # ~1e-12 B per A: like 18 and 6 decimals at par
        pool, sent = create_v3_pool(tx, f3, tokens["A"], tokens["B"], f, get_sqrt_ratio_at_tick(tick))
        tx.wait(sent)
        pools.append(pool)
        spacing[pool], fee[pool] = s, f
    market = Market(anvil, tx, tokens, [f2a, f2b], f3, pairs, pools, minter, router, spacing, fee)
    for pool in pools:
        tick = market.slot0(pool)[1]
        s = spacing[pool]
        base = (tick // s) * s
        sent = market.mint(pool, base - 10 * s, base, 10**20) + market.mint(pool, base, base + 10 * s, 10**20)
        sent += market.mint(pool, base - 200 * s, base + 200 * s, 10**19)
        tx.wait(sent)
    return market
