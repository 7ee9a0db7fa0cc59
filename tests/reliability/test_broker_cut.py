"""Drill (a): the broker connection is cut for 10 s under load; afterwards every relay frame is archived once."""

from __future__ import annotations

import threading
import time

import pytest

from flows.spec import load_specs
from ops.simulator.market import model
from ops.simulator.pipeline import Pipeline
from sinks.clickhouse import query_rows, session
from tests.reliability.conftest import ProxiedBroker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BLOCKS = 400  # 4 pools -> 1,600 frames over ~16 s of market at speed 50
CUT_S = 10.0


def test_broker_cut_for_ten_seconds_loses_and_duplicates_nothing(proxied_broker: ProxiedBroker) -> None:
    events = [(e.offset_ns, e.frame) for e in model.generate(BLOCKS, seed=3)]
    specs = [s for s in load_specs() if s.kind in ("bridge", "archive")]
    pipeline = Pipeline(proxied_broker.info, proxied_broker.home, specs)
    try:
        pipeline.start()
        feeder = threading.Thread(target=pipeline.feed, args=(events, 50.0), daemon=True)
        feeder.start()
        time.sleep(3)  # load is flowing
        proxied_broker.proxy.cut()
        cut_at = pipeline.progress.sent
        time.sleep(CUT_S)
        proxied_broker.proxy.restore()
        feeder.join(timeout=120)
        assert pipeline.wait_for("market.pool_sync", len(events), timeout_s=180), pipeline.describe()
    finally:
        codes = pipeline.stop()
    with session(proxied_broker.info.store_dsn) as client:
        _, rows = query_rows(
            client,
            "SELECT count(), uniqExact(pool, sequence) FROM pulsearb.market_pool_sync",
        )
    archived, distinct = rows[0]
    sent = len(events)
    print(
        f"sent={sent} cut_after={cut_at} delivered={pipeline.progress.topics.get('market.pool_sync')} "
        f"archived={distinct} duplicates={archived - distinct} lost={sent - distinct}"
    )
    assert all(c == 0 for c in codes.values()), codes
    assert 0 < cut_at < sent, "the cut must happen under load"
    assert distinct == sent and archived == sent
