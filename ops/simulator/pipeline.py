"""The whole pipeline on the local stack: relay -> bridge -> detectors -> risk/execution -> archive, supervised.

``pulsearb up`` and the end-to-end tests drive this class, so what the tests prove is what users run. Flows are laid
out and supervised by the deploy manager's parts (:mod:`ops.control`), the same as ``pulsearb flows deploy``, but
in this process: each flow gets its own recovery partitions and metrics ports under ``<state>/up`` (fresh for
every run, since the local broker may be new), a crashed flow is restarted with backoff, and the run is recorded
in ``<state>/up/deployments.json`` (``pulsearb flows list --root <state>/up`` shows it).

A run starts from empty flow state (recovery partitions and the risk_execution ledgers of its specs; the kill
switch stays), and :meth:`Pipeline.start` returns once the bridge is connected and every other flow reads Kafka.
Flows get their endpoints as ``flows deploy`` gives them; ``flow_env`` adds environment per flow kind (the
signing key of risk_execution flows on the local chain).

Stop order matters: the bridge first (the relay has nothing to drain), then each downstream flow, which drains its
topics up to their end offsets before it exits, so every record produced is archived.

While it runs, a :class:`Tally` reads the opportunity, decision and execution topics (one record per opportunity
id, replay-safe) for the live display and for ``up``'s end-of-run wait.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from base.errors import StackError
from flows.relay.protocol import RelayDomain
from flows.relay.server import RelayServer
from flows.spec import FlowSpec, load_specs
from ops.control.kafka_counts import TopicCounter
from ops.control.manager import STOP_ORDER, stop_rank
from ops.control.plan import Endpoints, make_plan, prepare_recovery
from ops.control.supervisor import FlowSupervisor
from ops.control.tally import Tally, TallyView
from ops.control.topics import apply as apply_topics
from ops.control.topics import load_topics
from ops.simulator.replay import ReplayStats, replay
from ops.simulator.stack.stack import StackInfo

WATCHED = (
    "market.pool_sync",
    "market.pool_swap",
    "market.pool_state",
    "arb.opportunity",
    "arb.decision",
    "arb.execution",
    "dlq.relay",
)
__all__ = ["STOP_ORDER", "WATCHED", "Pipeline", "Progress", "forget_ledger", "ledger_path"]


@dataclass(slots=True)
class Progress:
    """Live counters of a run."""

    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    topics: dict[str, int] = field(default_factory=dict)
    tally: TallyView = field(default_factory=TallyView)

    @property
    def elapsed_s(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started


def ledger_path(state_dir: Path, flow: str) -> Path:
    """The ledger of a risk_execution flow run with ``state_dir`` (flows/execution/ledger.py)."""
    return state_dir / "risk_execution" / f"{flow}.sqlite"


def forget_ledger(state_dir: Path, flow: str) -> bool:
    """Remove a risk_execution flow's ledger unless a running flow holds it; True if removed.

    A run starts from empty flow state: the ledger of an earlier run holds its decisions and transactions (on a
    chain that may be gone), and replaying them would re-emit old decisions. The kill switch stays.
    """
    path = ledger_path(state_dir, flow)
    lock = Path(f"{path}.lock")
    if lock.exists():
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # in use: the flow started on it refuses it with the holder's pid
        finally:
            os.close(fd)
    for f in path.parent.glob(f"{flow}.sqlite*"):
        f.unlink(missing_ok=True)
    return True


class Pipeline:
    """Flows of the given specs running against one stack, fed by a local relay.

    Args:
        info: endpoints of the running stack.
        state_dir: where the run's directory (``up/``: logs, recovery, record) and the relay sockets go.
        specs: the flows to run (default: every spec in flows/specs).
        max_failures: quick consecutive crashes after which a flow counts as failed (:meth:`check_alive` raises).
        flow_env: extra environment per flow kind (the signing key and deployment file of risk_execution flows:
            secrets go to the environment of the one kind that needs them, never to argv or the record).
    """

    def __init__(
        self,
        info: StackInfo,
        state_dir: Path,
        specs: list[FlowSpec] | None = None,
        max_failures: int = 3,
        flow_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        if not info.bootstrap:
            msg = "the pipeline needs a Kafka broker: start it with `pulsearb stack up`"
            raise StackError(msg)
        self.info = info
        self.state_dir = state_dir
        self.root = state_dir / "up"
        self.specs = specs if specs is not None else load_specs()
        self.max_failures = max_failures
        self.flow_env = dict(flow_env or {})
        self.relay = RelayServer(state_dir / "relay", domains=(RelayDomain.MARKET_DATA, RelayDomain.SIGNAL))
        self.flows: list[FlowSupervisor] = []
        self.counter: TopicCounter | None = None
        self.tally: Tally | None = None
        self.progress = Progress()
        self._halt = threading.Event()
        self._watcher: threading.Thread | None = None
        self._watch_error: BaseException | None = None

    @property
    def relay_socket(self) -> str:
        """The market-data relay socket."""
        return str(self.relay.socket_path(RelayDomain.MARKET_DATA))

    @property
    def signals_socket(self) -> str:
        """The signals relay socket (risk_execution flows send accepted opportunities there)."""
        return str(self.relay.socket_path(RelayDomain.SIGNAL))

    @property
    def log_dirs(self) -> list[Path]:
        """Where each flow's logs are."""
        return [f.plan.log_dir for f in self.flows]

    def start(self, wait_s: float = 60.0) -> None:
        """Create topics, start the relay and every flow (downstream first); return once the bridge is connected.

        Raises:
            StackError: topics could not be aligned, or a flow kept failing during start-up (with its log tail).
        """
        report = apply_topics(self.info.bootstrap, load_topics(specs=self.specs))
        if report.refused:
            raise StackError("; ".join(report.refused))
        self.relay.start()
        shutil.rmtree(self.root, ignore_errors=True)  # snapshots of an earlier run may point past a new broker's logs
        for spec in self.specs:
            if spec.kind == "risk_execution":
                forget_ledger(self.state_dir, spec.name)
        endpoints = Endpoints(
            bootstrap=self.info.bootstrap,
            store_dsn=self.info.store_dsn,
            relay_socket=self.relay_socket,
            rpc_url=self.info.rpc_url or "",
            signals_socket=self.signals_socket,
            state_dir=str(self.state_dir),
            kind_env=self.flow_env,
        )
        taken: set[int] = set()
        for spec in sorted(self.specs, key=lambda s: -stop_rank(s.kind)):
            plan = make_plan(spec, self.root, endpoints, taken_ports=taken)
            prepare_recovery(plan)
            sup = FlowSupervisor(plan, self.root, max_failures=self.max_failures)
            sup.start()
            self.flows.append(sup)
        self._watcher = threading.Thread(target=self._watch, name="pulsearb-supervisor", daemon=True)
        self._watcher.start()
        self.counter = TopicCounter(self.info.bootstrap)
        self.tally = Tally(self.info.bootstrap)
        deadline = time.monotonic() + wait_s
        bridges = sum(1 for s in self.specs if s.kind == "bridge")
        while self.relay.stats(RelayDomain.MARKET_DATA).clients < bridges:
            self.check_alive()
            if time.monotonic() > deadline:
                msg = f"the bridge did not connect to {self.relay_socket} within {wait_s:.0f} s"
                raise StackError(msg)
            time.sleep(0.05)
        self._wait_reading(deadline)

    def _wait_reading(self, deadline: float) -> None:
        """Wait until every flow that reads Kafka has built its source partitions (they export a consumer lag).

        A flow serves metrics before it builds (a risk_execution flow first checks its chain), so an open port is
        not enough: records produced before the downstream flows read would wait, and age, in the topics.
        """
        from ops.control.metrics import scrape

        pending = [f for f in self.flows if f.plan.spec.kind != "bridge"]
        while pending:
            self.check_alive()
            pending = [f for f in pending if not all("lag" in (scrape(p, 0.2) or {}) for p in f.plan.metrics_ports)]
            if pending and time.monotonic() > deadline:
                names = ", ".join(f.name for f in pending)
                msg = f"flows {names} did not start reading Kafka in time; logs in {self.root / 'flows'}"
                raise StackError(msg)
            time.sleep(0.1)

    def _watch(self) -> None:
        try:
            while not self._halt.wait(0.2):
                for f in self.flows:
                    f.tick()
        except Exception as exc:  # surfaced by check_alive in the caller's thread
            self._watch_error = exc

    def check_alive(self) -> None:
        """Raise if a flow failed for good (crashed ``max_failures`` times in a row); crashes before that restart.

        Raises:
            StackError: naming the flow, its last exit code and the last lines of its log.
        """
        if self._watch_error is not None:
            msg = f"the flow supervisor stopped: {self._watch_error!r}"
            raise StackError(msg)
        for f in self.flows:
            if f.state == "failed":
                msg = (
                    f"flow {f.name} failed {f.backoff.failures} times in a row (last exit code {f.last_exit}); "
                    f"logs in {f.plan.log_dir}:\n{f.failure_log}"
                )
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
        """Refresh the counts of ``topics`` (others keep their last value) and the tally."""
        if self.counter is not None:
            self.progress.topics.update(self.counter.counts(topics))
        if self.tally is not None:
            self.progress.tally = self.tally.view()
        return self.progress

    def settled(self, executing: bool) -> bool:
        """True when every opportunity read has its decision (and, ``executing``, every accepted one its outcome)."""
        view = self.poll(()).tally
        return view.undecided == 0 and (not executing or view.unexecuted == 0)

    def wait_for(self, topic: str, count: int, timeout_s: float) -> bool:
        """Wait until ``topic`` holds at least ``count`` records; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            if self.poll((topic,)).topics.get(topic, 0) >= count:
                return True
            time.sleep(0.1)
        return False

    def describe(self) -> str:
        """Where the pipeline stands, for a failure message: topic counts, relay clients, each flow's restarts."""
        lines = [f"topics: {self.poll().topics}"]
        lines.append(f"market-data relay: {self.relay.stats(RelayDomain.MARKET_DATA)}")
        for f in self.flows:
            lines.append(f"flow {f.name}: {f.state}, {f.restarts} restart(s), last exit {f.last_exit}")
            lines.extend(f"  {line}" for p in f.procs for line in p.tail(5).splitlines())
        return "\n".join(lines)

    def stop(self) -> dict[str, int | None]:
        """Stop flows in pipeline order (each drains its input first), then the relay; return exit codes by flow."""
        self._halt.set()
        if self._watcher is not None:
            self._watcher.join()
        codes: dict[str, int | None] = {}
        for kind in STOP_ORDER:
            for f in self.flows:
                if f.plan.spec.kind == kind:
                    codes[f.name] = f.stop()
        self.relay.stop()
        if self.counter is not None:
            self.counter.close()
            self.counter = None
        if self.tally is not None:
            self.progress.tally = self.tally.view()
            self.tally.close()
            self.tally = None
        return codes
