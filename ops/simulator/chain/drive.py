"""Drive the local chain's pool prices from real Coinbase minute bars: the market ``pulsearb up`` trades against.

The chain mines on the driver's clock, never on pulsearb's: :meth:`MarketDriver.start` turns anvil's automine
off, and at every multiple of ``block_time_s`` (wall seconds) the driver mines one block with whatever is pending
(one ``evm_mine``), whether or not an executor is between simulating and sending: a real chain does not wait.

Right after each block it advances market time by ``block_time_s * speed`` and gives every pool, V2 pairs and V3
pools alike, a target price for the next block: the ratio of its tokens' USD prices (WETH from the ETH-USD bars,
WBTC from BTC-USD, USDC at 1, interpolated within the minute), seen ``lag_s`` market seconds late on the lagging
V2 venue, times a little noise, times a decaying shock: with probability ``shock_probability`` per pool and block
a large trade hits it (a 0.8-2.5 % move that decays by ``shock_decay`` per block). The trader's swaps that move
each pool to its target are sent then and wait in the node's pool for the next block: a V2 pair's exact swap
(:func:`ops.simulator.chain.reprice.reprice`), a V3 pool's SwapRouter swap with the target as its price limit
(:meth:`ops.simulator.chain.market.Trader.move_v3_to`).

Ordering in a block is by priority fee, as on a real chain: the market's swaps pay 1 wei, below the executor's
1 gwei, so an arbitrage sent since the last block goes before them, on the state of that block, unless someone
paid more (the competing searcher, :mod:`ops.simulator.chain.compete`; a trader in a hurry,
:mod:`ops.simulator.chain.traders`)
and moved its pools first. A V2 market swap computed before an arbitrage that then went first fails the pair's K
check and is counted in :attr:`DriverStats.swaps_reverted`.
"""

from __future__ import annotations

import bisect
import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from math import isqrt
from typing import Any

from web3 import Web3

from base.errors import PulsearbError, StackError
from ops.simulator.chain.deploy import Deployment, PairInfo
from ops.simulator.chain.market import Trader
from ops.simulator.chain.reprice import reprice
from ops.simulator.chain.tx import Sent

log = logging.getLogger(__name__)

MARKET_TIP_WEI = 1
V3_BUDGET = 10**30  # the router takes only what reaches the price limit: the trader's balance bounds it
SERIES = {"WETH": "ETH_USD", "WBTC": "BTC_USD"}  # token symbol -> bar series; USDC is 1 USD
QUOTE_ORDER = ("USDC", "WETH", "WBTC")  # a pair's quote token is the first of these it holds
Bars = Sequence[tuple[int, float]]


def bar_price(bars: Bars, t_s: float) -> float:
    """Close price at ``t_s`` (unix seconds), linear between minute bars, clamped to the series' ends."""
    times = [t for t, _ in bars]
    i = bisect.bisect_right(times, t_s)
    if i == 0:
        return bars[0][1]
    if i == len(bars):
        return bars[-1][1]
    (t0, p0), (t1, p1) = bars[i - 1], bars[i]
    return p0 + (p1 - p0) * (t_s - t0) / (t1 - t0)


def target_price(base_usd: float, quote_usd: float, base_decimals: int, quote_decimals: int) -> Fraction:
    """USD prices of two tokens -> the pair's price in raw quote units per raw base unit."""
    whole = Fraction(repr(base_usd)) / Fraction(repr(quote_usd))
    return whole * 10**quote_decimals / 10**base_decimals


