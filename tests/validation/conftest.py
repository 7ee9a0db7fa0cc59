"""One anvil node for the validation tests (free loopback port, stopped by pid), fresh funded keys, and a helper
that runs ``pulsearb validate`` in-process and checks that the key never reaches stdout or stderr."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from flows.execution.signer import KEY_ENV, Signer
from ops.cli import main
from ops.simulator.chain.deploy import Deployment, deploy
from ops.simulator.chain.market import Trader
from ops.simulator.stack import process
from ops.simulator.stack.chain import chain_spec, rpc_call

ETH = 10**18


@dataclass
class Node:
    """A running anvil."""

    url: str
    w3: Web3

    def fund(self, address: str, wei: int = 100 * ETH) -> None:
        """Set an account's native balance."""
        rpc_call(self.url, "anvil_setBalance", [address, hex(wei)])

    def nonce(self, address: str) -> int:
        """The account's transaction count (mined and pending)."""
        return self.w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    port = process.free_port()
    pid = process.start(chain_spec(port), tmp_path_factory.mktemp("anvil"))
    try:
        url = f"http://127.0.0.1:{port}"
        yield Node(url, Web3(Web3.HTTPProvider(url)))
    finally:
        process.stop_pid(pid)


def new_key() -> str:
    """A fresh private key, 0x hex."""
    return "0x" + Account.create().key.hex().removeprefix("0x")


@dataclass
class Attached:
    """A deployment made by ops.simulator.chain.deploy, its file, its owner's key and a trader to move prices."""

    deployment: Deployment
    path: Path
    key: str
    trader: Trader


@pytest.fixture(scope="module")
def attached(node: Node, tmp_path_factory: pytest.TempPathFactory) -> Attached:
    key, trader_key = new_key(), new_key()
    owner, trader = Signer.from_key(key), Signer.from_key(trader_key)
    node.fund(owner.address)
    node.fund(trader.address)
    deployment = deploy(node.w3, owner, trader=trader.address)
    path = tmp_path_factory.mktemp("deployment") / "deployment.json"
    deployment.write(path)
    return Attached(deployment, path, key, Trader(node.w3, trader, deployment))


@dataclass
class Run:
    """What one ``pulsearb validate`` printed."""

    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        """The JSON report (``--format json``: the last stdout line)."""
        return json.loads(self.out.strip().splitlines()[-1])

    def steps(self) -> dict[str, str]:
        """Step name -> status, from the JSON report."""
        return {s["name"]: s["status"] for s in self.json()["steps"]}


def run_validate(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    key: str | None,
    *argv: str,
) -> Run:
    """Run ``pulsearb validate ARGV`` in this process with ``key`` in $PULSEARB_PRIVATE_KEY (None: no key).

    Every run asserts that no form of the key (with or without 0x, lower or upper case) was printed.
    """
    capsys.readouterr()
    if key is None:
        monkeypatch.delenv(KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(KEY_ENV, key)
    code = main(["validate", *argv])
    captured = capsys.readouterr()
    if key is not None:
        bare = key.removeprefix("0x")
        text = captured.out + captured.err
        for form in (bare, bare.upper(), bare[:16]):
            assert form not in text and form.lower() not in text.lower()
    return Run(code, captured.out, captured.err)
