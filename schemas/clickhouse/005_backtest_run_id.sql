-- Backtests write their opportunities next to the live ones, told apart by run_id: '' for every live row, the
-- backtest's run id otherwise. The column joins the sorting key, so a backtest that finds a live opportunity again
-- (same id) keeps its own row instead of collapsing into the live one under FINAL. ClickHouse forbids an explicit
-- DEFAULT on a column added to the sorting key; a String's implicit default is '', which is what the ingest view
-- (it does not name the column) writes for every live row.

ALTER TABLE {database}.arb_opportunity
    ADD COLUMN IF NOT EXISTS run_id LowCardinality(String),
    MODIFY ORDER BY (id, run_id);
