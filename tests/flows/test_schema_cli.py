"""The exported JSON Schema matches the code, agrees with the loader, and the CLI reports like the loader."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from flows.spec import SCHEMA, SCHEMA_FILE, SPECS_DIR, Field, json_schema, parse_spec

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^[^:]+\.yaml:\d+: \S+: .+$")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        cwd=ROOT,
        env=os.environ | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_committed_schema_file_matches_the_code() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema(), (
        f"{SCHEMA_FILE} is stale: run `pulsearb flows schema --output {SCHEMA_FILE}`"
    )


def test_json_schema_accepts_the_committed_specs_and_rejects_what_the_loader_rejects() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted(SPECS_DIR.glob("*.yaml")):
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == [], path
    base = "version: 1\nname: x\nkind: detector\n"
    for extra in ("inputs: {topic: [a]}\n", "resources: {processes: 0}\n", "kind2: x\n", "window: {type: hop}\n"):
        data = yaml.safe_load(base + extra)
        assert list(validator.iter_errors(data)), extra
        assert parse_spec(base + extra, Path("x.yaml"))[0] is None, extra


def test_validate_cli_prints_one_line_per_problem_and_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nname: Bad\nkind: detector\ninputs:\n  topic: [market.pool_sync]\nresources: {processes: 0}\n"
    )
    result = cli("flows", "validate", str(bad), str(SPECS_DIR / "cross_dex.yaml"))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3 and all(LINE.match(x) for x in lines), lines
    assert [x.split(": ")[1] for x in lines] == ["name", "inputs.topic", "resources.processes"]
    assert lines[0].startswith(f"{bad}:2: name: expected")
    assert "Traceback" not in result.stderr and "3 problem(s) in 2 spec file(s)" in result.stderr


def test_validate_cli_defaults_to_the_committed_specs_and_schema_check_passes() -> None:
    result = cli("flows", "validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stderr
    assert cli("flows", "schema", "--check").returncode == 0
    printed = cli("flows", "schema")
    assert json.loads(printed.stdout) == json_schema()


def test_every_schema_field_is_documented_in_docs_flows_md() -> None:
    doc = (ROOT / "docs" / "flows.md").read_text()

    def paths(fields: dict[str, Field], prefix: str = "") -> list[str]:
        out = []
        for name, f in fields.items():
            path = f"{prefix}{name}"
            out += paths(dict(f.fields), f"{path}.") if f.fields else [path]
        return out

    missing = [p for p in paths(SCHEMA) if f"| `{p}` |" not in doc]
    assert not missing, f"docs/flows.md has no reference row for {missing}"