def target_sqrt_price(pool: PairInfo, base: str, target: Fraction) -> int:
    """A V3 pool's ``sqrtPriceX96`` for ``target`` (raw quote units per raw base unit): the pool prices token1 in
    token0, so the target is inverted when the base token is token1 (floor square root, exact)."""
    price = target if base == pool.token0 else 1 / target
    return isqrt(price.numerator * 2**192 // price.denominator)


@dataclass(slots=True)
class DrivenPair:
    """A pool the driver moves (V2 pair or V3 pool), and its running shock."""

    pair: PairInfo
    base: str  # token address, lower-case
    quote: str
    base_symbol: str
    quote_symbol: str
    lagged: bool
    shock: float = 0.0

    @property
    def decimals(self) -> tuple[int, int]:
        """(base, quote) decimals."""
        p = self.pair
        return (
            (p.token0_decimals, p.token1_decimals) if self.base == p.token0 else (p.token1_decimals, p.token0_decimals)
        )


@dataclass(slots=True)
class DriverStats:
    """What the driver did so far."""

    blocks: int = 0
    swaps: int = 0
    swaps_reverted: int = 0
    shocks: int = 0
    late_s: float = 0.0  # longest gap between two blocks beyond the block time (the machine's load; it never waits)
    market_s: float = 0.0
    prices: dict[str, float] = field(default_factory=dict)  # base symbol -> last bar price (USD)


class MarketDriver:
    """Mines one block per ``block_time_s`` and moves every pool toward its bar price, on a thread.

    Args:
        w3: a connected Web3 (anvil: the driver turns automine off and mines with ``evm_mine``).
        trader: the funded trader account.
        deployment: what was deployed (pools of USDC, WETH and optionally WBTC, V2 and V3).
        bars: series name -> [(unix seconds, close USD)], e.g. :func:`ops.simulator.market.model.load_bars`.
        speed: market seconds per wall second.
        block_time_s: wall seconds between the market's blocks.
        seed: seed of noise and shocks (the schedule is deterministic per seed).
        lag_s: market seconds the lagging venue's price trails the bars.
        lagging_venue: which venue lags (default: the deployment's last V2 venue).
        shock_probability: chance per pool and block of a large trade.
        shock_decay: factor a shock keeps per block.
        noise_bps: standard deviation of the per-block noise, bps.
    """

    def __init__(
        self,
        w3: Web3,
        trader: Trader,
        deployment: Deployment,
        bars: dict[str, Bars],
        *,
        speed: float = 30.0,
        block_time_s: float = 1.0,
        seed: int = 7,
        lag_s: float = 60.0,
        lagging_venue: int | None = None,
        shock_probability: float = 0.04,
        shock_decay: float = 0.6,
        noise_bps: float = 4.0,
    ) -> None:
        self.w3 = w3
        self.trader = trader
        self.bars = bars
        self.speed = speed
        self.block_time_s = block_time_s
        self.lag_s = lag_s
        self.shock_probability = shock_probability
        self.shock_decay = shock_decay
        self.noise = noise_bps / 10_000
        self.rng = random.Random(seed)
        venues = sorted({p.venue for p in deployment.pairs})
        lagging = lagging_venue if lagging_venue is not None else venues[-1]
        symbol = {t.address: t.symbol for t in deployment.tokens.values()}
        self.pairs = []
        for p in deployment.pools:
            quote = min((p.token0, p.token1), key=lambda t: QUOTE_ORDER.index(symbol[t]))
            base = p.token1 if quote == p.token0 else p.token0
            self.pairs.append(DrivenPair(p, base, quote, symbol[base], symbol[quote], p.venue == lagging))
        self.stats = DriverStats()
        self.error: BaseException | None = None
        self._sent: list[Sent] = []  # the market's swaps waiting for the next block
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> MarketDriver:
        """Turn automine off, send the first block's swaps and start the block loop on a thread."""
        self._rpc("evm_setAutomine", [False])
        self.prepare()
        self._thread = threading.Thread(target=self._run, name="market-driver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current block and leave the chain mining every transaction as it arrives."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            self._rpc("evm_setAutomine", [True])
            self._mine_pending()
        except (PulsearbError, OSError, ValueError) as exc:
            log.warning("market driver: could not restore automine: %s", exc)

    def _rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        reply = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        if "error" in reply:
            msg = f"{method}: {reply['error']}"
            raise StackError(msg)
        return reply.get("result")

    def _mine_pending(self) -> None:
        status = self._rpc("txpool_status")
        if int(status.get("pending", "0x0"), 16):
            self._rpc("evm_mine")

    def _run(self) -> None:
        last = time.monotonic()
        due = last + self.block_time_s
        try:
            while not self._stop.is_set():
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    break
                now = time.monotonic()
                self.stats.late_s = max(self.stats.late_s, now - last - self.block_time_s)
                last = now
                self.step()
                # The next block one block time after this one was due; when the machine was too busy for that, one
                # block time from now (missed blocks are skipped, not mined in a burst to catch up).
                due += self.block_time_s
                if due < time.monotonic():
                    due = time.monotonic() + self.block_time_s
        except (PulsearbError, OSError, ValueError) as exc:  # surfaced by the caller (``error``)
            self.error = exc
            log.warning("market driver stopped: %s", exc)

    def usd(self, symbol: str, market_s: float) -> float:
        """USD price of a token at ``market_s`` market seconds after the first bar."""
        if symbol not in SERIES:
            return 1.0
        bars = self.bars[SERIES[symbol]]
        return bar_price(bars, bars[0][0] + max(0.0, market_s))

    def targets(self, market_s: float) -> list[Fraction]:
        """Target price of every pool at ``market_s`` market seconds; advances the noise and shock state."""
        self.stats.prices = {s: self.usd(s, market_s) for s in SERIES if SERIES[s] in self.bars}
        out = []
        for d in self.pairs:
            seen = market_s - (self.lag_s if d.lagged else 0.0)
            ratio = self.usd(d.base_symbol, seen) / self.usd(d.quote_symbol, seen)
            if self.rng.random() < self.shock_probability:
                d.shock += self.rng.choice((-1, 1)) * self.rng.uniform(0.008, 0.025)
                self.stats.shocks += 1
            ratio *= 1 + d.shock + self.rng.gauss(0, self.noise)
            d.shock *= self.shock_decay
            out.append(target_price(ratio, 1.0, *d.decimals))
        return out

    def move(self, d: DrivenPair, target: Fraction) -> Sent | None:
        """Send the swap that moves one pool to ``target`` (None when it is there already)."""
        pool = d.pair
        if pool.kind == "v3":
            return self.trader.move_v3_to(pool, target_sqrt_price(pool, d.base, target), V3_BUDGET, MARKET_TIP_WEI)
        r0, r1 = self.trader.reserves(pool)
        base_r, quote_r = (r0, r1) if d.base == pool.token0 else (r1, r0)
        move = reprice(base_r, quote_r, pool.fee_bps, target)
        if move is None:
            return None
        token_in = d.quote if move.buy_base else d.base
        return self.trader.send_swap(pool, token_in, move.amount_in, tip_wei=MARKET_TIP_WEI, amount_out=move.amount_out)

    def prepare(self) -> None:
        """Send the swaps that move every pool to its target for the next block (they wait in the node's pool)."""
        self.stats.market_s = (self.stats.blocks + 1) * self.block_time_s * self.speed
        targets = self.targets(self.stats.market_s)
        self._sent = [s for d, t in zip(self.pairs, targets, strict=True) if (s := self.move(d, t)) is not None]

    def step(self) -> None:
        """Mine the block with everything pending (ordered by priority fee), count how the market's swaps fared,
        and send the next block's."""
        self._rpc("evm_mine")
        self.stats.blocks += 1
        status = {r["transactionHash"]: int(r["status"], 16) for r in self._rpc("eth_getBlockReceipts", ["latest"])}
        for s in self._sent:
            self.stats.swaps += 1
            self.stats.swaps_reverted += status.get(s.tx_hash, 1) != 1
        self.prepare()
