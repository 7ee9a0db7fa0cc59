-- arb.opportunity v2 adds `kinds`: each hop's pool kind, in `pools` order: 'v2' (constant product), 'v3'
-- (concentrated liquidity) or 'cex' (an exchange leg). Rows archived before it (and v1 records replayed later) get
-- the default [], which means "not stated" (every hop was a V2 pair then). The staging table gets the column and
-- its view is recreated to carry it (docs/database.md, "Add a column"); the view names no run_id, which keeps its
-- implicit default '' for live rows (005).

ALTER TABLE {database}.arb_opportunity ADD COLUMN IF NOT EXISTS kinds Array(LowCardinality(String)) DEFAULT [];

ALTER TABLE {database}.ingest_arb_opportunity ADD COLUMN IF NOT EXISTS kinds Array(String);

DROP VIEW IF EXISTS {database}.ingest_arb_opportunity_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.ingest_arb_opportunity_mv TO {database}.arb_opportunity AS
SELECT id,
    flow,
    strategy,
    pair,
    chain_id,
    token_in,
    token_in_decimals,
    path,
    pools,
    venues,
    fees_bps,
    reinterpretAsUInt256(reverse(amount_in)) AS amount_in,
    reinterpretAsUInt256(reverse(amount_out)) AS amount_out,
    reinterpretAsInt256(reverse(gross_profit)) AS gross_profit,
    reinterpretAsInt256(reverse(net_profit)) AS net_profit,
    gas_estimate,
    reinterpretAsUInt256(reverse(gas_price_wei)) AS gas_price_wei,
    reinterpretAsUInt256(reverse(gas_cost)) AS gas_cost,
    reinterpretAsUInt256(reverse(flash_fee)) AS flash_fee,
    gross_profit_usd,
    net_profit_usd,
    inputs,
    block_number,
    detected_ns,
    valid_until_ns,
    mapUpdate(trace, map('archive_ns', archive_ns)) AS trace,
    kinds,
    kafka_topic,
    kafka_partition,
    kafka_offset
FROM {database}.ingest_arb_opportunity;
