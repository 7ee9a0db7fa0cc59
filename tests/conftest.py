"""Shared fixtures: the real local stack (Tansu broker, anvil, embedded ClickHouse) on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3 import Web3

from ops.simulator.stack import process, stack
from ops.simulator.stack.chain import chain_spec, rpc_call
from ops.simulator.stack.stack import StackInfo


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


@dataclass
class AnvilNode:
    """A running anvil (real JSON-RPC EVM) on a free loopback port."""

    url: str
    w3: Web3

    def fund(self, address: str, wei: int = 10**21) -> None:
        """Set an account's native balance."""
        rpc_call(self.url, "anvil_setBalance", [address, hex(wei)])

    def rpc(self, method: str, params: list | None = None) -> object:
        """One raw JSON-RPC call (``evm_snapshot``, ``evm_revert``, ``evm_mine`` ...)."""
        return rpc_call(self.url, method, params or [], timeout=30.0)


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    """One anvil per test module (automine), stopped by pid at the end."""
    port = process.free_port()
    pid = process.start(chain_spec(port), tmp_path_factory.mktemp("anvil"))
    try:
        url = f"http://127.0.0.1:{port}"
        yield AnvilNode(url, Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60})))
    finally:
        process.stop_pid(pid)
