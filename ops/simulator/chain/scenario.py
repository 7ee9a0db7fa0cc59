"""The chain scenario of ``pulsearb up``: a market on the local chain that the flows of flows/specs execute against.

1. :meth:`ChainScenario.prepare` deploys the market on the stack's anvil on the genuine Uniswap contracts (tokens,
   two V2 venues with USDC/WETH, USDC/WBTC and WETH/WBTC pairs and a V3 venue with pools of the same tokens, all
   opening at the first Coinbase bar, the executor, a flash lender), funds the ordinary traders, deploys the
   competing searcher's own executor, writes the deployment file (``<state>/chain/deployment.json``) and binds
   every spec of flows/specs to it (:mod:`ops.simulator.chain.bind`), the chain collector's included: it seeds and
   follows every V2 pair and V3 pool, and the detectors' catalogs know every pool's fee and tick spacing.
2. :attr:`ChainScenario.flow_env` is what the risk_execution flows get in their environment (only they): the
   executor owner's key (anvil's first dev account) and the deployment file. The collector gets the chain's RPC
   URL from the pipeline like risk_execution does (``PULSEARB_RPC_URL``).
3. :meth:`ChainScenario.start` starts the chain watcher (every pool's Swap logs -> PoolSwap frames on the relay,
   what the AlphaPulse Polygon adapter sends: pool state comes from the collector, not from the relay), the
   market driver (bars -> swaps on every pool, one block per ``block_time_s`` on its own clock, never waiting for
   pulsearb: :mod:`ops.simulator.chain.drive`), the ordinary traders (:mod:`ops.simulator.chain.traders`), the
   competing searcher
   (:mod:`ops.simulator.chain.compete`, back-running a dislocation with probability ``competition``) and the exchange:
   Coinbase quotes at the bar prices and real Coinbase trades replayed into the relay in market time
   (:func:`ops.simulator.market.model.generate_cex`), for the cex_dex detector.
4. :meth:`ChainScenario.stop_market` ends the swaps, the traders and the competitor and leaves anvil mining every
   transaction as it arrives, so arbitrages in flight are mined while the flows drain; :meth:`ChainScenario.stop`
   ends the watcher.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from web3 import Web3

from base.errors import PulsearbError, StackError
from flows.execution.config import DEPLOYMENT_ENV
from flows.execution.signer import KEY_ENV, Signer
from flows.spec import FlowSpec
from ops.simulator.chain.bind import bind_specs
from ops.simulator.chain.compete import Competitor, detector_params
from ops.simulator.chain.deploy import ANVIL_KEYS, Deployment, deploy
from ops.simulator.chain.drive import MarketDriver
from ops.simulator.chain.market import Trader
from ops.simulator.chain.traders import COMPETITOR_KEY, TRADER_KEYS, Traders, fund
from ops.simulator.chain.watcher import ChainWatcher, SwapSeen

if TYPE_CHECKING:
    from ops.simulator.replay import ReplayStats

log = logging.getLogger(__name__)

POLL_S = 0.01
"""How often the watcher and the competitor look for a new block, seconds."""


class ChainScenario:
    """The local chain's market around one ``pulsearb up`` run.

    Args:
        rpc_url: the stack's anvil.
        state_dir: ``$PULSEARB_HOME``; the deployment and the bound specs go to ``<state_dir>/chain``.
        speed: market seconds per wall second.
        block_time_s: wall seconds between the market's blocks.
        seed: seed of the market's noise and shocks, the traders' swaps and the competitor's choices.
        competition: probability the competing searcher back-runs a dislocation it found (0: it never does).
        traders: ordinary trader accounts sending random swaps (0 to 3).
    """

    def __init__(
        self,
        rpc_url: str,
        state_dir: Path,
        *,
        speed: float = 30.0,
        block_time_s: float = 1.0,
        seed: int = 7,
        competition: float = 0.3,
        traders: int = 3,
    ) -> None:
        from ops.simulator.market.model import load_bars

        if not 0.0 <= competition <= 1.0:
            msg = f"--competition must be a probability within [0, 1], got {competition}"
            raise StackError(msg)
        if not 0 <= traders <= len(TRADER_KEYS):
            msg = f"--traders must be within 0..{len(TRADER_KEYS)}, got {traders}"
            raise StackError(msg)
        self.rpc_url = rpc_url
        self.dir = state_dir / "chain"
        self.speed = speed
        self.block_time_s = block_time_s
        self.seed = seed
        self.competition = competition
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
        self.owner = Signer.from_key(ANVIL_KEYS[0])
        self.trader_signer = Signer.from_key(ANVIL_KEYS[1])
        self.trader_signers = [Signer.from_key(k) for k in TRADER_KEYS[:traders]]
        self.bars = load_bars()
        self.deployment: Deployment | None = None
        self.watcher: ChainWatcher | None = None
        self.driver: MarketDriver | None = None
        self.traders: Traders | None = None
        self.competitor: Competitor | None = None
        self.cex_frames = 0
        self._cex: threading.Thread | None = None
        self._cex_stop = threading.Event()

    @property
    def frames(self) -> int:
        """Frames sent to the relay so far: Swap logs and exchange quotes and trades."""
        return (self.watcher.frames if self.watcher else 0) + self.cex_frames

    @property
    def deployment_file(self) -> Path:
        """Where the deployment is written."""
        return self.dir / "deployment.json"

    def opening_prices(self) -> dict[str, float]:
        """USD price of WETH and WBTC at the first bar."""
        return {"WETH": self.bars["ETH_USD"][0][1], "WBTC": self.bars["BTC_USD"][0][1]}

    def prepare(self, specs: Sequence[FlowSpec]) -> list[FlowSpec]:
        """Deploy the market, fund the traders, deploy the competitor's executor; return ``specs`` bound to it.

        Raises:
            StackError: the node does not answer, or a deployment transaction failed.
            SpecError: a bound spec is invalid.
        """
        if not self.w3.is_connected():
            msg = f"no JSON-RPC node answers at {self.rpc_url}: restart the stack (`pulsearb stack down`, then up)"
            raise StackError(msg)
        opening = self.opening_prices()
        self.deployment = deploy(
            self.w3,
            self.owner,
            trader=self.trader_signer.address,
            weth_price_usdc=round(opening["WETH"]),
            wbtc_price_usdc=round(opening["WBTC"]),
        )
        self.deployment.write(self.deployment_file)
        if self.trader_signers:
            fund(self.w3, self.owner, self.deployment, [s.address for s in self.trader_signers])
        values = {"WETH_USD": f"{opening['WETH']:.2f}", "WBTC_USD": f"{opening['WBTC']:.2f}"}
        bound = bind_specs(specs, self.deployment, self.dir / "specs", values)
        self.competitor = Competitor(
            self.w3,
            Signer.from_key(COMPETITOR_KEY),
            self.deployment,
            detector_params(bound),
            probability=self.competition,
            seed=self.seed,
            poll_s=POLL_S,
        )
        self.competitor.deploy()
        return bound

    @property
    def flow_env(self) -> dict[str, dict[str, str]]:
        """Environment of the risk_execution flows: the executor owner's key and the deployment file."""
        return {"risk_execution": {KEY_ENV: ANVIL_KEYS[0], DEPLOYMENT_ENV: str(self.deployment_file)}}

    def start(
        self, relay_socket: str, *, exchange_s: float = 0.0, on_frame: Callable[[SwapSeen], None] | None = None
    ) -> None:
        """Start the watcher, the market driver, the traders, the competitor and the exchange feed.

        Args:
            relay_socket: the market-data relay the bridge reads.
            exchange_s: wall seconds of exchange quotes and trades to replay (0: none).
            on_frame: called with every swap the watcher sends.
        """
        assert self.deployment is not None and self.competitor is not None, "prepare() first"
        # Blocks come every block_time_s: polling every 10 ms adds at most that to the feed, and spares the CPU.
        self.watcher = ChainWatcher(
            self.rpc_url, self.deployment.pools, relay_socket, poll_s=POLL_S, on_sent=on_frame
        ).start()
        trader = Trader(self.w3, self.trader_signer, self.deployment)
        self.driver = MarketDriver(
            self.w3,
            trader,
            self.deployment,
            self.bars,
            speed=self.speed,
            block_time_s=self.block_time_s,
            seed=self.seed,
        ).start()
        if self.trader_signers:
            usd = self.opening_prices()
            self.traders = Traders(
                self.w3, self.trader_signers, self.deployment, usd, block_time_s=self.block_time_s, seed=self.seed
            ).start()
        if self.competition > 0:
            self.competitor.start()
        if exchange_s > 0:
            self._cex = threading.Thread(
                target=self._replay_cex, args=(relay_socket, exchange_s), name="cex-feed", daemon=True
            )
            self._cex.start()

    def _replay_cex(self, relay_socket: str, duration_s: float) -> None:
        from ops.simulator.market.model import approx_blocks, generate_cex
        from ops.simulator.replay import replay

        def sent(stats: ReplayStats) -> None:
            self.cex_frames = stats.frames

        frames = generate_cex(approx_blocks(duration_s, self.speed))
        try:
            replay(relay_socket, frames, speed=self.speed, should_stop=self._cex_stop.is_set, on_sent=sent)
        except (PulsearbError, OSError) as exc:
            log.warning("exchange feed stopped: %s", exc)

    def check(self) -> None:
        """Raise if the market driver, the traders or the competitor stopped on an error.

        Raises:
            StackError: naming the error.
        """
        for name, part in (("chain market", self.driver), ("traders", self.traders)):
            if part is not None and part.error is not None:
                msg = f"the {name} stopped: {part.error}"
                raise StackError(msg)

    def stop_market(self) -> None:
        """End the swaps, the traders, the competitor and the exchange feed; anvil then mines every later
        transaction as it arrives."""
        self._cex_stop.set()
        if self._cex is not None:
            self._cex.join(timeout=10)
        if self.traders is not None:
            self.traders.stop()
        if self.driver is not None:
            self.driver.stop()
        if self.competitor is not None:
            self.competitor.stop()

    def stop(self) -> None:
        """End the market and the watcher."""
        self.stop_market()
        if self.watcher is not None:
            self.watcher.stop()
