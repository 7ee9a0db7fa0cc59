"""The step runner: order, timing, first failure ends the run, every error one line, URL secrets scrubbed."""

from __future__ import annotations

import requests

from base.errors import ConfigError
from ops.validation.runner import FAIL, NOT_RUN, PASS, SKIP, Done, Step, StepFailed, run_steps
from ops.validation.steps import url_secrets

URL = "https://user:pw@node.example:8545/v3/SECRET?key=K2"


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def started(self, index, total, step) -> None:
        self.events.append(("start", step.name))

    def finished(self, index, total, result) -> None:
        self.events.append((result.status, result.name))


def fail(msg: str):
    def run(_s):
        raise StepFailed(msg)

    return run


def test_order_skip_and_stop_at_first_failure() -> None:
    calls: list[str] = []

    def ok(name: str, skipped: bool = False):
        def run(_s):
            calls.append(name)
            return Done(f"{name} fine\nsecond line dropped", {"n": 1}, skipped=skipped)

        return run

    steps = [
        Step("a", "A", ok("a")),
        Step("b", "B", ok("b", True)),
        Step("c", "C", fail("c broke")),
        Step("d", "D", ok("d")),
    ]
    rec = Recorder()
    report = run_steps(steps, None, rec)
    assert calls == ["a", "b"]
    assert [r.status for r in report.results] == [PASS, SKIP, FAIL, NOT_RUN]
    assert report.results[0].detail == "a fine" and report.results[0].data == {"n": 1}
    assert not report.ok and report.failure is not None and report.failure.detail == "c broke"
    assert rec.events == [("start", "a"), (PASS, "a"), ("start", "b"), (SKIP, "b"), ("start", "c"), (FAIL, "c")]
    assert all(r.seconds >= 0 for r in report.results)
    assert run_steps(steps[:2], None, Recorder()).ok


def test_library_errors_become_one_line_without_secrets() -> None:
    def unreachable(_s):
        raise requests.exceptions.ConnectionError(f"HTTPSConnectionPool: Max retries exceeded with url: {URL}\nmore")

    def leaky(_s):
        raise ValueError("401 Client Error: Unauthorized for url: /v3/SECRET?key=K2 (user:pw)\ntrace")

    secrets = url_secrets(URL)
    report = run_steps(
        [Step("x", "X", unreachable)], None, Recorder(), where="https://node.example:8545", secrets=secrets
    )
    assert report.failure.detail == (
        "https://node.example:8545: JSON-RPC endpoint not reachable (ConnectionError); is the node running?"
    )
    report = run_steps([Step("y", "Y", leaky)], None, Recorder(), where="w", secrets=secrets)
    detail = report.failure.detail
    assert "\n" not in detail and "SECRET" not in detail and "K2" not in detail and "pw" not in detail
    report = run_steps([Step("z", "Z", fail_config)], None, Recorder())
    assert report.failure.detail == "bad setting: fix it"


def fail_config(_s):
    raise ConfigError("bad setting: fix it")
