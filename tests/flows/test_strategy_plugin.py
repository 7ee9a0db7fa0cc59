"""A separate package adds a strategy through the ``pulsearb.strategies`` entry point, without touching this repo.

The package is written to tmp_path with a pyproject.toml declaring the entry point; setuptools derives its
installed metadata from it (``egg_info``: entry_points.txt, offline, without touching the venv), and the package
directory goes on the path of a fresh ``pulsearb`` process, which must validate and build a spec naming it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "pulsearb-demo-strategy"
version = "0.1.0"

[project.entry-points."pulsearb.strategies"]
mirror_dex = "pulsearb_demo_strategy:evaluate"

[tool.setuptools]
packages = ["pulsearb_demo_strategy"]
"""

MODULE = '''\
"""mirror_dex: cross_dex under another name (a third-party strategy is any function of this shape)."""

from flows.strategies import cross_dex


def evaluate(states, params, now_ns):
    return cross_dex.evaluate(states, params, now_ns)
'''

SPEC = """\
version: 1
name: mirror_eth
kind: detector
inputs:
  topics: [market.pool_sync]
strategy:
  name: mirror_dex
  params: {min_net_profit: 1}
outputs:
  opportunities: arb.opportunity
"""

BUILD = """\
from pathlib import Path
from flows.build import RunEnv, build
from flows.spec import load_spec
from flows.strategies import strategy
flow = build(load_spec(Path({spec!r})), RunEnv(bootstrap="127.0.0.1:9"))
print(type(flow).__name__, flow.flow_id, strategy("mirror_dex").__module__)
"""


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package source plus the metadata setuptools derives from its pyproject (what an install leaves)."""
    pkg = tmp_path_factory.mktemp("plugin")
    (pkg / "pyproject.toml").write_text(PYPROJECT)
    (pkg / "pulsearb_demo_strategy").mkdir()
    (pkg / "pulsearb_demo_strategy" / "__init__.py").write_text(MODULE)
    out = subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "egg_info"],
        cwd=pkg,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    [info] = pkg.glob("*.egg-info")
    assert "mirror_dex = pulsearb_demo_strategy:evaluate" in (info / "entry_points.txt").read_text()
    return pkg


def run(args: list[str], plugin: Path | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if plugin is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin), env.get("PYTHONPATH", "")]))
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_an_installed_package_adds_a_strategy_by_entry_point(plugin_path: Path, tmp_path: Path) -> None:
    spec = tmp_path / "mirror_eth.yaml"
    spec.write_text(SPEC)
    validate = [sys.executable, "-m", "ops", "flows", "validate", str(spec)]

    without = run(validate, None)
    assert without.returncode == 1
    assert f"{spec}:7: strategy.name: expected a registered strategy" in without.stdout
    assert "got 'mirror_dex'" in without.stdout

    with_plugin = run(validate, plugin_path)
    assert with_plugin.returncode == 0, with_plugin.stdout + with_plugin.stderr

    built = run([sys.executable, "-c", textwrap.dedent(BUILD).format(spec=str(spec))], plugin_path)
    assert built.returncode == 0, built.stderr
    assert built.stdout.split() == ["Dataflow", "mirror_eth", "pulsearb_demo_strategy"]
