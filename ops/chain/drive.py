"""Drive the local chain's pool prices from real Coinbase minute bars: the market ``pulsearb up`` trades against.

Every ``block_time_s`` (wall seconds) the driver advances market time by ``block_time_s * speed`` and gives each
pair a target price: the ratio of its tokens' USD prices (WETH from the ETH-USD bars, WBTC from BTC-USD, USDC at
1, interpolated within the minute), seen ``lag_s`` market seconds late on the lagging venue, times a little
noise, times a decaying shock: with probability ``shock_probability`` per pair and block a large trade hits one venue
(a 0.8-2.5 % move that decays by ``shock_decay`` per block). The trader's swaps that move each pool to its
target (:func:`ops.chain.reprice.reprice`, exact integers) are mined together in one block.

Ordering with the executor: the market's swaps pay a 1-wei priority fee, below any executor's, so an arbitrage
that reaches the pool while the market's block is being built goes first, on the state it was simulated on. The
driver reads the reserves, and later mines, only when ``ready()`` says no executor is between its simulation
and its broadcast (waiting up to ``max_wait_s``): a market block never lands between the two, so a mined
arbitrage realizes its predicted profit to the wei. (A block builder that backruns, as searchers on real chains
pay for; the market does not wait for the pipeline otherwise, so a slow detection is simply stale by the time it
is decided.) A market swap computed before an arbitrage that then went first fails the pair's K check and is
counted in :attr:`DriverStats.swaps_reverted`.
"""

from __future__ import annotations

import bisect
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from web3 import Web3

from flows.errors import PulsearbError, StackError
from ops.chain.deploy import Deployment, PairInfo
from ops.chain.market import Trader
from ops.chain.reprice import reprice
from ops.chain.tx import Sent

log = logging.getLogger(__name__)

MARKET_TIP_WEI = 1
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


@dataclass(slots=True)
class DrivenPair:
    """A pair the driver moves, and its running shock."""

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
    waited_s: float = 0.0
    market_s: float = 0.0
    prices: dict[str, float] = field(default_factory=dict)  # base symbol -> last bar price (USD)


class MarketDriver:
    """Moves every pair of a deployment toward its bar price, one block per ``block_time_s``, on a thread.

    Args:
        w3: a connected Web3 (anvil: the driver mines with ``evm_mine``).
        trader: the funded trader account.
        deployment: what was deployed (pairs of USDC, WETH and optionally WBTC).
        bars: series name -> [(unix seconds, close USD)], e.g. :func:`ops.market.model.load_bars`.
        speed: market seconds per wall second.
        block_time_s: wall seconds between the market's blocks.
        seed: seed of noise and shocks (the schedule is deterministic per seed).
        lag_s: market seconds the lagging venue's price trails the bars.
        lagging_venue: which venue lags (default: the deployment's second venue).
        shock_probability: chance per pair and block of a large trade.
        shock_decay: factor a shock keeps per block.
        noise_bps: standard deviation of the per-block noise, bps.
        ready: no executor is between simulation and broadcast (see the module doc); None never waits.
        max_wait_s: longest wait for ``ready`` before a block is mined anyway.
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
        ready: Callable[[], bool] | None = None,
        max_wait_s: float = 5.0,
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
        self.ready = ready
        self.max_wait_s = max_wait_s
        self.rng = random.Random(seed)
        venues = sorted({p.venue for p in deployment.pairs})
        lagging = lagging_venue if lagging_venue is not None else venues[-1]
        symbol = {t.address: t.symbol for t in deployment.tokens.values()}
        self.pairs = []
        for p in deployment.pairs:
            quote = min((p.token0, p.token1), key=lambda t: QUOTE_ORDER.index(symbol[t]))
            base = p.token1 if quote == p.token0 else p.token0
            self.pairs.append(DrivenPair(p, base, quote, symbol[base], symbol[quote], p.venue == lagging))
        self.stats = DriverStats()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> MarketDriver:
        """Start the block loop on a thread."""
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
        start = time.monotonic()
        try:
            while not self._stop.is_set():
                due = start + (self.stats.blocks + 1) * self.block_time_s
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    break
                self.step()
        except (PulsearbError, OSError, ValueError) as exc:  # surfaced by the caller (``error``)
            self.error = exc
            log.warning("market driver stopped: %s", exc)

    def _wait_ready(self) -> None:
        if self.ready is None:
            return
        t0 = time.monotonic()
        deadline = t0 + self.max_wait_s
        while not self.ready() and time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(0.005)
        self.stats.waited_s += time.monotonic() - t0

    def usd(self, symbol: str, market_s: float) -> float:
        """USD price of a token at ``market_s`` market seconds after the first bar."""
        if symbol not in SERIES:
            return 1.0
        bars = self.bars[SERIES[symbol]]
        return bar_price(bars, bars[0][0] + max(0.0, market_s))

    def targets(self, market_s: float) -> list[Fraction]:
        """Target price of every pair at ``market_s`` market seconds; advances the noise and shock state."""
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

    def step(self) -> None:
        """Mine one market block: every pair swapped to its target."""
        self.stats.blocks += 1
        self.stats.market_s = self.stats.blocks * self.block_time_s * self.speed
        targets = self.targets(self.stats.market_s)
        self._wait_ready()  # an arbitrage being sent now is mined at once (automine), before the reserves are read
        self._rpc("evm_setAutomine", [False])
        sent: list[Sent] = []
        try:
            self._mine_pending()  # one that arrived in between goes first, in its own block
            for d, target in zip(self.pairs, targets, strict=True):
                r0, r1 = self.trader.reserves(d.pair)
                base_r, quote_r = (r0, r1) if d.base == d.pair.token0 else (r1, r0)
                move = reprice(base_r, quote_r, d.pair.fee_bps, target)
                if move is None:
                    continue
                token_in = d.quote if move.buy_base else d.base
                sent.append(
                    self.trader.send_swap(
                        d.pair, token_in, move.amount_in, tip_wei=MARKET_TIP_WEI, amount_out=move.amount_out
                    )
                )
            if sent:
                # Again right before mining: an arbitrage sent while the swaps were being sent is pending with a
                # higher tip, so it goes first (the market's swap on a pool it moved then fails the K check).
                self._wait_ready()
                self._rpc("evm_mine")
        finally:
            self._rpc("evm_setAutomine", [True])
            self._mine_pending()  # whatever arrived while the block was built
        for s in sent:
            receipt = self.w3.eth.get_transaction_receipt(s.tx_hash)  # type: ignore[arg-type]
            self.stats.swaps += 1
            if receipt["status"] != 1:
                self.stats.swaps_reverted += 1
