"""The executions of a run, one entry each, for ``<state>/up/report.json`` and the printed report.

Read from the store (``arb_execution`` joined with its ``arb_opportunity``, both ``FINAL``: one row per opportunity
id however often a record was replayed). Amounts are raw units of the start token, exact, as decimal strings
(JSON numbers lose precision above 2**53). ``status`` is the execution's outcome as the report counts it: ``mined``,
``reverted``, ``skipped`` (the simulation did not reproduce the prediction, nothing was sent), ``timeout``,
``replaced``, ``failed``, ``dry_run``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from flows.execution.outcome import classify
from ops.control.tally import outcome
from sinks.clickhouse import query_rows, session

COLUMNS = (
    "opportunity_id",
    "flow",
    "strategy",
    "pair",
    "status",
    "revert_reason",
    "tx_hash",
    "block_number",
    "token_in",
    "path",
    "amount_in",
    "predicted_profit",
    "realized_profit",
    "predicted_net_profit",
    "gas_used",
    "gas_cost_wei",
    "kinds",
)


def _since(since_ns: int | None, extra: str = "") -> str:
    conds = [] if since_ns is None else [f"archived_at >= fromUnixTimestamp64Milli({since_ns // 1_000_000})"]
    conds += [extra] if extra else []
    return f" WHERE {' AND '.join(conds)}" if conds else ""


def run_executions(
    dsn: str, database: str = "pulsearb", since_ns: int | None = None, symbols: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every execution archived since ``since_ns`` (None: the whole store), oldest first.

    Each entry: ``status``, ``strategy``, ``start_token`` (the symbol, else the address), ``predicted_profit`` and
    ``realized_profit`` (the executor's gross profit before gas, raw units of the start token, decimal strings),
    ``tx_hash`` (None when nothing was sent); and ``opportunity_id``, ``flow``, ``pair``, ``token_in`` (address),
    ``path`` (symbols), ``amount_in``, ``predicted_net_profit`` (the detector's, after its gas estimate),
    ``block_number``, ``gas_used``, ``gas_cost_wei``, ``revert_reason``, ``outcome``
    (:func:`flows.execution.outcome.classify`: mined exactly, below or above the prediction, reverted by
    ``minProfit`` or otherwise, skipped) and ``kinds`` (each hop's pool kind, ``v2``/``v3``).

    Args:
        dsn: the store (open it after the archive flow stopped, as :func:`ops.simulator.report.collect` does).
        database: its database.
        since_ns: only rows archived from then on (one run of ``pulsearb up``).
        symbols: token address (lower-case) -> symbol.
    """
    symbols = {k.lower(): v for k, v in (symbols or {}).items()}
    live = "run_id = ''"  # backtests store their opportunities under a run id
    sql = (
        "SELECT e.opportunity_id, e.flow, e.strategy, e.pair, e.status, e.revert_reason, e.tx_hash, e.block_number, "
        "e.token_in, o.path, toString(e.amount_in), toString(e.predicted_profit), toString(e.realized_profit), "
        "toString(o.net_profit), e.gas_used, toString(e.gas_cost_wei), o.kinds "
        f"FROM (SELECT * FROM {database}.arb_execution FINAL{_since(since_ns)}) AS e "
        f"LEFT JOIN (SELECT id, path, net_profit, kinds FROM {database}.arb_opportunity FINAL"
        f"{_since(since_ns, live)}) AS o ON o.id = e.opportunity_id "
        "ORDER BY e.executed_ns, e.opportunity_id"
    )
    with session(dsn) as client:
        _, rows = query_rows(client, sql)
    out = []
    for row in rows:
        r = dict(zip(COLUMNS, row, strict=True))
        token = str(r["token_in"]).lower()
        out.append(
            {
                "status": outcome(str(r["status"]), r["revert_reason"]),
                "outcome": classify(
                    str(r["status"]), r["revert_reason"], int(r["predicted_profit"]), int(r["realized_profit"])
                ),
                "strategy": str(r["strategy"]),
                "start_token": symbols.get(token, token),
                "predicted_profit": str(r["predicted_profit"]),
                "realized_profit": str(r["realized_profit"]),
                "tx_hash": r["tx_hash"] or None,
                "opportunity_id": str(r["opportunity_id"]),
                "flow": str(r["flow"]),
                "pair": str(r["pair"]),
                "token_in": token,
                "path": [symbols.get(str(t).lower(), str(t)) for t in (r["path"] or ())],
                "amount_in": str(r["amount_in"]),
                "predicted_net_profit": str(r["predicted_net_profit"]) if r["path"] else None,
                "block_number": None if r["block_number"] is None else int(r["block_number"]),
                "gas_used": int(r["gas_used"]),
                "gas_cost_wei": str(r["gas_cost_wei"]),
                "revert_reason": r["revert_reason"] or None,
                "kinds": [str(k) for k in (r["kinds"] or ())],
            }
        )
    return out


def render_executions(executions: list[dict[str, Any]], console: Console) -> None:
    """Print one row per execution (nothing when there is none)."""
    if not executions:
        return
    t = Table(title="executions (profits before gas, raw units of the start token)")
    for col in ("status", "strategy", "path", "predicted", "realized", "tx"):
        t.add_column(col, justify="right" if col in ("predicted", "realized") else "left")
    for e in executions:
        path = " > ".join(e["path"]) or e["start_token"]
        tx = e["tx_hash"] or (e["revert_reason"] or "")[:40]
        t.add_row(
            e["status"], e["strategy"], path, f"{int(e['predicted_profit']):,}", f"{int(e['realized_profit']):,}", tx
        )
    console.print(t)
