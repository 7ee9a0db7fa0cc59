"""A competing searcher on the local market: another account with its own ArbExecutor, back-running dislocations.

Real chains have more than one searcher; a trade pulsearb simulated can be taken first. The competitor:

- deploys its own ArbExecutor (genuine contracts' route format, flash swaps: it needs no capital) from its own
  account (:data:`ops.simulator.chain.traders.COMPETITOR_KEY`);
- watches the chain: at every new block it reads every pool's exact state (V2 reserves; V3 price, tick and
  liquidity over the tick map read once by :func:`ops.simulator.chain.pools.read_states`, which only mints and burns
  change, and none happen on this market);
- sizes the same cycles with pulsearb's own math: the strategies of the bound detector specs (``cross_dex``,
  ``triangular``: :func:`flows.strategies.strategy`) on those states, the best one by net profit;
- back-runs that dislocation with probability ``probability`` (drawn from ``random.Random(seed)``, once per block
  that has one): the plan is pulsearb's own (:func:`flows.execution.plan.plan_execution`, ``minProfit`` = the gas
  in the start token), simulated with ``eth_call`` and sent with a priority fee above the executor's, so the
  chain orders it first in the next block. One transaction in flight at a time.

What it captured is counted from its receipts: mined transactions with the ``Arbitrage`` event's profit per start
token, reverted ones, gas paid. Nothing waits for pulsearb, and pulsearb learns of it only through the chain.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from web3 import Web3

from base.errors import PulsearbError
from flows.execution.chain import Chain
from flows.execution.errors import ExecutionError
from flows.execution.logs import realized
from flows.execution.plan import fee_caps, opportunity_id_bytes32, plan_execution
from flows.execution.signer import Signer
from flows.opportunity import Opportunity
from flows.pools import PoolState
from flows.spec import FlowSpec
from flows.strategies import strategy
from flows.strategies.params import StrategyParams, params_from_mapping
from ops.simulator.chain.deploy import Deployment
from ops.simulator.chain.pools import read_states
from ops.simulator.chain.tx import TxSender
from ops.simulator.chain.uniswap import read_v2_reserves, read_v3_slot

log = logging.getLogger(__name__)

COMPETITOR_TIP_WEI = 2 * 10**9
"""The competitor's priority fee: above the executor's 1 gwei, so the chain orders its transaction first."""
GAS_LIMIT = 900_000


@dataclass(slots=True)
class CompetitorStats:
    """What the competitor did so far (profits in raw units of each start token)."""

    blocks: int = 0
    dislocations: int = 0  # blocks where its sizing found a profitable cycle
    passed: int = 0  # of those, left alone (the probability said no)
    skipped: int = 0  # its simulation did not reproduce the sizing: nothing sent
    sent: int = 0
    mined: int = 0
    reverted: int = 0
    realized: dict[str, int] = field(default_factory=dict)  # start token -> profit of its mined arbitrages
    gas_cost_wei: int = 0


def detector_params(specs: Sequence[FlowSpec]) -> list[tuple[str, StrategyParams]]:
    """(strategy name, parameters) of every detector spec of a DEX strategy (``cross_dex``, ``triangular``)."""
    return [
        (s.strategy.name, params_from_mapping(s.name, s.strategy.params))
        for s in specs
        if s.kind == "detector" and s.strategy.name in ("cross_dex", "triangular")
    ]


class Competitor:
    """The competing searcher (see the module doc), on a thread.

    Args:
        w3: a connected Web3.
        signer: its account (gas money only: it trades with flash swaps).
        deployment: the market.
        strategies: (strategy name, parameters) it sizes cycles with (:func:`detector_params`).
        probability: chance it back-runs a dislocation it found.
        seed: seed of its choices.
        tip_wei: its priority fee.
        poll_s: pause between looks at the head, seconds.
    """

    def __init__(
        self,
        w3: Web3,
        signer: Signer,
        deployment: Deployment,
        strategies: Sequence[tuple[str, StrategyParams]],
        *,
        probability: float,
        seed: int = 7,
        tip_wei: int = COMPETITOR_TIP_WEI,
        poll_s: float = 0.005,
    ) -> None:
        if not 0.0 <= probability <= 1.0:
            msg = f"competition probability must be within [0, 1], got {probability}"
            raise ValueError(msg)
        self.w3 = w3
        self.chain = Chain(w3, "anvil")
        self.signer = signer
        self.deployment = deployment
        self.strategies = [(strategy(name), params) for name, params in strategies]
        self.probability = probability
        self.rng = random.Random(seed)
        self.tip_wei = tip_wei
        self.poll_s = poll_s
        self.executor = ""
        self.stats = CompetitorStats()
        self.error: BaseException | None = None
        self._tx: TxSender | None = None
        self._held: dict[str, PoolState] = {}
        self._in_flight: tuple[str, str] | None = None  # (tx hash, opportunity id)
        self._last_block = -1
        self.looked_at = -1
        """The last block it finished looking at (and sent its back-run for, if it took one)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def deploy(self) -> str:
        """Deploy its own ArbExecutor (owned by its account); returns the address."""
        self._tx = TxSender(self.w3, self.signer)
        address, sent = self._tx.deploy("ArbExecutor")
        self._tx.wait([sent])
        self.executor = address.lower()
        return self.executor

    def start(self) -> Competitor:
        """Deploy (if not done) and start watching the chain on a thread."""
        if not self.executor:
            self.deploy()
        self._last_block = self.w3.eth.block_number
        self._held = {s.pool: s for s in read_states(self.w3, self.deployment.pools, self._last_block)}
        self._thread = threading.Thread(target=self._run, name="competitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching; the transaction in flight, if any, is followed until mined (up to 10 s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        deadline = time.monotonic() + 10
        while self._in_flight is not None and time.monotonic() < deadline:
            self._follow()
            time.sleep(0.05)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                head = self.w3.eth.block_number
                if head <= self._last_block:
                    time.sleep(self.poll_s)
                    continue
                self._last_block = head
                self.on_block(head)
            except (PulsearbError, OSError, ValueError) as exc:
                self.error = exc
                log.warning("competitor: %s", exc)
                time.sleep(0.5)

    def states(self, block: int) -> list[PoolState]:
        """Every pool's exact state at ``block`` (V3 tick maps as read at start)."""
        now = time.time_ns()
        out = []
        for pool in self.deployment.pools:
            held = self._held[pool.address]
            if held.v3 is not None:
                slot = read_v3_slot(self.w3, pool.address, block)
                v3 = replace(held.v3, sqrt_price_x96=slot.sqrt_price_x96, tick=slot.tick, liquidity=slot.liquidity)
                state = replace(held, v3=v3, block_number=block, timestamp_ns=now)
            else:
                r0, r1 = read_v2_reserves(self.w3, pool.address, block)
                state = replace(held, reserve0=r0, reserve1=r1, block_number=block, timestamp_ns=now)
            out.append(state)
        self._held = {s.pool: s for s in out}
        return out

    def best(self, states: Sequence[PoolState]) -> Opportunity | None:
        """The most profitable cycle pulsearb's strategies find on ``states`` (net of gas), or None."""
        now = time.time_ns()
        found = [opp for evaluate, params in self.strategies for opp in evaluate(states, params, now)]
        return max(found, key=lambda o: o.net_profit, default=None)

    @property
    def idle(self) -> bool:
        """True when it has looked at the chain's head and has no transaction in flight."""
        return self._in_flight is None and self.looked_at >= self.w3.eth.block_number

    def on_block(self, block: int) -> None:
        """Follow the transaction in flight; then, if none, look for a dislocation at ``block`` and maybe take it."""
        self.stats.blocks += 1
        try:
            if self._in_flight is not None:
                self._follow()
                if self._in_flight is not None:
                    return  # still pending: one at a time
            opp = self.best(self.states(block))
            if opp is None or opp.net_profit <= 0:
                return
            self.stats.dislocations += 1
            if self.rng.random() >= self.probability:
                self.stats.passed += 1
                return
            self._send(opp)
        finally:
            self.looked_at = block

    def _send(self, opp: Opportunity) -> None:
        assert self._tx is not None
        plan = plan_execution(  # the fee caps are the sender's (``TxSender.send``): these only fill the plan
            opp,
            chain_id=self.deployment.chain_id,
            executor=self.executor,
            fees=fee_caps(0, self.tip_wei, self.tip_wei),
            gas_limit=GAS_LIMIT,
            min_net_profit=0,
        )
        try:
            simulated = self.chain.simulate(plan, self.signer.address)
        except ExecutionError:
            simulated = None
        if simulated is None or simulated.profit != opp.gross_profit:
            self.stats.skipped += 1
            return
        sent = self._tx.send(plan.to, plan.data, "competitor arbitrage", gas=GAS_LIMIT, tip_wei=self.tip_wei)
        self._in_flight = (sent.tx_hash, opp.id)
        self.stats.sent += 1

    def _follow(self) -> None:
        """Settle the transaction in flight if it was mined."""
        assert self._in_flight is not None
        tx_hash, opp_id = self._in_flight
        receipt = self.chain.receipt(tx_hash)
        if receipt is None:
            return
        self._in_flight = None
        self.stats.gas_cost_wei += receipt.gas_cost_wei
        event = realized(receipt.logs, self.executor, opportunity_id_bytes32(opp_id)) if receipt.status == 1 else None
        if event is None:
            self.stats.reverted += 1
            return
        self.stats.mined += 1
        self.stats.realized[event.token_in] = self.stats.realized.get(event.token_in, 0) + event.profit
