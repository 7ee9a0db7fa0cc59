"""Compile contracts/src with solc-js and write one artifact per contract to contracts/artifacts/.

Usage::

    .venv/bin/python contracts/build.py          # rebuild contracts/artifacts/<Name>.json
    .venv/bin/python contracts/build.py --check  # rebuild in a temp dir, exit 1 if a committed file differs

The compiler is the solc-js package pinned in ops/node (no network, no native solc), driven through Solidity's
standard-JSON interface by ``contracts/solc-standard-json.js``. Every source under contracts/src is compiled in
one unit; a file ``X.sol`` outside ``interfaces/`` and ``libraries/`` yields the artifact ``X.json`` for its
contract ``X``. The metadata hash is disabled and the JSON is written with sorted keys, so a rebuild of unchanged
sources is byte-identical, which is what ``--check`` (and tests/contracts/test_artifacts.py) relies on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = CONTRACTS_DIR.parent
SRC_DIR = CONTRACTS_DIR / "src"
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
NODE_SCRIPT = CONTRACTS_DIR / "solc-standard-json.js"
SOLC_PACKAGE = REPO_ROOT / "ops" / "node" / "node_modules" / "solc"
SOLC_VERSION = "0.8.37"

# Source folders holding only interfaces and internal libraries: compiled, but no artifact of their own.
SUPPORT_DIRS = frozenset({"interfaces", "libraries"})

# Everything that changes the bytecode. "prague" is the fork eth-tester's py-evm runs; no metadata hash or
# CBOR trailer, so the bytecode depends on the sources and these settings only.
SETTINGS: dict[str, Any] = {
    "evmVersion": "prague",
    "metadata": {"appendCBOR": False, "bytecodeHash": "none"},
    "optimizer": {"enabled": True, "runs": 10_000},
}
OUTPUT_SELECTION = {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}}

INSTALL_HINT = "run `make setup` (or `npm install --prefix ops/node`)"
BUILD_COMMAND = ".venv/bin/python contracts/build.py"


class BuildError(Exception):
    """The build cannot run or the sources do not compile; ``str`` is one line naming the fix."""


def find_node() -> str:
    """Return the path of the ``node`` executable.

    Raises:
        BuildError: node is not on PATH.
    """
    node = shutil.which("node")
    if node is None:
        msg = f"node not found on PATH: install Node.js 20 (e.g. `apt-get install nodejs`), then {INSTALL_HINT}"
        raise BuildError(msg)
    return node


def check_solc_package() -> Path:
    """Return the solc-js package directory after checking it is the pinned version.

    Raises:
        BuildError: the package is missing or is another version.
    """
    manifest = SOLC_PACKAGE / "package.json"
    if not manifest.is_file():
        msg = f"solc-js not found at {SOLC_PACKAGE.relative_to(REPO_ROOT)}: {INSTALL_HINT}"
        raise BuildError(msg)
    version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    if version != SOLC_VERSION:
        msg = (
            f"solc-js {version} found at {SOLC_PACKAGE.relative_to(REPO_ROOT)}, the artifacts are built with "
            f"{SOLC_VERSION}: {INSTALL_HINT}"
        )
        raise BuildError(msg)
    return SOLC_PACKAGE


def collect_sources(src_dir: Path = SRC_DIR) -> dict[str, str]:
    """Read every ``.sol`` file under ``src_dir``.

    Args:
        src_dir: the source root; unit names are paths relative to it, so imports like
            ``./interfaces/IPulsePair.sol`` resolve without an import callback.

    Returns:
        Source unit name (POSIX relative path) to file text, sorted by name.
    """
    files = sorted(src_dir.rglob("*.sol"))
    return {path.relative_to(src_dir).as_posix(): path.read_text(encoding="utf-8") for path in files}


def artifact_units(sources: dict[str, str]) -> list[tuple[str, str]]:
    """List the (source unit, contract name) pairs that get an artifact.

    Args:
        sources: the output of :func:`collect_sources`.

    Returns:
        One pair per source file outside the support folders, contract name = file stem.
    """
    units = []
    for unit in sources:
        parts = unit.split("/")
        if parts[0] in SUPPORT_DIRS:
            continue
        units.append((unit, Path(unit).stem))
    return units


def compile_sources(sources: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Compile all sources in one solc-js standard-JSON run.

    Args:
        sources: source unit name to text.

    Returns:
        The compiler's full version string and its standard-JSON output.

    Raises:
        BuildError: node or solc-js is missing, the compiler crashed, or a source has errors (each error is
            also printed to stderr in solc's own format).
    """
    node = find_node()
    solc = check_solc_package()
    standard_input = {
        "language": "Solidity",
        "sources": {unit: {"content": text} for unit, text in sources.items()},
        "settings": {**SETTINGS, "outputSelection": OUTPUT_SELECTION},
    }
    proc = subprocess.run(
        [node, str(NODE_SCRIPT), str(solc)],
        input=json.dumps(standard_input).encode(),
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        last = (proc.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        msg = f"solc-js failed (exit {proc.returncode}): {last}"
        raise BuildError(msg)
    result = json.loads(proc.stdout)
    output: dict[str, Any] = result["output"]
    problems = output.get("errors", [])
    for problem in problems:
        print(problem.get("formattedMessage", problem.get("message", "")).rstrip(), file=sys.stderr)
    errors = [p for p in problems if p.get("severity") == "error"]
    if errors:
        first = errors[0]
        where = first.get("sourceLocation", {}).get("file", "?")
        msg = f"{len(errors)} compile error(s), first in contracts/src/{where}: {first.get('message')}"
        raise BuildError(msg)
    return str(result["version"]), output


def make_artifacts(sources: dict[str, str]) -> dict[str, str]:
    """Compile ``sources`` and render each artifact.

    Args:
        sources: source unit name to text.

    Returns:
        Artifact file name (``<Name>.json``) to its exact file text.

    Raises:
        BuildError: as :func:`compile_sources`, or a file does not define the contract its name promises.
    """
    version, output = compile_sources(sources)
    rendered = {}
    for unit, name in artifact_units(sources):
        contract = output.get("contracts", {}).get(unit, {}).get(name)
        if contract is None:
            msg = f"contracts/src/{unit} defines no contract named {name}: name the file after its contract"
            raise BuildError(msg)
        artifact = {
            "name": name,
            "source": f"src/{unit}",
            "sourceHash": hashlib.sha256(sources[unit].encode("utf-8")).hexdigest(),
            "abi": contract["abi"],
            "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + contract["evm"]["deployedBytecode"]["object"],
            "compiler": {"version": version, "settings": SETTINGS},
        }
        rendered[f"{name}.json"] = json.dumps(artifact, indent=2, sort_keys=True) + "\n"
    return rendered


def write_artifacts(rendered: dict[str, str], out_dir: Path) -> None:
    """Write ``rendered`` into ``out_dir`` and delete artifacts of contracts that no longer exist.

    Args:
        rendered: the output of :func:`make_artifacts`.
        out_dir: target folder, created if missing.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.json"):
        if stale.name not in rendered:
            stale.unlink()
    for file_name, text in rendered.items():
        (out_dir / file_name).write_text(text, encoding="utf-8")


def compare(built_dir: Path, committed_dir: Path) -> list[str]:
    """Name every artifact that differs between a fresh build and the committed folder.

    Args:
        built_dir: folder holding a fresh build.
        committed_dir: folder holding the committed artifacts.

    Returns:
        Sorted problems such as ``"PulsePair (differs)"``; empty when the folders match byte for byte.
    """
    built = {p.name: p.read_bytes() for p in built_dir.glob("*.json")}
    committed = {p.name: p.read_bytes() for p in committed_dir.glob("*.json")}
    problems = []
    for file_name in sorted(built.keys() | committed.keys()):
        name = file_name.removesuffix(".json")
        if file_name not in committed:
            problems.append(f"{name} (missing)")
        elif file_name not in built:
            problems.append(f"{name} (no longer has a source)")
        elif built[file_name] != committed[file_name]:
            problems.append(f"{name} (differs)")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Build or check the artifacts; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="rebuild into a temporary folder and fail if contracts/artifacts differs",
    )
    args = parser.parse_args(argv)
    try:
        rendered = make_artifacts(collect_sources())
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.check:
        write_artifacts(rendered, ARTIFACTS_DIR)
        names = ", ".join(rendered)
        print(f"wrote {len(rendered)} artifacts to {ARTIFACTS_DIR.relative_to(REPO_ROOT)}: {names}")
        return 0
    with tempfile.TemporaryDirectory(prefix="pulsearb-contracts-") as tmp:
        write_artifacts(rendered, Path(tmp))
        problems = compare(Path(tmp), ARTIFACTS_DIR)
    if problems:
        print(
            f"error: committed artifacts do not match the sources: {', '.join(problems)}; "
            f"run `{BUILD_COMMAND}` and commit contracts/artifacts",
            file=sys.stderr,
        )
        return 1
    print(f"ok: {len(rendered)} artifacts match contracts/src")
    return 0


if __name__ == "__main__":
    sys.exit(main())
