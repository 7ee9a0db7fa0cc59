"""Fixtures for the relay tests: short socket directories and background relay consumers."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flows.relay.client import RelayClient
from flows.relay.codec import Frame
from flows.relay.framing import DeadFrame


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short directory for relay sockets (sun_path allows 107 bytes; pytest's tmp_path can be longer)."""
    path = Path(tempfile.mkdtemp(prefix="parb-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return predicate()
        time.sleep(0.005)
    return True


class Collector:
    """Run a RelayClient in a thread and keep what it yields."""

    def __init__(self, client: RelayClient) -> None:
        self.client = client
        self.items: list[Frame | DeadFrame] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for item in self.client:
            self.items.append(item)

    @property
    def frames(self) -> list[Frame]:
        return [i for i in self.items if isinstance(i, Frame)]

    def stop(self) -> None:
        self.client.close()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


@pytest.fixture
def collectors() -> Iterator[Callable[[RelayClient], Collector]]:
    """Start Collectors that are stopped at teardown."""
    started: list[Collector] = []

    def start(client: RelayClient) -> Collector:
        c = Collector(client)
        started.append(c)
        return c

    yield start
    for c in started:
        c.stop()
