"""A clock source: one ``TICK`` per interval on one worker, ending when the flow is asked to stop.

Flows whose work is driven by time as well as by records merge it with their record inputs into one keyed step: the
chain collector (its polls of the node) and risk_execution (receipt polling and gauges while no opportunity
arrives). Both run one worker; on more, only worker 0 ticks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bytewax.inputs import DynamicSource, StatelessSourcePartition

from flows.connectors.stop import STOP

TICK = "tick"


class _TickPartition(StatelessSourcePartition[str]):
    def __init__(self, interval: timedelta, active: bool) -> None:
        self._interval = interval
        self._active = active
        self._next = datetime.now(UTC)

    def next_batch(self) -> list[str]:
        if STOP.is_set():
            raise StopIteration
        self._next = datetime.now(UTC) + self._interval
        return [TICK] if self._active else []

    def next_awake(self) -> datetime | None:
        return self._next


class Ticks(DynamicSource[str]):
    """One :data:`TICK` per ``interval`` on worker 0 (the other workers' partitions only wait for the stop)."""

    def __init__(self, interval: timedelta) -> None:
        self._interval = interval

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _TickPartition:
        """The partition of one worker."""
        return _TickPartition(self._interval, worker_index == 0)
