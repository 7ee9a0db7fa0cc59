"""The report's outcome and competition tables (:mod:`ops.simulator.report`): what really happened to each execution,
the gas lost on reverts, and the competing searcher's captures beside pulsearb's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from flows.execution.outcome import ABOVE, BELOW, EXACT, MIN_PROFIT, REVERTED, SKIPPED

if TYPE_CHECKING:
    from ops.simulator.report import RunReport

OUTCOME_LABELS = {
    EXACT: "mined, realized == predicted",
    BELOW: "mined below the prediction (>= minProfit)",
    ABOVE: "mined above the prediction",
    MIN_PROFIT: "reverted on chain by minProfit (gas lost)",
    REVERTED: "reverted on chain, other reason (gas lost)",
    SKIPPED: "skipped after simulation (nothing sent)",
}


def render_outcomes(report: RunReport, console: Console, native_usd: float | None) -> None:
    """The executions split by outcome, with what each realized against its prediction and the gas it cost."""
    o = Table(title="execution outcomes (what really happened to each accepted opportunity)")
    for col in ("outcome", "executions", "predicted (USD)", "realized (USD)", "gas paid"):
        o.add_column(col, justify="left" if col == "outcome" else "right")
    usd = {t.token: t.usd_per_unit for t in report.pnl}
    if report.competition is not None:
        usd = report.competition.usd_per_unit | usd
    for name, count in report.outcomes.items():
        rows = [e for e in report.executions if e["outcome"] == name]
        predicted = sum(int(e["predicted_profit"]) * usd.get(e["token_in"], 0.0) for e in rows)
        realized = sum(int(e["realized_profit"]) * usd.get(e["token_in"], 0.0) for e in rows)
        gas_eth = sum(int(e["gas_cost_wei"]) for e in rows) / 10**18
        gas = f"{gas_eth:.6f} ETH" + (f" ({gas_eth * native_usd:,.2f} USD)" if native_usd else "")
        o.add_row(OUTCOME_LABELS.get(name, name), str(count), f"{predicted:,.2f}", f"{realized:,.2f}", gas)
    console.print(o)
    lost = report.gas_lost_wei / 10**18
    console.print(
        f"gas lost on reverted transactions: {lost:.6f} ETH"
        + (f" ({lost * native_usd:,.2f} USD)" if native_usd else "")
        + ". Guaranteed: no trade realizes less than its minProfit (the contract reverts), and no opportunity is "
        "sent twice (the ledger); not guaranteed: realized == predicted, which holds only when nothing moves the "
        "pools between the simulation and the block."
    )


def render_competition(report: RunReport, console: Console, symbols: dict[str, str]) -> None:
    """The competing searcher's captures against pulsearb's, and the capture rate."""
    c = report.competition
    assert c is not None
    share = report.capture() or {}
    ct = Table(title=f"competition (a searcher back-running dislocations with probability {c.probability:g})")
    for col in ("searcher", "sent", "mined", "reverted", "realized", "USD"):
        ct.add_column(col, justify="left" if col == "searcher" else "right")
    ours = {t.token: t.realized for t in report.pnl}
    sent = sum(1 for e in report.executions if e["tx_hash"])
    reverted = sum(1 for e in report.executions if e["status"] == "reverted")

    def raw(realized: dict[str, int]) -> str:
        return ", ".join(f"{v:,} {symbols.get(t, t[:10])}" for t, v in sorted(realized.items())) or "-"

    ct.add_row(
        "pulsearb", str(sent), str(report.mined), str(reverted), raw(ours), f"{share['pulsearb_realized_usd']:,.2f}"
    )
    ct.add_row(
        "competitor",
        str(c.sent),
        str(c.mined),
        str(c.reverted),
        raw(c.realized),
        f"{share['competitor_realized_usd']:,.2f}",
    )
    console.print(ct)

    def pct(value: object) -> str:
        return "-" if value is None else f"{float(value):.1%}"  # type: ignore[arg-type]

    console.print(
        f"capture rate: {pct(share['capture_rate_count'])} of the mined arbitrages, "
        f"{pct(share['capture_rate_usd'])} of the realized profit (USD at the opening prices); the competitor found "
        f"{c.dislocations} dislocations and took {c.sent}"
    )
