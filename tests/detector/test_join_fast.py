"""The join step's one-state path (``JoinLogic._one``, every record of a replay) against the general batch path
(``_many``) it shortcuts, and the event-time conversion: the same opportunities and the same state afterwards."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.builders.detector_join import event_time
from flows.builders.replay import Replay
from flows.opportunity import to_record
from flows.spec import load_spec
from tests.strategies.factories import T0, USDC, WBTC, WETH, pool

SPEC = Path(__file__).resolve().parent.parent / "backtest" / "spec.yaml"
WINDOWS = {
    "latest": [],
    "tumbling": ["window.type=tumbling", "window.length_ms=3000"],
    "sliding": ["window.type=sliding", "window.length_ms=3000", "window.slide_ms=1000"],
    "session": ["window.type=session", "window.gap_ms=1500"],
}


def _states(seed: int, count: int) -> list:
    """Pool states of two pairs on two venues, mostly in event order, some late (a few seconds: past the 2 s
    lateness), prices around 2,000 USDC/WETH and 100,000 USDC/WBTC with noise large enough to trade."""
    rng = random.Random(seed)
    out, t = [], T0
    for i in range(count):
        t += rng.randint(0, 900) * 1_000_000
        at = t - rng.choice([0, 0, 0, 0, 500, 2_500, 6_000]) * 1_000_000
        quote, price = rng.choice([(WETH, 2_000 * 10**6), (WBTC, 100_000 * 10**6)])
        unit = 10**18 if quote == WETH else 10**8
        venue = rng.choice([400, 401])
        depth = rng.randint(10, 1_000)
        usdc = depth * price * rng.randint(9_700, 10_300) // 10_000
        address = f"0x{venue}{quote[-4:]}"
        out.append(pool(address, venue, USDC, usdc, quote, depth * unit, block=100 + i // 4, sequence=i + 1,
                        timestamp_ns=at))  # fmt: skip
    return out


@pytest.mark.parametrize("window", sorted(WINDOWS))
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 60))
def test_one_state_path_equals_the_batch_path(window: str, seed: int, count: int) -> None:
    spec = load_spec(SPEC, ["clock.wait_for_system_ms=2000", *WINDOWS[window]])
    fast, reference = Replay(spec), Replay(spec)
    a, b = fast.steps.join_logic(), reference.steps.join_logic()
    for state in _states(seed, count):
        # The replay's clock reads the newest time seen (records arrive with the relay's wall time).
        fast._clock.ns = max(fast._clock.ns, state.timestamp_ns)
        reference._clock.ns = fast._clock.ns
        found, _ = a.on_batch([state])
        b.clock.before_batch()
        expected = b._many([state])
        assert [to_record(o) for o in found] == [to_record(o) for o in expected]
    clock_a, windows_a, joins_a, emitted_a, held_a = a.snapshot()
    clock_b, windows_b, joins_b, emitted_b, held_b = b.snapshot()
    assert (clock_a, windows_a, emitted_a, held_a) == (clock_b, windows_b, emitted_b, held_b)
    assert joins_a.keys() == joins_b.keys()
    for wid, join in joins_a.items():
        other = joins_b[wid]
        assert (join.history, join.orders, join.newest) == (other.history, other.orders, other.newest)


@given(ns=st.integers(-(2**62), 2**63 - 1))
def test_event_time_is_the_header_timestamp_to_the_microsecond(ns: int) -> None:
    expected = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)
    assert event_time(pool("0xa", 400, USDC, 1, WETH, 1, timestamp_ns=ns)) == expected
