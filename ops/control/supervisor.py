"""Keep one flow running: start its processes, restart them with backoff when one ends unasked, stop on request.

The processes of a multi-process flow form one Bytewax cluster, which cannot continue without any of its members
(the others panic within a fraction of a second), so a crash restarts the whole cluster on fresh ports. Restarts
resume from the last snapshot in the flow's recovery partitions; outputs since that snapshot are produced again
with the same deterministic ids (at-least-once, deduplicated downstream).

``python -m ops.control.supervisor --root ROOT --flow NAME`` is the daemon ``pulsearb flows deploy`` starts for
each flow; SIGTERM or SIGINT make it stop the flow cleanly (drain, flush) and exit.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ops.control import record
from ops.control.flowproc import FlowProcess
from ops.control.plan import Endpoints, FlowPlan, plan_from_record
from ops.simulator.stack.process import free_port

log = logging.getLogger("pulsearb.deploy")


@dataclass(slots=True)
class Backoff:
    """Delay before a restart: ``initial_s`` doubling up to ``max_s``; reset after ``stable_s`` of clean running."""

    initial_s: float = 0.5
    max_s: float = 30.0
    stable_s: float = 30.0
    failures: int = 0

    def next_delay(self, ran_s: float) -> float:
        """Delay before restarting a flow that ran ``ran_s`` seconds before it ended."""
        self.failures = 1 if ran_s >= self.stable_s else self.failures + 1
        return min(self.max_s, self.initial_s * 2 ** (self.failures - 1))


class FlowSupervisor:
    """Runs every process of one flow and restarts them when one ends unasked.

    Args:
        plan: the flow's layout and endpoints.
        root: the deploy root whose ``deployments.json`` to keep current (None: do not record).
        backoff: restart delays.
        max_failures: consecutive quick failures after which the flow is marked failed and left stopped
            (None: keep retrying, as a cluster scheduler would).
    """

    def __init__(
        self, plan: FlowPlan, root: Path | None = None, backoff: Backoff | None = None, max_failures: int | None = None
    ) -> None:
        self.plan = plan
        self.root = root
        self.backoff = backoff or Backoff()
        self.max_failures = max_failures
        self.procs: list[FlowProcess] = []
        self.state = "starting"
        self.restarts = 0
        self.last_exit: int | None = None
        self.failure_log = ""
        self._started = 0.0
        self._restart_at: float | None = None
        self._lock = threading.RLock()

    @property
    def name(self) -> str:
        """The flow name."""
        return self.plan.spec.name

    def start(self) -> None:
        """Start every process (a cluster on fresh loopback ports when there is more than one)."""
        with self._lock:
            n = self.plan.processes
            addresses = [f"127.0.0.1:{free_port()}" for _ in range(n)] if n > 1 else []
            self.procs = [self.plan.process(i, addresses) for i in range(n)]
            for p in self.procs:
                p.start()
            self._started = time.monotonic()
            self.state = "running"
            self._record()

    def tick(self) -> None:
        """Check the processes once: after an unasked exit, end the rest and schedule a restart; restart when due."""
        with self._lock:
            if self.state in ("stopping", "stopped", "failed"):
                return
            now = time.monotonic()
            if self._restart_at is not None:
                if now >= self._restart_at:
                    self._restart_at = None
                    self.restarts += 1
                    self.start()
                return
            ended = [p for p in self.procs if not p.alive()]
            if not ended:
                return
            # Peers of a killed process panic right after it: report the one a signal ended, as the cause.
            first = sorted(ended, key=lambda p: (p.exit_code() or 0) >= 0)[0]
            self.last_exit = first.exit_code()
            self.failure_log = first.tail(15)
            for p in self.procs:
                p.kill()  # the rest of a broken cluster cannot complete an epoch: their state is in the snapshot
            delay = self.backoff.next_delay(now - self._started)
            who = f"flow {self.name}: process {first.process_id or 0} (pid {first.pid}) exited with {self.last_exit}"
            if self.max_failures is not None and self.backoff.failures >= self.max_failures:
                self.state = "failed"
                log.error("%s; %d failures in a row: giving up (log %s)", who, self.backoff.failures, first.log_path)
            else:
                self._restart_at = now + delay
                self.state = "restarting"
                log.warning("%s; restarting all %d process(es) in %.1f s", who, len(self.procs), delay)
            self._record()

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """Stop every process cleanly (SIGTERM: drain, flush), kill after ``timeout_s``; return the worst exit code."""
        with self._lock:
            self.state = "stopping"
            self._restart_at = None
            self._record()
            for p in self.procs:
                p.terminate()
            codes = [p.stop(timeout_s) for p in self.procs]
            self.state = "stopped"
            self._record()
        bad = [c for c in codes if c not in (0, None)]
        return bad[0] if bad else (0 if codes else None)

    def _record(self) -> None:
        if self.root is None:
            return

        def change(rec: record.FlowRecord | None) -> record.FlowRecord:
            rec = rec or self.plan.record()
            rec.state = self.state
            rec.restarts = self.restarts
            rec.last_exit = self.last_exit
            rec.supervisor_pid = os.getpid()
            for pr, p in zip(rec.processes, self.procs, strict=False):
                pr.pid = p.pid if p.alive() else None
                pr.address = p.addresses[p.process_id or 0] if p.addresses else ""
            return rec

        record.update(self.root, self.name, change)


def main(argv: list[str] | None = None) -> int:
    """Supervise one recorded flow until SIGTERM/SIGINT."""
    p = argparse.ArgumentParser(prog="python -m ops.control.supervisor", description=__doc__)
    p.add_argument("--root", required=True, type=Path, help="deploy root holding deployments.json")
    p.add_argument("--flow", required=True)
    p.add_argument("--stop-timeout", type=float, default=60.0, help="seconds a process may take to drain")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    rec = record.read_all(args.root).get(args.flow)
    if rec is None:
        print(f"supervisor: flow {args.flow} is not recorded in {args.root}", file=sys.stderr)
        return 2
    endpoints = Endpoints(
        bootstrap=rec.bootstrap,
        relay_socket=rec.options.get("relay_socket", ""),
        signals_socket=rec.options.get("signals_socket", ""),
        state_dir=rec.options.get("state_dir", ""),
    )  # secrets (store DSN, RPC URL, Kafka password) are inherited through the environment
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sup = FlowSupervisor(plan_from_record(rec, endpoints), args.root)
    sup.start()
    log.info("flow %s: started %d process(es): pids %s", args.flow, len(sup.procs), [p.pid for p in sup.procs])
    while not stop.wait(0.2):
        sup.tick()
    code = sup.stop(args.stop_timeout)
    log.info("flow %s: stopped (exit code %s)", args.flow, code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
