"""`pulsearb topics apply` on the real broker, with uuid-named topic files: create, align, drift, refusals."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from flows.spec import load_spec
from ops.control.topics import apply, load_topics, undeclared
from ops.simulator.stack.stack import StackInfo
from tests.deploy.helpers import cli

pytestmark = pytest.mark.integration


def topic_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / f"topics-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(body)
    return path


def spec_file(tmp_path: Path, name: str, outputs: str = "") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"version: 1\nname: {name}\nkind: detector\nstrategy: {{name: cross_dex}}\n{outputs}")
    return path


@pytest.fixture
def names() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"t{tag}.data", f"f{tag}"


def test_creates_then_finds_nothing_to_do_and_derives_each_flows_dlq(
    broker_stack: StackInfo, tmp_path: Path, names: tuple[str, str]
) -> None:
    data, flow = names
    body = (
        f"defaults: {{partitions: 2, config: {{retention.ms: '3600000'}}}}\n"
        f"dlq: {{partitions: 1, config: {{retention.ms: '86400000'}}}}\ntopics: {{{data}: {{}}}}\n"
    )
    spec = load_spec(spec_file(tmp_path, flow))
    topics = load_topics(topic_file(tmp_path, body), [spec])
    by_name = {t.name: t for t in topics}
    assert by_name[f"dlq.{flow}"].partitions == 1 and by_name[f"dlq.{flow}"].config["retention.ms"] == "86400000"
    assert by_name[data].partitions == 2

    dry = apply(broker_stack.bootstrap or "", topics, dry_run=True)
    assert sorted(dry.created) == sorted(f"{t.name} (would create)" for t in topics)
    first = apply(broker_stack.bootstrap or "", topics)
    assert sorted(first.created) == sorted([data, f"dlq.{flow}"]) and not first.refused
    again = apply(broker_stack.bootstrap or "", topics)
    assert sorted(again.unchanged) == sorted([data, f"dlq.{flow}"]) and not (again.created or again.drift)


def test_drift_is_reported_and_impossible_changes_refused(
    broker_stack: StackInfo, tmp_path: Path, names: tuple[str, str]
) -> None:
    data, flow = names
    boot = broker_stack.bootstrap or ""
    spec = spec_file(tmp_path, flow)
    v1 = topic_file(
        tmp_path, f"defaults: {{partitions: 2, config: {{retention.ms: '3600000'}}}}\ntopics: {{{data}: {{}}}}\n"
    )
    created = cli(tmp_path, "topics", "apply", "--bootstrap", boot, "--file", str(v1), "--specs", str(spec))
    assert created.returncode == 0, created.stderr
    assert f"created   {data}" in created.stdout and f"created   dlq.{flow}" in created.stdout

    # A config change is drift, reported and aligned (IncrementalAlterConfigs: only the keys the file sets).
    v2 = topic_file(
        tmp_path, f"defaults: {{partitions: 2, config: {{retention.ms: '7200000'}}}}\ntopics: {{{data}: {{}}}}\n"
    )
    changed = cli(tmp_path, "topics", "apply", "--bootstrap", boot, "--file", str(v2), "--specs", str(spec))
    print(changed.stdout + changed.stderr)
    assert changed.returncode == 0, changed.stderr
    assert f"drift     {data}: config retention.ms 3600000 -> 7200000" in changed.stdout
    assert f"updated   {data}" in changed.stdout
    aligned = apply(boot, load_topics(v2, [load_spec(spec)]))
    assert data in aligned.unchanged and not aligned.drift

    # Fewer partitions: refused with the reason and the way out, exit 1, nothing else attempted for it.
    v3 = topic_file(
        tmp_path, f"defaults: {{partitions: 1, config: {{retention.ms: '3600000'}}}}\ntopics: {{{data}: {{}}}}\n"
    )
    fewer = cli(tmp_path, "topics", "apply", "--bootstrap", boot, "--file", str(v3), "--specs", str(spec))
    assert fewer.returncode == 1
    [line] = [x for x in fewer.stderr.splitlines() if data in x]
    assert line == (
        f"pulsearb topics apply: error: {data}: has 2 partitions, the file asks for 1: Kafka cannot remove "
        "partitions (keep 2 in the file, or recreate the topic and lose its data)"
    )

    # More partitions: drift, applied only on request (this broker cannot add partitions: a clear refusal).
    v4 = topic_file(
        tmp_path, f"defaults: {{partitions: 3, config: {{retention.ms: '3600000'}}}}\ntopics: {{{data}: {{}}}}\n"
    )
    grow = apply(boot, load_topics(v4, [load_spec(spec)]))
    assert any(d.startswith(f"{data}: partitions 2 -> 3") and "--grow-partitions" in d for d in grow.drift)
    assert not grow.refused
    grown = apply(boot, load_topics(v4, [load_spec(spec)]), grow_partitions=True)
    assert any(r.startswith(f"{data}: the broker refused to add partitions") for r in grown.refused), grown

    # A replication factor the topic does not have is a reassignment, not something apply does.
    rf = apply(boot, load_topics(v1, [load_spec(spec)], replication_factor=3))
    assert any(r.startswith(f"{data}: replication factor is 1, the file asks for 3") for r in rf.refused), rf


def test_a_topic_a_spec_uses_must_be_in_the_file(tmp_path: Path, names: tuple[str, str]) -> None:
    data, flow = names
    spec = load_spec(spec_file(tmp_path, flow, "outputs: {opportunities: arb.elsewhere}\n"))
    topics = load_topics(topic_file(tmp_path, f"topics: {{{data}: {{}}}}\n"), [spec])
    [problem] = undeclared(topics, [spec])
    assert (
        problem.startswith("arb.elsewhere: used by") and "(outputs.opportunities) but not in the topic file" in problem
    )


def test_committed_topic_file_covers_every_committed_spec() -> None:
    from flows.spec import load_specs

    specs = load_specs()
    topics = load_topics(specs=specs)
    assert undeclared(topics, specs) == []
    assert {s.dlq_topic for s in specs} <= {t.name for t in topics}
