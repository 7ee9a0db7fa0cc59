"""Shared fixtures: the real local stack (Tansu broker, anvil, embedded ClickHouse) on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.stack import stack
from ops.stack.stack import StackInfo


@pytest.fixture(scope="session")
def stack_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state directory for this test session's stack."""
    return tmp_path_factory.mktemp("pulsearb-home")


@pytest.fixture(scope="session")
def broker_stack(stack_home: Path) -> Iterator[StackInfo]:
    """A running Tansu broker plus an embedded store directory (migrated); stopped by pid at the end."""
    info = stack.up(stack_home, chain=False)
    try:
        yield info
    finally:
        stack.down(stack_home)
