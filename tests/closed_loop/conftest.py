"""The closed loop on anvil through the real broker and the flows (ops.simulator.chain.loop), started once per module.

The broker is the session's (``broker_stack``); the bridge writes to the fixed ``market.*`` topics, so the topics
this loop uses are emptied (deleted and re-created) before and after it, leaving other tests a clean broker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import NewTopic

from flows.relay.client import RelayClient
from flows.relay.tlv import ArbitrageSignal
from ops.control.topics import admin_client, apply, load_topics
from ops.simulator.chain.loop import ChainLoop, TopicReader
from ops.simulator.stack.stack import StackInfo

SPECS = Path(__file__).resolve().parent / "specs"
USED = ("market.pool_sync", "market.pool_state", "market.pool_swap", "arb.opportunity", "arb.decision", "arb.execution")
DLQS = ("dlq.cl_cross_dex", "dlq.cl_risk_execution", "dlq.relay")


def reset_topics(bootstrap: str) -> None:
    """Delete the loop's topics and re-create every topic of ops/control/topics.yaml plus the loop's DLQs, empty."""
    admin = admin_client(bootstrap)
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [t for t in (*USED, *DLQS) if t in existing]
    if doomed:
        for fut in admin.delete_topics(doomed, operation_timeout=10).values():
            fut.result()
        time.sleep(0.3)
    apply(bootstrap, load_topics())
    extra = [NewTopic(t, num_partitions=1, replication_factor=1) for t in DLQS[:2]]
    for fut in admin.create_topics(extra).values():
        try:
            fut.result()
        except Exception as exc:  # already exists
            if "already exists" not in str(exc).lower():
                raise


class Loop:
    """The running loop, readers of its output topics, and a listener on the signals relay."""

    def __init__(self, chain: ChainLoop, bootstrap: str) -> None:
        self.chain = chain
        self.opportunities = TopicReader(bootstrap, "arb.opportunity")
        self.decisions = TopicReader(bootstrap, "arb.decision")
        self.executions = TopicReader(bootstrap, "arb.execution")
        self.signals: list[ArbitrageSignal] = []
        self._client = RelayClient(chain.signals_socket, connect_timeout_s=10)
        self._client.connect()
        self._listener = threading.Thread(target=self._listen, name="signals-listener", daemon=True)
        self._listener.start()

    def _listen(self) -> None:
        for frame in self._client.frames():
            self.signals.extend(t for t in frame.tlvs if isinstance(t, ArbitrageSignal))

    def close(self) -> None:
        self._client.close()
        self._listener.join(timeout=5)
        for r in (self.opportunities, self.decisions, self.executions):
            r.close()


@pytest.fixture(scope="module")
def loop(broker_stack: StackInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    reset_topics(broker_stack.bootstrap)
    state = tmp_path_factory.mktemp("closed-loop")
    # The V2 pairs only: each test's dislocation has one cross-venue cycle (a V3 pool would add a second one).
    chain = ChainLoop(
        broker_stack.bootstrap, state, SPECS / "cross_dex.yaml", SPECS / "risk_execution.yaml", kinds=("v2",)
    )
    running = None
    try:
        chain.start()
        running = Loop(chain, broker_stack.bootstrap)
        yield running
    finally:
        if running is not None:
            running.close()
        codes = chain.stop()
        reset_topics(broker_stack.bootstrap)
    assert all(code == 0 for code in codes.values()), codes
