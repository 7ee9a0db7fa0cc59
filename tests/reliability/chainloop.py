"""The closed loop on anvil for the execution drills, with the executor reaching the node only through an RpcProxy.

Everything else (deployment, trader, chain collector and watcher, the drill's own checks) talks to anvil directly,
so a fault injected in the proxy is seen by the risk_execution flow alone, as when its RPC provider fails. Also
here: what the chain itself says about double sends (transactions and ``Arbitrage`` events per opportunity id, the
nonce sequence).
"""

from __future__ import annotations

import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka.admin import NewTopic
from web3 import Web3

from flows.execution.logs import ARBITRAGE_TOPIC
from ops.control.topics import admin_client, apply, load_topics
from ops.simulator.chain.loop import ChainFlowProcess, ChainLoop, TopicReader
from ops.simulator.stack.process import free_port
from tests.reliability.rpc_proxy import RpcProxy

HERE = Path(__file__).resolve().parent
DETECTOR_TEMPLATE = HERE.parent / "closed_loop" / "specs" / "cross_dex.yaml"
RISK_TEMPLATE = HERE / "specs" / "risk_execution.yaml"
DLQS = ("dlq.cl_cross_dex", "dlq.rl_risk_execution")
USDC = 10**6


def create_topics(bootstrap: str) -> None:
    """Every topic of ops/control/topics.yaml (and the shipped specs' DLQs) plus the drill specs' DLQs."""
    apply(bootstrap, load_topics())
    admin = admin_client(bootstrap)
    have = set(admin.list_topics(timeout=10).topics)
    new = [NewTopic(t, num_partitions=1, replication_factor=1) for t in DLQS if t not in have]
    if new:
        for fut in admin.create_topics(new).values():
            fut.result()


class ProxiedLoop(ChainLoop):
    """A :class:`ChainLoop` whose risk_execution flow gets the proxy's URL and a metrics port of its own."""

    def __init__(self, bootstrap: str, state_dir: Path) -> None:
        super().__init__(bootstrap, state_dir, DETECTOR_TEMPLATE, RISK_TEMPLATE, kinds=("v2",))  # one cycle each
        self.proxy: RpcProxy | None = None
        self.metrics_port = free_port()

    def _risk_process(self) -> ChainFlowProcess:
        if self.proxy is None:  # anvil runs by now: its URL is known
            self.proxy = RpcProxy(self.rpc_url).start()
        proc = super()._risk_process()
        proc.extra_args[proc.extra_args.index("--rpc-url") + 1] = self.proxy.url
        proc.metrics_port = self.metrics_port
        return proc

    @property
    def risk(self) -> ChainFlowProcess:
        """The running risk_execution process."""
        return self.flows["risk_execution"]

    def start_risk(self) -> None:
        """Start a new risk_execution process (same ledger, same state directory)."""
        self.flows["risk_execution"] = self._risk_process()
        self.flows["risk_execution"].start()

    def stop(self) -> dict[str, int | None]:
        """Heal the proxy (so the flow can drain), stop the loop, then the proxy."""
        if self.proxy is not None:
            self.proxy.restore()
        try:
            return super().stop()
        finally:
            if self.proxy is not None:
                self.proxy.stop()


