-- One table per topic. Natural ids are the ReplacingMergeTree sorting keys, so a replayed record collapses into
-- the one already stored (read with FINAL); insert_deduplication_token (non_replicated_deduplication_window) drops
-- a retried batch outright. Raw on-chain amounts are UInt256/Int256, never Float; *_usd columns are display only.
-- Every row keeps where it came from in Kafka (kafka_topic, kafka_partition, kafka_offset). Retention counts from
-- archived_at, not event time, so replaying old market data does not expire on arrival.

CREATE TABLE IF NOT EXISTS {database}.market_pool_sync (
    source UInt8, sequence UInt64, timestamp_ns Int64,
    pool String, venue UInt16, venue_name LowCardinality(String),
    token0 String, token1 String, token0_decimals UInt8, token1_decimals UInt8,
    reserve0 UInt256, reserve1 UInt256, block_number UInt64, event_timestamp_ns Int64,
    trace Map(LowCardinality(String), Int64),
    kafka_topic LowCardinality(String), kafka_partition UInt32, kafka_offset UInt64,
    archived_at DateTime64(3) DEFAULT now64(3),
    event_date Date MATERIALIZED toDate(fromUnixTimestamp64Nano(timestamp_ns))
) ENGINE = ReplacingMergeTree(archived_at)
PARTITION BY toYYYYMM(event_date)
ORDER BY (pool, source, sequence, timestamp_ns)
TTL toDate(archived_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {database}.market_pool_swap (
    source UInt8, sequence UInt64, timestamp_ns Int64,
    pool String, venue UInt16, venue_name LowCardinality(String), token_in String, token_out String,
    amount_in UInt256, amount_out UInt256, amount_in_decimals UInt8, amount_out_decimals UInt8,
    liquidity_after UInt256, sqrt_price_x96_after UInt256, tick_after Int32,
    block_number UInt64, event_timestamp_ns Int64,
    trace Map(LowCardinality(String), Int64),
    kafka_topic LowCardinality(String), kafka_partition UInt32, kafka_offset UInt64,
    archived_at DateTime64(3) DEFAULT now64(3),
    event_date Date MATERIALIZED toDate(fromUnixTimestamp64Nano(timestamp_ns))
) ENGINE = ReplacingMergeTree(archived_at)
PARTITION BY toYYYYMM(event_date)
ORDER BY (pool, source, sequence, timestamp_ns)
TTL toDate(archived_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {database}.market_pool_state (
    source UInt8, sequence UInt64, timestamp_ns Int64,
    pool String, venue UInt16, venue_name LowCardinality(String), pool_type UInt8,
    token0 String, token1 String, token0_decimals UInt8, token1_decimals UInt8,
    reserve0 UInt256, reserve1 UInt256, sqrt_price_x96 UInt256, liquidity UInt256, tick Int32, fee_rate UInt32,
    block_number UInt64, event_timestamp_ns Int64,
    trace Map(LowCardinality(String), Int64),
    kafka_topic LowCardinality(String), kafka_partition UInt32, kafka_offset UInt64,
    archived_at DateTime64(3) DEFAULT now64(3),
    event_date Date MATERIALIZED toDate(fromUnixTimestamp64Nano(timestamp_ns))
) ENGINE = ReplacingMergeTree(archived_at)
PARTITION BY toYYYYMM(event_date)
ORDER BY (pool, source, sequence, timestamp_ns)
TTL toDate(archived_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {database}.market_pool_liquidity (
    source UInt8, sequence UInt64, timestamp_ns Int64,
    kind LowCardinality(String), pool String, venue UInt16, venue_name LowCardinality(String),
    liquidity_delta Nullable(UInt256), amount0 Nullable(UInt256), amount1 Nullable(UInt256),
    tick_lower Nullable(Int32), tick_upper Nullable(Int32), provider Nullable(String),
    token0 Nullable(String), token1 Nullable(String), token0_decimals Nullable(UInt8), token1_decimals Nullable(UInt8),
    tick Nullable(Int32), liquidity_net Nullable(Int64), price_sqrt Nullable(Int64), reserves Array(UInt256),
    event_timestamp_ns Int64,
    trace Map(LowCardinality(String), Int64),
    kafka_topic LowCardinality(String), kafka_partition UInt32, kafka_offset UInt64,
    archived_at DateTime64(3) DEFAULT now64(3),
    event_date Date MATERIALIZED toDate(fromUnixTimestamp64Nano(timestamp_ns))
) ENGINE = ReplacingMergeTree(archived_at)
PARTITION BY toYYYYMM(event_date)
ORDER BY (pool, source, sequence, timestamp_ns, kind)
TTL toDate(archived_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {database}.market_trade (
    source UInt8, sequence UInt64, timestamp_ns Int64,
    instrument String, asset_id UInt64, venue UInt16, venue_name LowCardinality(String), asset_type UInt8,
    symbol LowCardinality(String), price Int64, volume Int64, side LowCardinality(String), execution_timestamp_ns Int64,
    trace Map(LowCardinality(String), Int64),
    kafka_topic LowCardinality(String), kafka_partition UInt32, kafka_offset UInt64,
    archived_at DateTime64(3) DEFAULT now64(3),
    event_date Date MATERIALIZED toDate(fromUnixTimestamp64Nano(timestamp_ns))
) ENGINE = ReplacingMergeTree(archived_at)
PARTITION BY toYYYYMM(event_date)
ORDER BY (instrument, source, sequence, timestamp_ns)
TTL toDate(archived_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {database}.market_quote (
    source UInt8, sequence UInt64, timestamp_ns Int64,
    instrument String, asset_id UInt64, venue UInt16, venue_name LowCardinality(String), asset_type UInt8,
    symbol LowCardinality(String), tlv_type UInt8, bid_price Int64, bid_size Int64, ask_price Int64, ask_size Int64,
    quote_timestamp_ns Int64,
    trace Map(LowCardinality(String), Int64),
    kafka_topic LowCardinality(String), kafka_partition UInt32, kafka_offset UInt64,
    archived_at DateTime64(3) DEFAULT now64(3),
    event_date Date MATERIALIZED toDate(fromUnixTimestamp64Nano(timestamp_ns))
) ENGINE = ReplacingMergeTree(archived_at)
PARTITION BY toYYYYMM(event_date)
ORDER BY (instrument, source, sequence, timestamp_ns)
TTL toDate(archived_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {database}.market_gas_price (
    source UInt8, sequence UInt64, timestamp_ns Int64,
    venue UInt16, venue_name LowCardinality(String), block_number UInt64, event_timestamp_ns Int64,
    gas_price_gwei UInt32, base_fee_gwei UInt32, priority_fee_gwei UInt32,
    trace Map(LowCardinality(String), Int64),
    kafka_topic LowCardinality(String), kafka_partition UInt32, kafka_offset UInt64,
    archived_at DateTime64(3) DEFAULT now64(3),
    event_date Date MATERIALIZED toDate(fromUnixTimestamp64Nano(timestamp_ns))
) ENGINE = ReplacingMergeTree(archived_at)
PARTITION BY toYYYYMM(event_date)
ORDER BY (venue, source, sequence, timestamp_ns)
TTL toDate(archived_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {database}.market_pool_info (
    source UInt8, sequence UInt64, timestamp_ns Int64,
    pool String, venue UInt16, venue_name LowCardinality(String), pool_type UInt8,
    token0 String, token1 String, token0_decimals UInt8, token1_decimals UInt8, fee_tier UInt32,
    discovered_at UInt64, last_seen UInt64,
    trace Map(LowCardinality(String), Int64),
    kafka_topic LowCardinality(String), kafka_partition UInt32, kafka_offset UInt64,
    archived_at DateTime64(3) DEFAULT now64(3),
    event_date Date MATERIALIZED toDate(fromUnixTimestamp64Nano(timestamp_ns))
) ENGINE = ReplacingMergeTree(archived_at)
PARTITION BY toYYYYMM(event_date)
ORDER BY (pool, source, sequence, timestamp_ns)
TTL toDate(archived_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {database}.arb_opportunity (
    id String, flow LowCardinality(String), strategy LowCardinality(String), pair String, chain_id UInt64,
    token_in String, token_in_decimals UInt8, path Array(String), pools Array(String), venues Array(UInt16),
    fees_bps Array(UInt16), amount_in UInt256, amount_out UInt256, gross_profit Int256, net_profit Int256,
    gas_estimate UInt64, gas_price_wei UInt256, gas_cost UInt256, flash_fee UInt256,
    gross_profit_usd Float64, net_profit_usd Float64,
    inputs Array(Tuple(pool String, block_number UInt64, source UInt8, sequence UInt64, timestamp_ns Int64)),
    block_number UInt64, detected_ns Int64, valid_until_ns Int64,
    trace Map(LowCardinality(String), Int64),
    kafka_topic LowCardinality(String), kafka_partition UInt32, kafka_offset UInt64,
    archived_at DateTime64(3) DEFAULT now64(3),
    event_date Date MATERIALIZED toDate(fromUnixTimestamp64Nano(detected_ns))
) ENGINE = ReplacingMergeTree(archived_at)
PARTITION BY toYYYYMM(event_date)
ORDER BY id
TTL toDate(archived_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {database}.arb_decision (
    opportunity_id String, flow LowCardinality(String), strategy LowCardinality(String), pair String,
    accepted Bool, reason LowCardinality(String), limit_value String, observed_value String,
    amount_in UInt256, net_profit Int256, net_profit_usd Float64, decided_ns Int64,
    trace Map(LowCardinality(String), Int64),
    kafka_topic LowCardinality(String), kafka_partition UInt32, kafka_offset UInt64,
    archived_at DateTime64(3) DEFAULT now64(3),
    event_date Date MATERIALIZED toDate(fromUnixTimestamp64Nano(decided_ns))
) ENGINE = ReplacingMergeTree(archived_at)
PARTITION BY toYYYYMM(event_date)
ORDER BY opportunity_id
TTL toDate(archived_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {database}.arb_execution (
    opportunity_id String, flow LowCardinality(String), strategy LowCardinality(String), pair String,
    status LowCardinality(String), tx_hash Nullable(String), block_number Nullable(UInt64),
    gas_used UInt64, effective_gas_price UInt256, token_in String, amount_in UInt256, realized_amount_out UInt256,
    predicted_profit Int256, realized_profit Int256, gas_cost_wei UInt256, revert_reason Nullable(String),
    executed_ns Int64,
    trace Map(LowCardinality(String), Int64),
    kafka_topic LowCardinality(String), kafka_partition UInt32, kafka_offset UInt64,
    archived_at DateTime64(3) DEFAULT now64(3),
    event_date Date MATERIALIZED toDate(fromUnixTimestamp64Nano(executed_ns))
) ENGINE = ReplacingMergeTree(executed_ns)
PARTITION BY toYYYYMM(event_date)
ORDER BY opportunity_id
TTL toDate(archived_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {database}.dead_letter (
    dlq_topic LowCardinality(String), flow LowCardinality(String), stage LowCardinality(String),
    error_class LowCardinality(String), reason String,
    source_topic Nullable(String), partition Nullable(Int32), offset Nullable(Int64),
    raw String, received_ns Int64,
    kafka_topic LowCardinality(String), kafka_partition UInt32, kafka_offset UInt64,
    archived_at DateTime64(3) DEFAULT now64(3),
    event_date Date MATERIALIZED toDate(fromUnixTimestamp64Nano(received_ns))
) ENGINE = ReplacingMergeTree(archived_at)
PARTITION BY toYYYYMM(event_date)
ORDER BY (dlq_topic, kafka_partition, kafka_offset)
TTL toDate(archived_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;
