"""Drill (b), bridge: kill -9 mid-stream, restart; no duplicate, and every loss accounted for.

A relay keeps no history (AlphaPulse's neither): a frame broadcast while no bridge is connected reaches nobody, and
frames the killed process had read but not yet produced die with it. What is guaranteed, and asserted:

- no frame reaches Kafka twice;
- every frame sent while a bridge was connected and healthy reaches Kafka: the undelivered frames are only those
  sent from shortly before the kill until the new bridge connected;
- the relay accounts for the outage: each frame is broadcast to the producer (its echo) and to the bridge when one
  is connected, so ``frames_out - frames_in`` is what the bridges were given, and ``frames_in`` minus that is
  what was sent while none was connected; all of those are missing from Kafka, and together with the frames in
  the killed process they are exactly the loss.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from flows.relay.client import RelayProducer
from flows.relay.protocol import RelayDomain
from flows.relay.server import RelayServer
from flows.spec import load_specs
from ops.control.flowproc import FlowProcess
from ops.control.kafka_counts import TopicCounter
from ops.control.topics import apply, load_topics
from ops.simulator.market import model
from ops.simulator.replay import restamp
from ops.simulator.stack.stack import StackInfo
from tests.reliability.topics import read_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RATE = 400  # frames per second
BLOCKS = 3_000  # a frame per pool and block: more frames than the drill sends at RATE
PHASE_S = 1.5  # before the kill, while down, and after the reconnect
IN_FLIGHT_S = 1.0  # frames sent this long before the kill may die inside the killed process


class Feeder:
    """Sends frames at :data:`RATE` on a thread, remembering when each one left."""

    def __init__(self, path: Path, frames: list[bytes]) -> None:
        self.frames = frames
        self.sent_at: list[float] = []
        self._producer = RelayProducer(path).open()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feeder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        start = time.monotonic()
        for i, frame in enumerate(self.frames):
            if self._stop.is_set():
                break
            delay = start + i / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._producer.send(restamp(frame, time.time_ns()))
            self.sent_at.append(time.monotonic())

    def stop(self) -> int:
        """Stop sending; return how many frames were sent."""
        self._stop.set()
        self._thread.join()
        self._producer.close()
        return len(self.sent_at)


def test_bridge_killed_mid_stream(own_broker: StackInfo, tmp_path: Path) -> None:
    boot = own_broker.bootstrap or ""
    apply(boot, load_topics())
    events = list(model.generate(BLOCKS, seed=11))
    keys = [(e.pool.address, e.block_number) for e in events]
    assert len(set(keys)) == len(keys)
    spec = next(s for s in load_specs() if s.kind == "bridge")
    relay = RelayServer(tmp_path / "relay", domains=(RelayDomain.MARKET_DATA,), mode=0o600).start()
    stats = relay.stats(RelayDomain.MARKET_DATA)
    bridge = FlowProcess(spec, boot, tmp_path / "logs", relay_socket=str(relay.socket_path(RelayDomain.MARKET_DATA)))
    counter = TopicCounter(boot)
    feeder = None
    try:
        bridge.start()
        assert relay.wait_clients(RelayDomain.MARKET_DATA, 1, timeout=60), bridge.tail()
        feeder = Feeder(relay.socket_path(RelayDomain.MARKET_DATA), [e.frame for e in events])
        time.sleep(PHASE_S)
        killed_at = time.monotonic()
        bridge.kill()
        assert _wait(lambda: stats.clients == 1), "the relay did not notice that the bridge died"
        down_from = time.monotonic()  # from here no bridge is connected
        time.sleep(PHASE_S)
        bridge.start()
        assert relay.wait_clients(RelayDomain.MARKET_DATA, 2, timeout=60), bridge.tail()
        back_at = time.monotonic()  # from here a bridge is connected again
        time.sleep(PHASE_S)
        sent = feeder.stop()
        assert _settled(counter, "market.pool_sync"), "market.pool_sync kept growing"
        assert bridge.stop() == 0, bridge.tail()
        delivered = read_all(boot, "market.pool_sync")
    finally:
        if feeder is not None:
            feeder.stop()
        bridge.kill()
        counter.close()
        relay.stop()

    sent_at = feeder.sent_at
    seen = Counter((r["pool"], r["block_number"]) for r in delivered)
    duplicates = sum(n - 1 for n in seen.values())
    missing = [i for i, k in enumerate(keys[:sent]) if k not in seen]
    given_to_bridges = stats.frames_out - stats.frames_in  # the other copy of each frame is the producer's echo
    sent_while_down = stats.frames_in - given_to_bridges
    lost_in_process = len(missing) - sent_while_down
    print(
        f"sent={sent} delivered={len(seen)} duplicates={duplicates} lost={len(missing)} "
        f"(relay: frames_in={stats.frames_in} given_to_bridges={given_to_bridges} sent_while_down={sent_while_down}; "
        f"read by the killed process but never produced: {lost_in_process})"
    )
    if missing:
        first, last = (sent_at[missing[i]] - killed_at for i in (0, -1))
        print(
            f"lost frames were sent {first:+.3f} s .. {last:+.3f} s from the kill; back at {back_at - killed_at:+.3f} s"
        )
    assert sent_at[-1] > back_at, "frames were still sent after the reconnect"
    assert stats.frames_in == sent and stats.slow_dropped == 0 and stats.dead_in == 0
    assert duplicates == 0, "no frame reaches Kafka twice"
    assert set(seen) <= set(keys[:sent]), "nothing but what was sent"
    # The relay reads its input on its own thread: frames sent just before the reconnect may reach the new bridge.
    assert sent_while_down >= sum(1 for t in sent_at if down_from <= t < back_at - 0.2) > 0
    assert lost_in_process >= 0, "every frame sent while no bridge was connected is missing"
    # The loss is one window around the outage: everything sent before it and after the reconnect arrived.
    assert all(killed_at - IN_FLIGHT_S <= sent_at[i] <= back_at for i in missing), "a loss outside the outage"


def _settled(counter: TopicCounter, topic: str, quiet_s: float = 1.5, timeout_s: float = 60) -> bool:
    """Wait until ``topic`` stopped growing for ``quiet_s``."""
    deadline = time.monotonic() + timeout_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = counter.count(topic)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return True
        time.sleep(0.1)
    return False


def _wait(predicate, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
