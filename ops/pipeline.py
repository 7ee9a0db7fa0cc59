"""The whole pipeline on the local stack: relay -> bridge -> detector -> archive, with progress and a report.

``pulsearb up`` and the end-to-end test both drive this class, so what the test proves is what users run.
Stop order matters: the bridge first (the relay has nothing to drain), then each downstream flow, which drains
its topics up to their end offsets before it exits, so every record produced is archived.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from flows.errors import StackError
from flows.relay.protocol import RelayDomain
from flows.relay.server import RelayServer
from flows.spec import FlowSpec, load_specs
from ops.flowproc import FlowProcess
from ops.kafka_counts import TopicCounter
from ops.replay import ReplayStats, replay
from ops.stack.stack import StackInfo
from ops.topics import apply as apply_topics
from ops.topics import load_topics

WATCHED = ("market.pool_sync", "arb.opportunity", "arb.decision", "arb.execution", "dlq.relay")
STOP_ORDER = ("bridge", "detector", "risk_execution", "archive")


@dataclass(slots=True)
class Progress:
    """Live counters of a run."""

    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    topics: dict[str, int] = field(default_factory=dict)

    @property
    def elapsed_s(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started


class Pipeline:
    """Flows of the given specs running against one stack, fed by a local relay.

    Args:
        info: endpoints of the running stack.
        state_dir: where logs, sockets and recovery directories go.
        specs: the flows to run (default: every spec in flows/specs).
    """

    def __init__(self, info: StackInfo, state_dir: Path, specs: list[FlowSpec] | None = None) -> None:
        if not info.bootstrap:
            msg = "the pipeline needs a Kafka broker: start it with `pulsearb stack up`"
            raise StackError(msg)
        self.info = info
        self.state_dir = state_dir
        self.specs = specs if specs is not None else load_specs()
        self.relay = RelayServer(state_dir / "relay", domains=(RelayDomain.MARKET_DATA, RelayDomain.SIGNAL))
        self.flows: list[FlowProcess] = []
        self.counter: TopicCounter | None = None
        self.progress = Progress()

    @property
    def relay_socket(self) -> str:
        """The market-data relay socket."""
        return str(self.relay.socket_path(RelayDomain.MARKET_DATA))

    def start(self, wait_s: float = 60.0) -> None:
        """Create topics, start the relay and every flow; return once the bridge is connected.

        Raises:
            StackError: a flow exited during start-up (the message carries its log tail).
        """
        report = apply_topics(self.info.bootstrap, load_topics())
        if report.refused:
            raise StackError("; ".join(report.refused))
        self.relay.start()
        for spec in sorted(self.specs, key=lambda s: STOP_ORDER.index(s.kind) * -1):
            proc = FlowProcess(
                spec,
                self.info.bootstrap,
                self.state_dir / "logs",
                store_dsn=self.info.store_dsn if spec.kind == "archive" else "",
                relay_socket=self.relay_socket if spec.kind == "bridge" else "",
            )
            proc.start()
            self.flows.append(proc)
        self.counter = TopicCounter(self.info.bootstrap)
        deadline = time.monotonic() + wait_s
        bridges = sum(1 for s in self.specs if s.kind == "bridge")
        while self.relay.stats(RelayDomain.MARKET_DATA).clients < bridges:
            self.check_alive()
            if time.monotonic() > deadline:
                msg = f"the bridge did not connect to {self.relay_socket} within {wait_s:.0f} s"
                raise StackError(msg)
            time.sleep(0.05)

    def check_alive(self) -> None:
        """Raise if a flow process died.

        Raises:
            StackError: naming the flow, its exit code and the last lines of its log.
        """
        for f in self.flows:
            if f.proc is not None and f.proc.poll() is not None:
                msg = f"flow {f.spec.name} exited with code {f.proc.returncode}; log {f.log_path}:\n{f.tail(15)}"
                raise StackError(msg)

    def feed(
        self,
        events: Iterable[tuple[int, bytes]],
        speed: float,
        should_stop: Callable[[], bool] = lambda: False,
        on_sent: Callable[[ReplayStats], None] | None = None,
    ) -> ReplayStats:
        """Replay frames into the market-data relay."""

        def sent(stats: ReplayStats) -> None:
            self.progress.sent = stats.frames
            if on_sent:
                on_sent(stats)

        return replay(self.relay_socket, events, speed=speed, should_stop=should_stop, on_sent=sent)

    def poll(self, topics: Iterable[str] = WATCHED) -> Progress:
        """Refresh topic counts."""
        if self.counter is not None:
            self.progress.topics = self.counter.counts(topics)
        return self.progress

    def wait_for(self, topic: str, count: int, timeout_s: float) -> bool:
        """Wait until ``topic`` holds at least ``count`` records; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            if self.poll((topic,)).topics.get(topic, 0) >= count:
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> dict[str, int | None]:
        """Stop flows in pipeline order (each drains its input first), then the relay; return exit codes."""
        codes: dict[str, int | None] = {}
        for kind in STOP_ORDER:
            for f in self.flows:
                if f.spec.kind == kind:
                    codes[f.spec.name] = f.stop()
        self.relay.stop()
        if self.counter is not None:
            self.counter.close()
            self.counter = None
        return codes