@dataclass
class Drill:
    """The running loop and readers of its output topics."""

    chain: ProxiedLoop
    opportunities: TopicReader
    decisions: TopicReader
    executions: TopicReader

    @property
    def proxy(self) -> RpcProxy:
        assert self.chain.proxy is not None
        return self.chain.proxy

    @property
    def w3(self) -> Web3:
        assert self.chain.w3 is not None
        return self.chain.w3

    def close(self) -> None:
        for r in (self.opportunities, self.decisions, self.executions):
            r.close()

    # chain --------------------------------------------------------------------------------------------------
    def swap(self, usdc: int, venue: int = 300) -> int:
        """Buy WETH with ``usdc`` USDC on ``venue`` (mined at once); return the block."""
        c = self.chain
        assert c.trader is not None and c.deployment is not None
        sent = c.trader.swap(c.deployment.pair(venue), c.deployment.tokens["USDC"].address, usdc * USDC)
        return int(self.w3.eth.get_transaction_receipt(sent.tx_hash)["blockNumber"])

    def swap_and_mine(self, usdc: int, venue: int = 300) -> int:
        """With automine off: send the swap, mine one block; return it."""
        c = self.chain
        assert c.trader is not None and c.deployment is not None
        c.trader.send_swap(c.deployment.pair(venue), c.deployment.tokens["USDC"].address, usdc * USDC)
        c.rpc("evm_mine")
        return int(self.w3.eth.block_number)

    def nonce(self, block: str = "latest") -> int:
        """The executor owner's transaction count."""
        return int(self.w3.eth.get_transaction_count(self.chain.owner.address, block))

    # records ------------------------------------------------------------------------------------------------
    def opportunity(self, block: int, timeout_s: float = 60) -> dict[str, Any]:
        """The opportunity detected on ``block``."""
        recs = self.opportunities.wait(
            lambda rs: any(r["block_number"] == block for r in rs), timeout_s, f"an opportunity at block {block}"
        )
        return next(r for r in recs if r["block_number"] == block)

    def decision(self, opp_id: str, timeout_s: float = 60) -> dict[str, Any]:
        """The first decision record of ``opp_id``."""
        recs = self.decisions.wait(
            lambda rs: any(r["opportunity_id"] == opp_id for r in rs), timeout_s, f"the decision on {opp_id}"
        )
        return next(r for r in recs if r["opportunity_id"] == opp_id)

    def execution(self, opp_id: str, timeout_s: float = 60) -> dict[str, Any]:
        """The first execution record of ``opp_id``."""
        recs = self.executions.wait(
            lambda rs: any(r["opportunity_id"] == opp_id for r in rs), timeout_s, f"the execution of {opp_id}"
        )
        return next(r for r in recs if r["opportunity_id"] == opp_id)

    def metric(self, name: str, label: str = "") -> float | None:
        """A gauge of the risk_execution flow from its Prometheus endpoint (None: not exposed).

        Args:
            name: the metric.
            label: a ``key="value"`` the series must carry ("" for any).
        """
        url = f"http://127.0.0.1:{self.chain.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as resp:
            text = resp.read().decode()
        for line in text.splitlines():
            if line.split("{", 1)[0].split(" ", 1)[0] == name and label in line:
                return float(line.rsplit(" ", 1)[1])
        return None

    def wait_metric(self, name: str, value: float, label: str = "", timeout_s: float = 10) -> float | None:
        """Read a gauge until it shows ``value`` (gauges are refreshed every 250 ms); return the last reading."""
        deadline = time.monotonic() + timeout_s
        seen = self.metric(name, label)
        while seen != value and time.monotonic() < deadline:
            time.sleep(0.05)
            seen = self.metric(name, label)
        return seen

    def wait_started(self, before: int, timeout_s: float = 60) -> None:
        """Wait until a restarted risk process re-emitted a stored decision (its start-up recovery is done)."""
        deadline = time.monotonic() + timeout_s
        while len(self.decisions.read()) <= before:
            self.chain.check_alive()
            assert time.monotonic() < deadline, "the restarted risk_execution flow replayed nothing"
            time.sleep(0.05)


@dataclass(frozen=True, slots=True)
class ChainTx:
    """A mined transaction of the executor's owner."""

    nonce: int
    to: str
    opportunity_id: str  # "" when not a call to the executor
    status: int
    tx_hash: str


def owner_transactions(w3: Web3, owner: str, executor: str) -> list[ChainTx]:
    """Every mined transaction from ``owner``, oldest first (the opportunity id read from the calldata)."""
    owner, executor = owner.lower(), executor.lower()
    out = []
    for number in range(int(w3.eth.block_number) + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            if str(tx["from"]).lower() != owner:
                continue
            to = str(tx["to"] or "").lower()
            data = bytes(tx["input"])
            # execute(bytes32 opportunityId, ...) and executeWithFlashLoan(bytes32 opportunityId, ...): word 0.
            oid = data[4:20].hex() if to == executor and len(data) >= 36 else ""
            status = int(w3.eth.get_transaction_receipt(tx["hash"])["status"])
            out.append(ChainTx(int(tx["nonce"]), to, oid, status, "0x" + bytes(tx["hash"]).hex()))
    return out


def arbitrage_events(w3: Web3, executor: str) -> Counter[str]:
    """``Arbitrage`` events per opportunity id (the id is the topic's first 16 bytes)."""
    logs = w3.eth.get_logs(
        {
            "fromBlock": 0,
            "toBlock": "latest",
            "address": Web3.to_checksum_address(executor),
            "topics": ["0x" + ARBITRAGE_TOPIC.hex()],
        }
    )
    return Counter(bytes(lg["topics"][1])[:16].hex() for lg in logs)
