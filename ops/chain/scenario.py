"""The chain scenario of ``pulsearb up``: a market on the local chain that the flows of flows/specs execute against.

1. :meth:`ChainScenario.prepare` deploys the market on the stack's anvil on the genuine Uniswap contracts (tokens,
   two V2 venues with USDC/WETH, USDC/WBTC and WETH/WBTC pairs and a V3 venue with pools of the same tokens, all
   opening at the first Coinbase bar, the executor, a flash lender), writes the deployment file
   (``<state>/chain/deployment.json``) and binds every spec of flows/specs to it (:mod:`ops.chain.bind`).
2. :attr:`ChainScenario.flow_env` is what the risk_execution flows get in their environment (only they): the
   executor owner's key (anvil's first dev account) and the deployment file.
3. :meth:`ChainScenario.start` starts the chain watcher (V2 pair Sync logs -> PoolSync frames on the relay, the
   AlphaPulse Polygon adapter's role; the V3 pools are not reported yet, so the detectors see the V2 pairs and the
   driver moves only them), the market driver (bars -> swaps, :mod:`ops.chain.drive`), which mines
   its blocks only while no executor is between simulating and sending (:func:`executor_idle`), and the
   exchange: Coinbase quotes at the bar prices and real Coinbase trades replayed into the relay in market time
   (:func:`ops.market.model.generate_cex`), for the cex_dex detector.
4. :meth:`ChainScenario.stop_market` ends the swaps and leaves anvil mining every transaction as it arrives, so
   arbitrages in flight are mined while the flows drain; :meth:`ChainScenario.stop` ends the watcher.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from web3 import Web3

from flows.errors import PulsearbError, StackError
from flows.execution.config import DEPLOYMENT_ENV
from flows.execution.signer import KEY_ENV, Signer
from flows.spec import FlowSpec
from ops.chain.bind import bind_specs
from ops.chain.deploy import ANVIL_KEYS, Deployment, deploy
from ops.chain.drive import MarketDriver
from ops.chain.market import Trader
from ops.chain.watcher import ChainWatcher, SyncEvent

if TYPE_CHECKING:
    from ops.replay import ReplayStats

log = logging.getLogger(__name__)

# An accepted decision with no execution row yet (simulating, signing) or a row not yet broadcast: the executor
# writes the decision, then simulates, then writes the row (``sending``) before the broadcast (``pending``).
_BUSY = (
    "SELECT count(*) FROM decisions d LEFT JOIN executions e ON e.opportunity_id = d.opportunity_id "
    "WHERE d.accepted = 1 AND (e.state IS NULL OR e.state = 'sending')"
)


def executor_idle(ledger: Path) -> bool:
    """True unless a risk_execution flow is between deciding an opportunity and broadcasting its transaction.

    Reads the flow's ledger (flows/execution/ledger.py) read-only, as ``read_summary`` does: safe while it runs.
    """
    if not ledger.exists():
        return True
    try:
        db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=1.0)
        try:
            return db.execute(_BUSY).fetchone()[0] == 0
        finally:
            db.close()
    except sqlite3.Error:
        return True  # not created yet (no tables): nothing decided


class ChainScenario:
    """The local chain's market around one ``pulsearb up`` run.

    Args:
        rpc_url: the stack's anvil.
        state_dir: ``$PULSEARB_HOME``; the deployment and the bound specs go to ``<state_dir>/chain``.
        speed: market seconds per wall second.
        block_time_s: wall seconds between the market's blocks.
        seed: seed of the market's noise and shocks.
    """

    def __init__(
        self, rpc_url: str, state_dir: Path, *, speed: float = 30.0, block_time_s: float = 1.0, seed: int = 7
    ) -> None:
        from ops.market.model import load_bars

        self.rpc_url = rpc_url
        self.dir = state_dir / "chain"
        self.speed = speed
        self.block_time_s = block_time_s
        self.seed = seed
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
        self.owner = Signer.from_key(ANVIL_KEYS[0])
        self.trader_signer = Signer.from_key(ANVIL_KEYS[1])
        self.bars = load_bars()
        self.deployment: Deployment | None = None
        self.watcher: ChainWatcher | None = None
        self.driver: MarketDriver | None = None
        self.cex_frames = 0
        self._cex: threading.Thread | None = None
        self._cex_stop = threading.Event()

    @property
    def frames(self) -> int:
        """Frames sent to the relay so far: Sync logs and exchange quotes and trades."""
        return (self.watcher.frames if self.watcher else 0) + self.cex_frames

    @property
    def deployment_file(self) -> Path:
        """Where the deployment is written."""
        return self.dir / "deployment.json"

    def opening_prices(self) -> dict[str, float]:
        """USD price of WETH and WBTC at the first bar."""
        return {"WETH": self.bars["ETH_USD"][0][1], "WBTC": self.bars["BTC_USD"][0][1]}

    def prepare(self, specs: Sequence[FlowSpec]) -> list[FlowSpec]:
        """Deploy the market and return ``specs`` bound to it.

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
        values = {"WETH_USD": f"{opening['WETH']:.2f}", "WBTC_USD": f"{opening['WBTC']:.2f}"}
        return bind_specs(specs, self.deployment, self.dir / "specs", values)

    @property
    def flow_env(self) -> dict[str, dict[str, str]]:
        """Environment of the risk_execution flows: the executor owner's key and the deployment file."""
        return {"risk_execution": {KEY_ENV: ANVIL_KEYS[0], DEPLOYMENT_ENV: str(self.deployment_file)}}

    def start(
        self,
        relay_socket: str,
        ledgers: Sequence[Path],
        *,
        exchange_s: float = 0.0,
        on_frame: Callable[[SyncEvent], None] | None = None,
    ) -> None:
        """Start the watcher (it first sends every pair's reserves), the market driver and the exchange feed.

        Args:
            relay_socket: the market-data relay the bridge reads.
            ledgers: the risk_execution flows' ledgers: the driver mines a block only when none of them holds
                an accepted opportunity between its simulation and its broadcast (:func:`executor_idle`).
            exchange_s: wall seconds of exchange quotes and trades to replay (0: none).
            on_frame: called with every frame the watcher sends.
        """
        assert self.deployment is not None, "prepare() first"
        self.watcher = ChainWatcher(self.rpc_url, self.deployment.pairs, relay_socket, on_sent=on_frame).start()
        trader = Trader(self.w3, self.trader_signer, self.deployment)
        self.driver = MarketDriver(
            self.w3,
            trader,
            self.deployment,
            self.bars,
            speed=self.speed,
            block_time_s=self.block_time_s,
            seed=self.seed,
            ready=lambda: all(executor_idle(p) for p in ledgers),
        ).start()
        if exchange_s > 0:
            self._cex = threading.Thread(
                target=self._replay_cex, args=(relay_socket, exchange_s), name="cex-feed", daemon=True
            )
            self._cex.start()

    def _replay_cex(self, relay_socket: str, duration_s: float) -> None:
        from ops.market.model import approx_blocks, generate_cex
        from ops.replay import replay

        def sent(stats: ReplayStats) -> None:
            self.cex_frames = stats.frames

        frames = generate_cex(approx_blocks(duration_s, self.speed))
        try:
            replay(relay_socket, frames, speed=self.speed, should_stop=self._cex_stop.is_set, on_sent=sent)
        except (PulsearbError, OSError) as exc:
            log.warning("exchange feed stopped: %s", exc)

    def check(self) -> None:
        """Raise if the market driver stopped on an error.

        Raises:
            StackError: naming the error.
        """
        if self.driver is not None and self.driver.error is not None:
            msg = f"the chain market stopped: {self.driver.error}"
            raise StackError(msg)

    def stop_market(self) -> None:
        """End the swaps and the exchange feed; anvil mines every later transaction as it arrives."""
        self._cex_stop.set()
        if self._cex is not None:
            self._cex.join(timeout=10)
        if self.driver is not None:
            self.driver.stop()

    def stop(self) -> None:
        """End the market and the watcher."""
        self.stop_market()
        if self.watcher is not None:
            self.watcher.stop()
