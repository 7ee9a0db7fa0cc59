"""Run validation steps in order: time each, stop at the first failure, turn any error into one line.

A step is a function of the :class:`~ops.validation.session.Session` that returns a :class:`Done` (what it found,
for the PASS line) or raises :class:`StepFailed` with the reason. Any other error is translated at this seam: a
pulsearb error keeps its message, a web3 or transport error goes through the chain adapter's
:func:`flows.execution.chain.translate`, and every message is cut to its first line with the RPC URL redacted
(node URLs often carry API keys). Tracebacks are logged at DEBUG only (``pulsearb --debug validate ...``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from base.errors import PulsearbError
from flows.execution.chain import translate

log = logging.getLogger(__name__)

PASS, FAIL, SKIP, NOT_RUN = "PASS", "FAIL", "SKIP", "NOT RUN"


class StepFailed(PulsearbError):
    """A step found what it checks to be false; the message is the one-line reason."""


@dataclass(frozen=True, slots=True)
class Done:
    """What a step found.

    Attributes:
        detail: one line for the PASS (or SKIP) line and the summary table.
        data: figures for the JSON report (exact integers for amounts).
        skipped: the step had nothing to do in this mode (``--dry-run-only``).
    """

    detail: str
    data: Mapping[str, Any] = field(default_factory=dict)
    skipped: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    """One validation step: a short name, what it does (shown while it runs), and the function."""

    name: str
    title: str
    run: Callable[[Any], Done]


@dataclass(frozen=True, slots=True)
class StepResult:
    """How a step ended: status PASS, FAIL, SKIP or NOT RUN (after a failure), seconds, detail, figures."""

    name: str
    title: str
    status: str
    seconds: float
    detail: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Report:
    """Every step's result, in order."""

    results: tuple[StepResult, ...]

    @property
    def ok(self) -> bool:
        """True when every step passed (or had nothing to do in this mode)."""
        return all(r.status in (PASS, SKIP) for r in self.results)

    @property
    def failure(self) -> StepResult | None:
        """The step that failed, if one did."""
        return next((r for r in self.results if r.status == FAIL), None)

    @property
    def seconds(self) -> float:
        """Total time of the steps run, seconds."""
        return sum(r.seconds for r in self.results)


class Listener(Protocol):
    """Progress callbacks (the CLI prints them)."""

    def started(self, index: int, total: int, step: Step) -> None:
        """A step starts (``index`` from 1)."""

    def finished(self, index: int, total: int, result: StepResult) -> None:
        """A step ended."""


def one_line(text: str, secrets: Sequence[tuple[str, str]] = ()) -> str:
    """The first line of ``text`` with each ``(secret, replacement)`` substituted (URLs with keys)."""
    first = (text.strip().splitlines() or [""])[0]
    for secret, replacement in secrets:
        if secret:
            first = first.replace(secret, replacement)
    return first


def reason_of(exc: BaseException, where: str) -> str:
    """One-line reason for any error a step raised."""
    if isinstance(exc, PulsearbError):
        return str(exc)
    return str(translate(exc, where=where))


def run_steps(
    steps: Sequence[Step],
    session: Any,
    listener: Listener,
    where: str = "rpc",
    secrets: Sequence[tuple[str, str]] = (),
) -> Report:
    """Run ``steps`` on ``session`` in order; after a failure the rest are NOT RUN.

    Args:
        steps: the steps.
        session: passed to every step.
        listener: told when each step starts and ends.
        where: the endpoint, redacted, for translated errors.
        secrets: ``(text, replacement)`` pairs scrubbed from every message (the full RPC URL).
    """
    results: list[StepResult] = []
    failed = False
    total = len(steps)
    for index, step in enumerate(steps, 1):
        if failed:
            results.append(StepResult(step.name, step.title, NOT_RUN, 0.0, "not run: an earlier step failed"))
            continue
        listener.started(index, total, step)
        t0 = time.perf_counter()
        try:
            done = step.run(session)
        except Exception as exc:
            log.debug("validation step %s failed", step.name, exc_info=True)
            result = StepResult(
                step.name, step.title, FAIL, time.perf_counter() - t0, one_line(reason_of(exc, where), secrets)
            )
            failed = True
        else:
            status = SKIP if done.skipped else PASS
            detail = one_line(done.detail, secrets)
            result = StepResult(step.name, step.title, status, time.perf_counter() - t0, detail, dict(done.data))
        results.append(result)
        listener.finished(index, total, result)
    return Report(tuple(results))
