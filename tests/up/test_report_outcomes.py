"""The run report's ``executions`` list and outcome split, from rows archived by the archive's own writer.

Each execution record is what the executor emits (:func:`flows.execution.records.execution_record` of a
:class:`~flows.execution.outcome.Finished`), encoded in Avro and written through :class:`sinks.writer.ArchiveWriter`
into the embedded store, beside its opportunity: the report reads them back as ``pulsearb up`` does.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from flows.execution.ledger import FINAL, Entry
from flows.execution.outcome import ABOVE, BELOW, EXACT, MIN_PROFIT, REVERTED, SKIPPED, Finished
from flows.execution.records import execution_record
from flows.opportunity import to_record
from ops.simulator.report import Competition, collect, render, write
from sinks.clickhouse import connect, session
from sinks.migrate import migrate
from sinks.writer import ArchiveWriter
from tests.risk.factories import NOW, USDC, make_opportunity
from tests.sinks.records import encode

GAS = 150_000 * 10**9  # wei: 150,000 gas at 1 gwei
PREDICTED = 1_000


def _finished(oid: str, status: str, realized: int, reason: str | None, sent: bool, i: int) -> Finished:
    context = {
        "flow": "cross_dex",
        "strategy": "cross_dex",
        "pair": "p",
        "token_in": USDC,
        "amount_in": "1000000",
        "predicted_profit": str(PREDICTED),
        "trace": {"decision_ns": NOW + i},
    }
    return Finished(
        entry=Entry(oid, FINAL, 1 if sent else None, (), context),
        status=status,
        tx_hash=f"0x{i:064x}" if sent else None,
        block_number=100 + i if sent else None,
        gas_used=150_000 if sent else 0,
        effective_gas_price=10**9 if sent else 0,
        realized_profit=realized,
        revert_reason=reason,
        executed_ns=NOW + i * 1_000_000,
    )


CASES = (  # id, status, realized, revert reason, sent, hop kinds -> outcome
    ("a" * 32, "mined", PREDICTED, None, True, ("v2", "v3"), EXACT),
    ("b" * 32, "mined", 600, None, True, ("v2", "v2"), BELOW),
    ("c" * 32, "mined", 1_200, None, True, ("v3", "v2"), ABOVE),
    ("d" * 32, "reverted", 0, "PROFIT_TOO_LOW", True, ("v2", "v2"), MIN_PROFIT),
    (
        "e" * 32,
        "reverted",
        0,
        "unknown (the call succeeds when replayed after its block)",
        True,
        ("v2", "v2"),
        REVERTED,
    ),
    ("f" * 32, "failed", 0, "simulation: PROFIT_TOO_LOW", False, ("v2", "v3"), SKIPPED),
    ("0" * 32, "failed", 0, "rpc at http://node: not reachable", False, ("v2", "v2"), "failed"),
)


def _archive(dsn: str) -> None:
    opps = [to_record(make_opportunity(id=c[0], kinds=c[5])) for c in CASES]
    execs = [execution_record(_finished(c[0], c[1], c[2], c[3], c[4], i)) for i, c in enumerate(CASES)]
    writer = ArchiveWriter(lambda: connect(dsn))
    writer.add_many("arb.opportunity", 0, list(enumerate(encode("arb.opportunity", opps))))
    writer.add_many("arb.execution", 0, list(enumerate(encode("arb.execution", execs))))
    writer.close()


def test_every_execution_is_listed_with_its_outcome_and_the_split_adds_up(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 'store'}"
    with session(dsn) as client:
        migrate(client)
    _archive(dsn)
    report = collect(dsn, symbols={USDC: "USDC"})
    assert [(e["opportunity_id"], e["outcome"]) for e in report.executions] == [(c[0], c[6]) for c in CASES]
    assert report.outcomes == {EXACT: 1, BELOW: 1, ABOVE: 1, MIN_PROFIT: 1, REVERTED: 1, SKIPPED: 1, "failed": 1}
    assert report.statuses == {"mined": 3, "reverted": 2, "skipped": 1, "failed": 1}
    assert report.gas_lost_wei == 2 * GAS  # the two reverts; nothing else paid gas without being mined
    assert (report.mined, report.exact, report.pnl[0].realized) == (3, 1, PREDICTED + 600 + 1_200)

    # The JSON the run writes: exact amounts as strings, the start token by symbol, the competitor beside it.
    report.competition = Competition(0.3, 4, 2, 1, 1, {USDC: 3_000}, 7, {USDC: 1e-6})
    path = tmp_path / "report.json"
    write(report, path, {USDC: "USDC"}, scenario="chain")
    data = json.loads(path.read_text())
    first = data["executions"][0]
    assert {k: first[k] for k in ("status", "strategy", "start_token", "predicted_profit", "realized_profit")} == {
        "status": "mined",
        "strategy": "cross_dex",
        "start_token": "USDC",
        "predicted_profit": str(PREDICTED),
        "realized_profit": str(PREDICTED),
    }
    assert first["tx_hash"] == "0x" + "0" * 64 and first["kinds"] == ["v2", "v3"]
    skipped = data["executions"][5]
    assert (skipped["status"], skipped["outcome"], skipped["tx_hash"]) == ("skipped", SKIPPED, None)
    assert data["outcomes"][MIN_PROFIT] == 1 and data["gas_lost_wei"] == 2 * GAS
    console = Console(record=True, width=200)
    render(report, console, sent=0, source="archived records", symbols={USDC: "USDC"}, native_usd=2_000.0)
    text = console.export_text()
    for line in ("reverted on chain by minProfit (gas lost)", "skipped after simulation (nothing sent)"):
        assert line in text
    assert "gas lost on reverted transactions: 0.000300 ETH (0.60 USD)" in text and "capture rate: 75.0%" in text
    c = data["competition"]
    assert (c["pulsearb_mined"], c["competitor_mined"], c["capture_rate_count"]) == (3, 1, 0.75)
    assert c["capture_rate_usd"] == round(0.0028 / (0.0028 + 0.003), 4) and c["competitor"]["realized"] == {
        "USDC": "3000"
    }


def test_an_execution_without_its_opportunity_still_counts(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 'store'}"
    with session(dsn) as client:
        migrate(client)
    record = execution_record(_finished("9" * 32, "mined", 5, None, True, 0))
    writer = ArchiveWriter(lambda: connect(dsn))
    writer.add_many("arb.execution", 0, [(0, encode("arb.execution", [record])[0])])
    writer.close()
    [e] = collect(dsn).executions
    assert (e["outcome"], e["kinds"], e["start_token"]) == (BELOW, [], USDC)
