"""Load the compiled contract artifacts committed under contracts/artifacts.

The artifacts are written by ``contracts/build.py`` (solc-js, settings recorded in each file) and checked
against the sources by ``contracts/build.py --check``, so running pulsearb needs no Solidity compiler. This
module only reads JSON; it imports no web3, so plans and tests can use ABIs without a chain client.

Example::

    from flows.execution.abi import load_artifact

    executor = load_artifact("ArbExecutor")
    contract = w3.eth.contract(abi=executor.abi, bytecode=executor.bytecode)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from base.errors import PulsearbError

__all__ = ["ARTIFACTS_DIR", "Artifact", "ArtifactError", "artifact_names", "load_artifact"]

# contracts/ is a sibling of flows/ at the repository root: flows/execution/abi.py -> parents[2] is the root.
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "contracts" / "artifacts"
BUILD_COMMAND = ".venv/bin/python contracts/build.py"


class ArtifactError(PulsearbError):
    """A contract artifact is missing or unreadable.

    Args:
        name: the contract name asked for.
        reason: one-line reason, ending in the command that fixes it.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name
        self.reason = reason

    def __reduce__(self):  # survive pickling across Bytewax workers
        return (type(self), (self.name, self.reason))


@dataclass(frozen=True)
class Artifact:
    """One compiled contract.

    Attributes:
        name: contract name, e.g. ``"ArbExecutor"``.
        abi: the contract ABI as solc emits it (a list of JSON objects); treat it as read-only.
        bytecode: creation code, ``0x``-prefixed hex (constructor arguments not included).
        deployed_bytecode: runtime code, ``0x``-prefixed hex, what ``eth_getCode`` returns after deployment
            (immutables aside: solc leaves their slots zeroed here).
        compiler: compiler version and settings the artifact was built with.
        source_hash: sha256 hex of the contract's source file.
    """

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler: dict[str, Any]
    source_hash: str


def artifact_names(artifacts_dir: Path | None = None) -> list[str]:
    """List the contracts that have an artifact.

    Args:
        artifacts_dir: folder to read; defaults to the repository's contracts/artifacts.

    Returns:
        Contract names, sorted.
    """
    folder = ARTIFACTS_DIR if artifacts_dir is None else artifacts_dir
    return sorted(path.stem for path in folder.glob("*.json"))


def load_artifact(name: str, artifacts_dir: Path | None = None) -> Artifact:
    """Read the committed artifact of contract ``name``.

    Args:
        name: contract name, the file stem of its source (``"PulsePair"`` for contracts/src/PulsePair.sol).
        artifacts_dir: folder to read; defaults to the repository's contracts/artifacts.

    Returns:
        The artifact; a fresh object on every call.

    Raises:
        ArtifactError: no artifact for ``name``, or the file is not a valid artifact. The message names the
            build command.
    """
    folder = ARTIFACTS_DIR if artifacts_dir is None else artifacts_dir
    path = folder / f"{name}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        known = ", ".join(artifact_names(folder)) or "none"
        msg = f"no contract artifact {path}: expected one of {known}; run `{BUILD_COMMAND}` to build them"
        raise ArtifactError(name, msg) from exc
    try:
        raw = json.loads(text)
        return Artifact(
            name=raw["name"],
            abi=raw["abi"],
            bytecode=raw["bytecode"],
            deployed_bytecode=raw["deployedBytecode"],
            compiler=raw["compiler"],
            source_hash=raw["sourceHash"],
        )
    except (ValueError, KeyError, TypeError) as exc:
        msg = f"contract artifact {path} is not valid ({type(exc).__name__}: {exc}); run `{BUILD_COMMAND}`"
        raise ArtifactError(name, msg) from exc
