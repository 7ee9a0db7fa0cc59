"""The local EVM node: anvil (Foundry), installed from npm into ops/node by the set-up."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path

from base.errors import StackError
from base.paths import ROOT
from ops.simulator.stack.process import ProcessSpec

ANVIL_NPM_PATH = ROOT / "ops" / "node" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
CHAIN_ID = 31337


def anvil_binary() -> Path:
    """Return the anvil executable: ``$PULSEARB_ANVIL``, the npm install under ops/node, or PATH.

    Raises:
        StackError: anvil is not installed (the message says how to install it).
    """
    override = os.environ.get("PULSEARB_ANVIL")
    if override:
        if not Path(override).is_file():
            msg = f"anvil not found at PULSEARB_ANVIL={override}: fix the path, or unset it and run `make setup`"
            raise StackError(msg)
        return Path(override)
    if ANVIL_NPM_PATH.exists():
        return ANVIL_NPM_PATH
    found = shutil.which("anvil")
    if found:
        return Path(found)
    msg = "anvil is not installed: run `make setup` (or `npm install --prefix ops/node`)"
    raise StackError(msg)


def rpc_call(url: str, method: str, params: list | None = None, timeout: float = 2.0) -> object:
    """Make one JSON-RPC call and return its result (raises OSError/ValueError on failure)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        reply = json.loads(resp.read())
    if "error" in reply:
        raise ValueError(reply["error"])
    return reply["result"]


def chain_ready(url: str) -> bool:
    """Return True once the node answers ``eth_chainId``."""
    try:
        rpc_call(url, "eth_chainId", timeout=0.5)
    except (OSError, ValueError):
        return False
    return True


def chain_spec(port: int, block_time_s: float | None = None) -> ProcessSpec:
    """Describe an anvil node on 127.0.0.1:``port`` (chain id 31337, funded dev accounts).

    Args:
        port: loopback port.
        block_time_s: interval mining in seconds; None mines a block per transaction (automine).
    """
    argv = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port), "--silent", "--chain-id", str(CHAIN_ID)]
    if block_time_s:
        argv += ["--block-time", str(block_time_s)]
    url = f"http://127.0.0.1:{port}"
    return ProcessSpec(name="chain", argv=argv, ready=lambda: chain_ready(url), start_timeout_s=20.0)
