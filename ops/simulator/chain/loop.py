"""The closed loop on a local chain: anvil, the deployed market, the chain collector (exact pool states from the
chain, ``market.pool_state``), a relay fed by the chain watcher (the pools' Swap logs as PoolSwap frames), and the
flows bridge -> detector -> risk_execution running as processes against a Kafka broker; accepted opportunities go
back to the relay's signals socket as ArbitrageSignal frames. The chain mines every transaction as it arrives
(automine): nothing competes with the executor unless a test sends it.

Used by the closed-loop tests and ``bench/execute.py``; it is also the shape ``pulsearb up`` needs to execute on
anvil. Spec templates are YAML files with ``${NAME}`` placeholders filled from the deployment
(:func:`ops.simulator.chain.bind.render_spec`, the renderer ``pulsearb up`` binds flows/specs with), so detector
parameters always match the pools on chain.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from web3 import Web3

from base.errors import StackError
from base.paths import ROOT
from flows.execution.signer import KEY_ENV, Signer
from flows.relay.protocol import RelayDomain
from flows.relay.server import RelayServer
from flows.spec import FlowSpec, load_spec
from ops.control.flowproc import FlowProcess
from ops.simulator.chain.bind import bind_specs, render_spec
from ops.simulator.chain.deploy import ANVIL_KEYS, Deployment, PairInfo, deploy
from ops.simulator.chain.market import Trader
from ops.simulator.chain.watcher import ChainWatcher, SwapSeen
from ops.simulator.stack import process
from ops.simulator.stack.chain import chain_spec
from schemas.serde import codec
from sinks.kafka import client_config


@dataclass(slots=True)
class ChainFlowProcess(FlowProcess):
    """A flow process with the extra arguments and environment of a risk_execution flow.

    Args:
        extra_args: appended to the command line (``--rpc-url``, ``--state-dir``).
        extra_env: added to the environment (the signing key travels here, never in argv).
    """

    extra_args: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    def argv(self) -> list[str]:
        """The command line of the process."""
        return FlowProcess.argv(self) + self.extra_args

    def env(self) -> dict[str, str]:
        """The process environment."""
        return FlowProcess.env(self) | self.extra_env


class TopicReader:
    """Reads and decodes every record of a topic from the beginning, incrementally."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._codec = codec(topic)
        self._consumer = Consumer(
            client_config(
                bootstrap, {"group.id": "pulsearb-loop-reader", "enable.auto.commit": False, "fetch.wait.max.ms": 10}
            )
        )
        meta = self._consumer.list_topics(topic, timeout=10).topics[topic]
        self._consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        self.records: list[dict[str, Any]] = []

    def read(self, timeout_s: float = 0.05) -> list[dict[str, Any]]:
        """Consume what arrived; return every record read so far."""
        for msg in self._consumer.consume(10_000, timeout_s):
            if msg.error() is None and msg.value():
                self.records.append(self._codec.decode(msg.value()))
        return self.records

    def wait(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout_s: float, what: str
    ) -> list[dict[str, Any]]:
        """Read until ``predicate(records)`` holds.

        Raises:
            StackError: not within ``timeout_s`` (names ``what``).
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate(self.read()):
                return self.records
        msg = f"timed out after {timeout_s:.0f} s waiting for {what} on {self.topic} ({len(self.records)} records)"
        raise StackError(msg)

    def close(self) -> None:
        """Release the consumer."""
        self._consumer.close()


class ChainLoop:
    """Everything of the closed loop except the broker.

    Args:
        bootstrap: Kafka bootstrap servers (topics must exist).
        state_dir: where anvil, the relay, flow logs, the ledger and the kill switch live.
        detector_template: detector spec template.
        risk_template: risk_execution spec template.
        on_swap: called for every frame the watcher sends.
        epoch_interval_s: Bytewax epoch of every flow; each Kafka hop waits for its producer's epoch, so a short
            one keeps the loop's latency low (the bridge spec's default is 0.2 s).
        kinds: the pool kinds the collector and the watcher follow (``v2``, ``v3``): the detector sees only those.
    """

    def __init__(
        self,
        bootstrap: str,
        state_dir: Path,
        detector_template: Path,
        risk_template: Path,
        on_swap: Callable[[SwapSeen], None] | None = None,
        epoch_interval_s: float = 0.05,
        kinds: tuple[str, ...] = ("v2", "v3"),
    ) -> None:
        self.epoch_args = ["--epoch-interval", str(epoch_interval_s)]
        self.bootstrap = bootstrap
        self.state_dir = state_dir
        self.templates = (detector_template, risk_template)
        self.on_swap = on_swap
        self.kinds = kinds
        self.rpc_url = ""
        self.signals_socket = ""
        self.anvil_pid: int | None = None
        self.relay: RelayServer | None = None
        self.watcher: ChainWatcher | None = None
        self.flows: dict[str, ChainFlowProcess] = {}
        self.specs: dict[str, FlowSpec] = {}
        self.deployment: Deployment | None = None
        self.w3: Web3 | None = None
        self.trader: Trader | None = None
        self.owner = Signer.from_key(ANVIL_KEYS[0])

    @property
    def pools(self) -> list[PairInfo]:
        """The pools the collector and the watcher follow."""
        assert self.deployment is not None
        return [p for p in self.deployment.pools if p.kind in self.kinds]

    def start(self, wait_s: float = 60.0) -> ChainLoop:
        """Start anvil, deploy, start the relay and the flows (the collector seeds every pool), then the watcher."""
        port = process.free_port()
        self.anvil_pid = process.start(chain_spec(port), self.state_dir / "chain")
        self.rpc_url = f"http://127.0.0.1:{port}"
        self.w3 = Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 10}))
        trader_signer = Signer.from_key(ANVIL_KEYS[1])
        self.deployment = deploy(self.w3, self.owner, trader=trader_signer.address)
        self.deployment.write(self.state_dir / "chain" / "deployment.json")
        self.trader = Trader(self.w3, trader_signer, self.deployment)
        specs_dir = self.state_dir / "specs"
        followed = {"COLLECTOR_POOLS": json.dumps([p.address for p in self.pools])}
        for template in self.templates:
            spec = render_spec(template, self.deployment, specs_dir, values=followed)
            self.specs[spec.kind] = spec
        shipped = ROOT / "flows" / "specs"
        [self.specs["collector"]] = bind_specs(
            [load_spec(shipped / "collector.yaml")], self.deployment, specs_dir, followed
        )
        domains = (RelayDomain.MARKET_DATA, RelayDomain.SIGNAL)
        self.relay = RelayServer(self.state_dir / "relay", domains=domains, mode=0o600).start()
        socket = str(self.relay.socket_path(RelayDomain.MARKET_DATA))
        self.signals_socket = str(self.relay.socket_path(RelayDomain.SIGNAL))
        bridge_spec = load_spec(shipped / "bridge.yaml")
        self.flows["bridge"] = ChainFlowProcess(
            bridge_spec, self.bootstrap, self.state_dir / "logs", relay_socket=socket
        )
        self.flows["collector"] = ChainFlowProcess(
            self.specs["collector"], self.bootstrap, self.state_dir / "logs", rpc_url=self.rpc_url,
            extra_args=self.epoch_args,
        )  # fmt: skip
        self.flows["detector"] = ChainFlowProcess(
            self.specs["detector"], self.bootstrap, self.state_dir / "logs", extra_args=self.epoch_args
        )
        self.flows["risk_execution"] = self._risk_process()
        for proc in self.flows.values():
            proc.start()
        deadline = time.monotonic() + wait_s
        while self.relay.stats(RelayDomain.MARKET_DATA).clients < 1:
            self.check_alive()
            if time.monotonic() > deadline:
                msg = f"the bridge did not connect to {socket} within {wait_s:.0f} s"
                raise StackError(msg)
            time.sleep(0.05)
        self._wait_seeded(deadline)
        self.watcher = ChainWatcher(self.rpc_url, self.pools, socket, on_sent=self.on_swap).start()
        return self

    def _wait_seeded(self, deadline: float) -> None:
        """Wait until the collector published every followed pool's state (its start-up seed)."""
        states = TopicReader(self.bootstrap, self.specs["collector"].outputs.get("states", "market.pool_state"))
        want = {p.address for p in self.pools}
        try:
            while not want <= {r["pool"] for r in states.read(0.1)}:
                self.check_alive()
                if time.monotonic() > deadline:
                    log_path = self.flows["collector"].log_path
                    msg = f"the collector did not publish every pool's state in time; log {log_path}"
                    raise StackError(msg)
        finally:
            states.close()

    def _risk_process(self) -> ChainFlowProcess:
        return ChainFlowProcess(
            self.specs["risk_execution"],
            self.bootstrap,
            self.state_dir / "logs",
            extra_args=[
                "--rpc-url",
                self.rpc_url,
                "--state-dir",
                str(self.state_dir),
                "--signals-socket",
                self.signals_socket,
                *self.epoch_args,
            ],
            extra_env={KEY_ENV: ANVIL_KEYS[0]},
        )

    def check_alive(self) -> None:
        """Raise if a flow process died (with its log tail)."""
        for name, f in self.flows.items():
            if f.proc is not None and f.proc.poll() is not None:
                msg = f"flow {name} exited with code {f.proc.returncode}; log {f.log_path}:\n{f.tail(20)}"
                raise StackError(msg)

    def restart_risk(self) -> int | None:
        """Stop the risk_execution flow cleanly and start it again (same ledger); returns the old exit code."""
        code = self.flows["risk_execution"].stop()
        self.flows["risk_execution"] = self._risk_process()
        self.flows["risk_execution"].start()
        return code

    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        """A raw JSON-RPC call (anvil's evm_* / anvil_* methods)."""
        assert self.w3 is not None
        reply = self.w3.provider.make_request(method, list(params))
        if "error" in reply:
            msg = f"{method}: {reply['error']}"
            raise StackError(msg)
        return reply.get("result")

    def stop(self) -> dict[str, int | None]:
        """Stop the watcher, the flows in pipeline order, the relay and anvil; return the flows' exit codes."""
        codes: dict[str, int | None] = {}
        if self.watcher is not None:
            self.watcher.stop()
        for name in ("bridge", "collector", "detector", "risk_execution"):
            if name in self.flows:
                codes[name] = self.flows[name].stop()
        if self.relay is not None:
            self.relay.stop()
        if self.anvil_pid is not None:
            process.stop_pid(self.anvil_pid)
        return codes
