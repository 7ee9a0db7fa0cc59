"""How a validation run looks: a progress line as each step starts, a PASS/FAIL line with its time as it ends, a
summary table (or one JSON document), and, after a failure, one line saying what failed and why."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from ops.validation.runner import FAIL, NOT_RUN, PASS, SKIP, Report, Step, StepResult

_STYLE = {PASS: "green", FAIL: "bold red", SKIP: "yellow"}


class Progress:
    """Prints each step as it starts and ends (the CLI's :class:`~ops.validation.runner.Listener`).

    Args:
        out: where to print (stdout for the table format, stderr for JSON, so stdout stays one document).
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def started(self, index: int, total: int, step: Step) -> None:
        """Say which step runs."""
        print(f"[{index}/{total}] {step.name}: {step.title} ...", file=self.out, flush=True)

    def finished(self, index: int, total: int, result: StepResult) -> None:
        """Say how it ended, with its time."""
        print(f"      {result.status:<4} {result.name:<11} {result.seconds:7.2f} s  {result.detail}", file=self.out)
        self.out.flush()


def _console(out: TextIO) -> Console:
    width = shutil.get_terminal_size((140, 24)).columns if out.isatty() else 140
    return Console(file=out, width=max(width, 100), highlight=False, soft_wrap=False)


def print_table(report: Report, figures: Mapping[str, Any], out: TextIO) -> None:
    """The summary table: one row per step, then the key figures (raw integer amounts)."""
    table = Table(title="pulsearb validate", title_justify="left")
    table.add_column("step")
    table.add_column("result")
    table.add_column("time", justify="right")
    table.add_column("detail", overflow="fold")
    for r in report.results:
        style = _STYLE.get(r.status, "dim")
        took = "-" if r.status == NOT_RUN else f"{r.seconds:.2f} s"
        table.add_row(r.name, f"[{style}]{r.status}[/]", took, r.detail)
    console = _console(out)
    console.print(table)
    shown = {k: v for k, v in figures.items() if not isinstance(v, list | dict)}
    if shown:
        facts = Table(show_header=False, box=None, pad_edge=False)
        facts.add_column(style="dim")
        facts.add_column()
        for key, value in shown.items():
            facts.add_row(key, str(value))
        console.print(facts)
    verdict = "PASS" if report.ok else "FAIL"
    passed = sum(r.status == PASS for r in report.results)
    console.print(f"{verdict}: {passed} of {len(report.results)} steps passed in {report.seconds:.2f} s")


def to_json(report: Report, figures: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON report: verdict, how it ran, each step (status, seconds, detail, figures) and the run's figures.

    Args:
        report: the steps' results.
        figures: what the steps gathered (amounts in raw units, JSON integers).
        run: how it was run (``rpc`` redacted, ``mode``, ``deployment``, ``dry_run_only``).
    """
    failure = report.failure
    return {
        "ok": report.ok,
        **run,
        "seconds": round(report.seconds, 3),
        "steps": [
            {
                "name": r.name,
                "status": r.status,
                "seconds": round(r.seconds, 3),
                "detail": r.detail,
                "data": dict(r.data),
            }
            for r in report.results
        ],
        "figures": dict(figures),
        "failure": {"step": failure.name, "reason": failure.detail} if failure else None,
    }


def print_json(document: Mapping[str, Any], out: TextIO) -> None:
    """One JSON line (amounts are JSON integers: exact)."""
    print(json.dumps(document), file=out, flush=True)
