"""Abort and resume: a detector that crashes mid-stream resumes from its last snapshot with the same ids."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from bytewax.recovery import init_db_dir

import flows.strategies
from flows.builders.detector import strategy_params
from flows.spec import load_spec
from flows.state.join import as_view
from flows.strategies import cross_dex
from ops.simulator.stack.stack import StackInfo
from tests.detector import scenarios
from tests.detector.broker import Topics, consume_all, produce
from tests.detector.test_flow import _by_id, _record_summary, _summary, run, write_spec
from tests.detector.test_flow import topics as topics  # the fixture, shared

pytestmark = pytest.mark.integration

CRASH: dict[str, Any] = {"at": None}


def crashing(states: Sequence[Any], params: Any, now_ns: int) -> list:
    """cross_dex, except that it raises once on the trigger with sequence ``CRASH["at"]``."""
    trigger = as_view(states).trigger
    if trigger is not None and trigger.sequence == CRASH["at"]:
        CRASH["at"] = None
        raise RuntimeError("injected crash")
    return cross_dex.evaluate(states, params, now_ns)


def test_abort_and_resume_loses_nothing_and_re_emits_only_the_same_ids(
    broker_stack: StackInfo, topics: Topics, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(flows.strategies.BUILTIN, "crashing", crashing)
    bootstrap = broker_stack.bootstrap or ""
    spec = write_spec(tmp_path / "spec.yaml", topics, "cross_dex")
    spec.write_text(spec.read_text().replace("name: cross_dex", "name: crashing"))
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    init_db_dir(recovery, 1)

    first = scenarios.dex_rounds(rounds=3)
    produce(bootstrap, first, topics)
    run(bootstrap, spec, recovery=recovery)  # phase 1, to the end: the last epoch is snapshotted
    after_first = {r["id"] for r in consume_all(bootstrap, topics["arb.opportunity"])}

    second = scenarios.dex_rounds(rounds=3, first_round=3)
    produce(bootstrap, second, topics)
    CRASH["at"] = second[len(second) // 2][2]["sequence"]
    with pytest.raises(Exception, match="error calling") as crash:
        run(bootstrap, spec, recovery=recovery)
    assert CRASH["at"] is None and "injected crash" in repr(crash.value.__cause__), "the crash must have happened"
    run(bootstrap, spec, recovery=recovery)  # resumes after phase 1

    records = consume_all(bootstrap, topics["arb.opportunity"])
    got = _by_id(records)  # a repeated id always carries the same opportunity
    params = strategy_params(load_spec(spec))
    want = {**scenarios.expected(first, "cross_dex", params), **scenarios.expected(second, "cross_dex", params)}
    assert after_first and set(got) == set(want)
    assert {i: _record_summary(r) for i, r in got.items()} == {i: _summary(o) for i, o in want.items()}
    counts = Counter(r["id"] for r in records)
    assert all(counts[i] == 1 for i in after_first), "phase 1 was snapshotted: the resume must not replay it"
    print(f"ids={len(got)} records={len(records)} re-emitted after the abort={len(records) - len(got)}")


def test_a_stopped_flow_resumes_with_its_join_state(broker_stack: StackInfo, topics: Topics, tmp_path: Path) -> None:
    bootstrap = broker_stack.bootstrap or ""
    spec = write_spec(tmp_path / "spec.yaml", topics, "cross_dex")
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    init_db_dir(recovery, 1)
    items = scenarios.dex_rounds(rounds=1)
    half = len(items) // 2
    produce(bootstrap, items[:half], topics)
    run(bootstrap, spec, recovery=recovery)  # ends like a stop: drained to the end of its input
    produce(bootstrap, items[half:], topics)
    run(bootstrap, spec, recovery=recovery)
    got = _by_id(consume_all(bootstrap, topics["arb.opportunity"]))
    want = scenarios.expected(items, "cross_dex", strategy_params(load_spec(spec)))
    first_half = {rec["pool"] for _topic, _key, rec in items[:half]}
    assert any(first_half & {i.pool for i in o.inputs} for o in want.values()), "the halves must be joined"
    assert set(got) == set(want)
