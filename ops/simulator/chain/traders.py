"""Ordinary traders on the local market: funded accounts sending random-size swaps between and within blocks.

They are the users of the venues a real chain has besides the market driver's price moves and the searchers:
each swap picks a pool (V2 pair or V3 pool), a direction and a size (log-uniform between ``min_usd`` and
``max_usd`` of the input token at the opening prices) and a priority fee; most pay a low tip, a share
(``priority_share``) pay more than pulsearb's executor, so they land before an arbitrage in the same block and
move its pools first. V2 swaps take ``slippage_bps`` less than the live reserves would pay (a router's minimum
output), so a swap that another one in the same block moved against is still mined; V3 swaps go through the
genuine SwapRouter with no minimum. Swaps are sent at random times (exponential gaps, ``swaps_per_block`` on
average per block); the chain mines them with the next block, like every other pending transaction.

Everything random is drawn from one ``random.Random(seed)``: the schedule of sizes, pools, directions and tips is
the same per seed (when each lands relative to the pipeline's transactions is not).
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from web3 import Web3
from web3.exceptions import TransactionNotFound

from base.errors import PulsearbError
from flows.amm.v2 import get_amount_out
from flows.execution.signer import Signer
from ops.simulator.chain.deploy import Deployment, PairInfo
from ops.simulator.chain.market import Trader
from ops.simulator.chain.tx import TxSender, contract

log = logging.getLogger(__name__)

# anvil's dev accounts #2-#5 (its public test mnemonic, like ops.simulator.chain.deploy.ANVIL_KEYS #0-#1): three
# ordinary traders and the competing searcher. Never keys of a real chain.
TRADER_KEYS = (
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
)
COMPETITOR_KEY = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"
FUNDING = {"USDC": 600_000, "WETH": 300, "WBTC": 10}
"""Whole tokens :func:`fund` gives each account (WBTC only when deployed)."""
LOW_TIP_WEI = (1, 10**8)  # range of an ordinary tip: below the executor's 1 gwei
HIGH_TIP_WEI = (15 * 10**8, 3 * 10**9)  # a trader in a hurry: above it


def fund(w3: Web3, funder: Signer, deployment: Deployment, addresses: Sequence[str]) -> None:
    """Give every address :data:`FUNDING` of each deployed token from ``funder`` (the deployer holds the supply).

    Raises:
        StackError: a transfer reverted (the funder lacks the tokens).
    """
    tx = TxSender(w3, funder)
    sent = []
    for symbol, whole in FUNDING.items():
        token = deployment.tokens.get(symbol)
        if token is None:
            continue
        erc20 = contract(w3, "TestToken", token.address)
        for address in addresses:
            sent.append(tx.call(erc20, "transfer", Web3.to_checksum_address(address), whole * 10**token.decimals))
    tx.wait(sent)


@dataclass(slots=True)
class TraderStats:
    """What the ordinary traders did so far."""

    swaps: int = 0
    reverted: int = 0
    priority: int = 0  # swaps that paid a tip above the executor's


class Traders:
    """Random swaps from a few funded accounts, on a thread (see the module doc).

    Args:
        w3: a connected Web3.
        signers: the traders' accounts (funded with :func:`fund`).
        deployment: the market.
        usd: whole-token USD price per symbol (sizes; USDC is 1).
        block_time_s: wall seconds per block.
        swaps_per_block: mean number of swaps per block.
        min_usd: smallest swap, USD.
        max_usd: largest swap, USD.
        priority_share: share of swaps paying more than the executor's tip.
        slippage_bps: V2 swaps take this much less than the reserves pay.
        seed: seed of the schedule.
    """

    def __init__(
        self,
        w3: Web3,
        signers: Sequence[Signer],
        deployment: Deployment,
        usd: Mapping[str, float],
        *,
        block_time_s: float = 1.0,
        swaps_per_block: float = 2.0,
        min_usd: float = 500.0,
        max_usd: float = 25_000.0,
        priority_share: float = 0.15,
        slippage_bps: int = 100,
        seed: int = 7,
    ) -> None:
        self.w3 = w3
        self.traders = [Trader(w3, s, deployment) for s in signers]
        self.pools = list(deployment.pools)
        self.price = {t.address: (usd.get(s, 1.0), t.decimals) for s, t in deployment.tokens.items()}
        self.gap_s = block_time_s / max(swaps_per_block, 1e-9)
        self.sizes = (math.log(min_usd), math.log(max_usd))
        self.priority_share = priority_share
        self.slippage_bps = slippage_bps
        self.rng = random.Random(seed)
        self.stats = TraderStats()
        self.error: BaseException | None = None
        self._pending: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Traders:
        """Start sending on a thread."""
        self._thread = threading.Thread(target=self._run, name="market-traders", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sending (swaps already sent are mined with the next blocks)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._count_receipts()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.rng.expovariate(1.0 / self.gap_s)):
                self.swap_once()
                self._count_receipts()
        except (PulsearbError, OSError, ValueError) as exc:  # surfaced by the caller (``error``)
            self.error = exc
            log.warning("market traders stopped: %s", exc)

    def swap_once(self) -> str:
        """Send one random swap now; returns its transaction hash."""
        rng = self.rng
        trader = rng.choice(self.traders)
        pool = rng.choice(self.pools)
        token_in = pool.token0 if rng.random() < 0.5 else pool.token1
        usd_per_unit, decimals = self.price[token_in]
        amount = int(math.exp(rng.uniform(*self.sizes)) / usd_per_unit * 10**decimals)
        high = rng.random() < self.priority_share
        tip = rng.randint(*(HIGH_TIP_WEI if high else LOW_TIP_WEI))
        sent = trader.send_swap(
            pool, token_in, amount, tip_wei=tip, amount_out=self._min_out(trader, pool, token_in, amount)
        )
        self.stats.swaps += 1
        self.stats.priority += high
        self._pending.append(sent.tx_hash)
        return sent.tx_hash

    def _min_out(self, trader: Trader, pool: PairInfo, token_in: str, amount: int) -> int | None:
        if pool.kind == "v3":
            return None
        r0, r1 = trader.reserves(pool)
        reserve_in, reserve_out = (r0, r1) if token_in == pool.token0 else (r1, r0)
        return get_amount_out(amount, reserve_in, reserve_out, pool.fee_bps) * (10_000 - self.slippage_bps) // 10_000

    def _count_receipts(self) -> None:
        """Count the reverted swaps among those mined since the last call."""
        still = []
        for tx_hash in self._pending:
            try:
                receipt = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                still.append(tx_hash)
                continue
            self.stats.reverted += receipt["status"] != 1
        self._pending = still
