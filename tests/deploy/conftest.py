"""Fixtures for deploy tests: a broker of their own (they write the real topic names, which other tests count)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ops.simulator.stack import stack
from ops.simulator.stack.stack import StackInfo


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackInfo]:
    """A Tansu broker for this module only, stopped by pid afterwards."""
    home = tmp_path_factory.mktemp("deploy-broker")
    info = stack.up(home, chain=False, store=False)
    try:
        yield info
    finally:
        stack.down(home)
