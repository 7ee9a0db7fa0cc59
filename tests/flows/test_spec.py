"""The spec loader: every kind of error is one line naming file, line, field path, expected and found."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from flows.spec import SPECS_DIR, Join, SpecError, load_spec, load_specs, parse_spec

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<path>\S+): expected (?P<expected>.+), got (?P<found>.+)$")

VALID = """\
version: 1
name: eth_usdc
kind: detector
inputs:
  topics: [market.pool_sync]
strategy:
  name: cross_dex
  params: {min_net_profit: 1}
outputs:
  opportunities: arb.opportunity
"""


def problems(text: str) -> list[dict[str, str]]:
    spec, found = parse_spec(textwrap.dedent(text), Path("flows/specs/x.yaml"))
    assert spec is None, "expected problems"
    out = []
    for p in found:
        m = LINE.match(str(p))
        assert m, f"not a FILE:LINE: path: expected X, got Y line: {p}"
        out.append(m.groupdict())
    return out


def test_committed_specs_are_valid() -> None:
    specs = load_specs()
    assert {s.kind for s in specs} >= {"bridge", "detector", "archive"}
    assert all(s.version == 1 and len(s.sha256) == 64 for s in specs)


def test_valid_spec_parses_into_sections_with_defaults() -> None:
    spec, found = parse_spec(VALID, Path("x.yaml"))
    assert found == [] and spec is not None
    assert spec.inputs.topics == ("market.pool_sync",) and spec.inputs.start_offset == "earliest"
    assert spec.window.type == "latest" and spec.clock.type == "event" and spec.join == Join()
    assert spec.resources.processes == 1 and spec.recovery.snapshot_interval_s == 1.0
    assert spec.dlq_topic == "dlq.eth_usdc" and dict(spec.outputs) == {"opportunities": "arb.opportunity"}
    assert spec.line_of("strategy.params.min_net_profit") == 8 and spec.line_of("strategy.params.nope") == 8


def test_unknown_key_names_the_line_and_suggests_the_key() -> None:
    [p] = problems(VALID.replace("  topics: [market.pool_sync]", "  topic: [market.pool_sync]"))
    assert (p["line"], p["path"]) == ("5", "inputs.topic")
    assert 'unknown key "topic" (did you mean "topics"?)' in p["found"]
    assert "topics" in p["expected"]


def test_unknown_top_level_section() -> None:
    [p] = problems(VALID + "resorces: {processes: 2}\n")
    assert (p["line"], p["path"]) == ("11", "resorces") and '"resources"' in p["found"]


@pytest.mark.parametrize(
    ("line", "path", "expected", "found"),
    [
        ("resources: {processes: two}", "resources.processes", "an integer from 1 to 64", '"two"'),
        ("resources: {processes: 0}", "resources.processes", "an integer from 1 to 64", "0"),
        ("resources: {workers_per_process: 1.5}", "resources.workers_per_process", "an integer from 1 to 64", "1.5"),
        ("recovery: {snapshot_interval_s: 0}", "recovery.snapshot_interval_s", "a number > 0", "0"),
        ("recovery: {snapshot_interval_s: true}", "recovery.snapshot_interval_s", "a number > 0", "true"),
        ("observability: {log_level: LOUD}", "observability.log_level", 'one of "DEBUG"', '"LOUD"'),
        ("observability: {metrics_port: 70000}", "observability.metrics_port", "from 0 to 65535", "70000"),
        ("description: [a, b]", "description", "a string", "a list"),
        (
            "join: {pairs: [[0x1, '0x2791bca1f2de4661ed88a30c99a7a9449aa84174']]}",
            "join.pairs[0][0]",
            "a token address",
            "1",
        ),
        (
            "join: {pairs: [['0x2791bca1f2de4661ed88a30c99a7a9449aa84174']]}",
            "join.pairs[0]",
            "a list of 2",
            "a list of 1",
        ),
        ("join: {venues: [-1]}", "join.venues[0]", "an integer >= 0", "-1"),
        ("window: {type: hopping}", "window.type", 'one of "latest"', '"hopping"'),
        ("window: {type: tumbling}", "window.length_ms", "a length in ms for a tumbling window", "nothing"),
        ("window: {type: latest, gap_ms: 10}", "window.gap_ms", "no gap_ms for a latest window", "10"),
        ("store: {dsn: 'https://u:secret@ch:8443'}", "store.dsn", "a DSN without a password", "a DSN with a password"),
        ("inputs: {topics: ['bad topic']}", "inputs.topics[0]", "a Kafka topic name", '"bad topic"'),
        ("inputs: {start_offset: newest}", "inputs.start_offset", 'one of "earliest", "latest"', '"newest"'),
        ("strategy: {name: Cross-Dex}", "strategy.name", "a strategy name", '"Cross-Dex"'),
        ("outputs: {opportunity: arb.opportunity}", "outputs.opportunity", "one of opportunities", "unknown key"),
    ],
)
def test_each_kind_of_value_error(line: str, path: str, expected: str, found: str) -> None:
    text = "\n".join(x for x in VALID.splitlines() if not x.startswith(("inputs", "  topics", "outputs", "  opport")))
    if line.startswith(("strategy",)):
        text = "\n".join(x for x in text.splitlines() if not x.startswith(("strategy", "  name", "  params")))
    [p] = problems(text + "\n" + line + "\n")
    assert p["path"] == path
    assert expected in p["expected"], p
    assert p["found"].startswith(found), p
    assert int(p["line"]) == len(text.splitlines()) + 1


def test_missing_required_keys_and_wrong_version() -> None:
    found = problems("version: 2\ndescription: no name, no kind\n")
    by_path = {p["path"]: p for p in found}
    assert by_path["version"]["found"] == "2" and by_path["version"]["expected"] == "one of 1"
    assert by_path["name"]["found"] == "nothing (the key is missing)"
    assert by_path["kind"]["expected"].startswith('one of "bridge", "detector"')


def test_duplicate_key_names_both_lines() -> None:
    [p] = problems(VALID + "inputs:\n  topics: [market.pool_swap]\n")
    assert (p["line"], p["path"]) == ("11", "inputs")
    assert "again (first on line 4)" in p["found"]


def test_every_problem_is_reported_not_just_the_first() -> None:
    bad = VALID.replace("name: eth_usdc", "name: Eth").replace("kind: detector", "kind: detecter")
    bad = bad.replace("  topics: [market.pool_sync]", "  topics: market.pool_sync")
    found = problems(bad + "resources: {processes: 0}\n")
    assert [p["path"] for p in found] == ["name", "kind", "inputs.topics", "resources.processes"]
    assert [p["line"] for p in found] == ["2", "3", "5", "11"]


@pytest.mark.parametrize(
    ("text", "line", "expected", "found"),
    [
        ("name: [unclosed\n", "2", "valid YAML", "a syntax error"),
        ("", "1", "a mapping of spec sections", "an empty file"),
        ("- a\n- b\n", "1", "a mapping of spec sections", "a list"),
    ],
)
def test_documents_that_are_not_specs(text: str, line: str, expected: str, found: str) -> None:
    [p] = problems(text)
    assert (p["line"], p["path"], p["expected"]) == (line, "(document)", expected)
    assert p["found"].startswith(found)


def test_load_specs_reports_all_files_and_duplicate_names(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(VALID)
    (tmp_path / "b.yaml").write_text(VALID)
    (tmp_path / "c.yaml").write_text(VALID.replace("kind: detector", "kind: nope"))
    with pytest.raises(SpecError) as err:
        load_specs(tmp_path)
    lines = err.value.problems
    assert any(
        line.endswith(
            'c.yaml:3: kind: expected one of "bridge", "detector", "risk_execution", "archive", "collector", got "nope"'
        )
        for line in lines
    ), lines
    assert any("b.yaml:2: name: expected a unique flow name" in line and "a.yaml:2" in line for line in lines), lines


def test_unreadable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path / "missing.yaml")
    assert len(err.value.problems) == 1 and "missing.yaml" in err.value.problems[0]


def test_join_normalizes_pairs_and_filters_pools() -> None:
    usdc, weth, wbtc = (
        "0x2791bca1f2de4661ed88a30c99a7a9449aa84174",
        "0x7ceb23fd6bc0add59e62ac25578270cff1b9f619",
        "0x1bfd67037b42cf73acf2047067bd4f2c47d9bfd6",
    )
    text = VALID + f"join:\n  pairs: [['{weth.upper().replace('0X', '0x')}', '{usdc}']]\n  venues: [400]\n"
    spec, found = parse_spec(text, Path("x.yaml"))
    assert found == [] and spec is not None
    assert spec.join.pairs == (tuple(sorted((usdc, weth))),)
    assert spec.join.accepts(weth, usdc, 400) and spec.join.accepts(usdc, weth)
    assert not spec.join.accepts(wbtc, usdc, 400) and not spec.join.accepts(weth, usdc, 401)


def test_specs_dir_holds_only_specs_and_the_schema() -> None:
    assert sorted(p.name for p in (SPECS_DIR / "schema").iterdir()) == ["flow-spec.v1.json"]


def test_a_non_scalar_key_is_a_problem_not_a_crash() -> None:
    found = problems(VALID + "? [a, b]\n: 1\n")
    assert [(p["line"], p["path"], p["expected"], p["found"]) for p in found] == [
        ("11", "(document)", "plain keys", "a list")
    ]
