"""The committed artifacts are exactly what contracts/build.py makes of contracts/src, and load cleanly."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from flows.execution.abi import ARTIFACTS_DIR, Artifact, ArtifactError, artifact_names, load_artifact

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD = REPO_ROOT / "contracts" / "build.py"
CONTRACTS = [
    "ArbExecutor",
    "FlashLender",
    "LiquidityMinter",
    "PulseFactory",
    "PulsePair",
    "TestFlashBorrower",
    "TestToken",
]


def test_rebuild_matches_committed_artifacts() -> None:
    proc = subprocess.run(
        [sys.executable, str(BUILD), "--check"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"ok: {len(CONTRACTS)} artifacts match contracts/src"


def _load_build_module() -> ModuleType:
    # contracts/ is not a package; load build.py under a name no installed module can shadow.
    spec = importlib.util.spec_from_file_location("pulsearb_contracts_build", BUILD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_names_the_contract_that_differs(tmp_path: Path) -> None:
    # build.py's own comparison, against a copy of the artifacts with one altered and one removed.
    build = _load_build_module()
    for path in ARTIFACTS_DIR.glob("*.json"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    pair = tmp_path / "PulsePair.json"
    pair.write_text(pair.read_text().replace('"runs": 10000', '"runs": 200'))
    (tmp_path / "TestToken.json").unlink()
    assert build.compare(ARTIFACTS_DIR, tmp_path) == ["PulsePair (differs)", "TestToken (missing)"]


def test_artifact_names_and_fields() -> None:
    assert artifact_names() == CONTRACTS
    for name in CONTRACTS:
        artifact = load_artifact(name)
        assert isinstance(artifact, Artifact)
        assert artifact.name == name
        assert artifact.bytecode.startswith("0x") and len(artifact.bytecode) > 2
        assert artifact.deployed_bytecode.startswith("0x") and len(artifact.deployed_bytecode) > 2
        assert artifact.compiler["settings"]["evmVersion"] == "prague"
        assert artifact.compiler["version"].startswith("0.8.37+")
        assert len(artifact.source_hash) == 64
        # EIP-170: deployable runtime code stays under 24,576 bytes.
        assert len(artifact.deployed_bytecode) // 2 - 1 <= 24_576


def test_missing_artifact_names_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as info:
        load_artifact("NoSuchContract")
    message = str(info.value)
    assert "NoSuchContract.json" in message
    assert "`.venv/bin/python contracts/build.py`" in message
    assert "\n" not in message

    (tmp_path / "Broken.json").write_text("{}")
    with pytest.raises(ArtifactError, match=r"Broken\.json is not valid"):
        load_artifact("Broken", artifacts_dir=tmp_path)
