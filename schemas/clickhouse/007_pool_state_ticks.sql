-- The chain collector (flows/collector): V3 tick maps and block position in market_pool_state, and the
-- market.invalidation topic (AlphaPulse StateInvalidation TLVs, type 106) archived like every topic.
--
-- market_pool_state.ticks: every initialized tick with its liquidityNet when the record carries the pool's tick map
-- (the collector sends it after a seed, a mint or a burn); [] when the record leaves the map unchanged (an empty map
-- is never sent: a V3 pool with no initialized tick has no liquidity). To rebuild a V3 pool as of time T: its last
-- row at or before T gives price, tick and liquidity; its last row at or before T with a non-empty ticks gives the
-- tick map. end_of_block: the row is the pool after every log of block_number (a collector's state).

ALTER TABLE {database}.market_pool_state
    ADD COLUMN IF NOT EXISTS ticks Array(Tuple(tick Int32, liquidity_net Int256)) AFTER trace,
    ADD COLUMN IF NOT EXISTS tick_spacing Nullable(Int32) AFTER ticks,
    ADD COLUMN IF NOT EXISTS end_of_block Bool DEFAULT false AFTER tick_spacing;

ALTER TABLE {database}.ingest_market_pool_state
    ADD COLUMN IF NOT EXISTS ticks Array(Tuple(tick Int32, liquidity_net FixedString(32))) AFTER trace,
    ADD COLUMN IF NOT EXISTS tick_spacing Nullable(Int32) AFTER ticks,
    ADD COLUMN IF NOT EXISTS end_of_block Bool AFTER tick_spacing;

DROP VIEW IF EXISTS {database}.ingest_market_pool_state_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.ingest_market_pool_state_mv TO {database}.market_pool_state AS
SELECT source,
    sequence,
    timestamp_ns,
    pool,
    venue,
    transform(toUInt16(venue), [0, 1, 2, 3, 4, 5, 100, 101, 102, 103, 104, 105, 106, 107, 108, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310, 400, 401, 402, 403, 404, 500, 501, 600, 601, 602, 700, 701, 702, 703, 800, 801, 802, 803, 65000, 65001], ['GENERIC', 'NYSE', 'NASDAQ', 'LSE', 'TSE', 'HKEX', 'BINANCE', 'KRAKEN', 'COINBASE', 'HUOBI', 'OKEX', 'FTX', 'BYBIT', 'KUCOIN', 'GEMINI', 'ETHEREUM', 'BITCOIN', 'POLYGON', 'BSC', 'AVALANCHE', 'FANTOM', 'ARBITRUM', 'OPTIMISM', 'SOLANA', 'CARDANO', 'POLKADOT', 'COSMOS', 'UNISWAP_V2', 'UNISWAP_V3', 'SUSHISWAP', 'CURVE', 'BALANCER', 'AAVE', 'COMPOUND', 'MAKERDAO', 'YEARN', 'SYNTHETIX', 'DYDX', 'QUICKSWAP', 'SUSHISWAP_POLYGON', 'CURVE_POLYGON', 'AAVE_POLYGON', 'BALANCER_POLYGON', 'PANCAKESWAP', 'VENUS_PROTOCOL', 'UNISWAP_V3_ARBITRUM', 'SUSHISWAP_ARBITRUM', 'CURVE_ARBITRUM', 'DERIBIT', 'BYBIT_DERIVATIVES', 'OPYN_PROTOCOL', 'HEGIC', 'COMEX', 'CME', 'ICE', 'FOREX_COM', 'TEST_VENUE', 'MOCK_EXCHANGE'], concat('venue_', toString(venue))) AS venue_name,
    pool_type,
    token0,
    token1,
    token0_decimals,
    token1_decimals,
    reinterpretAsUInt256(reverse(reserve0)) AS reserve0,
    reinterpretAsUInt256(reverse(reserve1)) AS reserve1,
    reinterpretAsUInt256(reverse(sqrt_price_x96)) AS sqrt_price_x96,
    reinterpretAsUInt256(reverse(liquidity)) AS liquidity,
    tick,
    fee_rate,
    block_number,
    event_timestamp_ns,
    mapUpdate(trace, map('archive_ns', archive_ns)) AS trace,
    arrayMap(x -> tuple(x.tick, reinterpretAsInt256(reverse(x.liquidity_net))), ticks) AS ticks,
    tick_spacing,
    end_of_block,
    kafka_topic,
    kafka_partition,
    kafka_offset
FROM {database}.ingest_market_pool_state;

CREATE TABLE IF NOT EXISTS {database}.market_invalidation (
    source UInt8, sequence UInt64, timestamp_ns Int64,
    venue UInt16, venue_name LowCardinality(String), reason UInt8,
    instruments Array(Tuple(asset_id Int64, venue Int32, asset_type Int32, reserved Int32)),
    tlv_sequence Int64, event_timestamp_ns Int64,
    trace Map(LowCardinality(String), Int64),
    kafka_topic LowCardinality(String), kafka_partition UInt32, kafka_offset UInt64,
    archived_at DateTime64(3) DEFAULT now64(3),
    event_date Date MATERIALIZED toDate(fromUnixTimestamp64Nano(timestamp_ns))
) ENGINE = ReplacingMergeTree(archived_at)
PARTITION BY toYYYYMM(event_date)
ORDER BY (venue, source, sequence, timestamp_ns)
TTL toDate(archived_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {database}.ingest_market_invalidation (
    source Int32,
    sequence Int64,
    timestamp_ns Int64,
    venue Int32,
    reason Int32,
    instruments Array(Tuple(asset_id Int64, venue Int32, asset_type Int32, reserved Int32)),
    tlv_sequence Int64,
    event_timestamp_ns Int64,
    trace Map(String, Int64),
    kafka_topic String,
    kafka_partition Int32,
    archive_ns Int64,
    kafka_offset Int64
) ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.ingest_market_invalidation_mv TO {database}.market_invalidation AS
SELECT source,
    sequence,
    timestamp_ns,
    venue,
    transform(toUInt16(venue), [0, 1, 2, 3, 4, 5, 100, 101, 102, 103, 104, 105, 106, 107, 108, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310, 400, 401, 402, 403, 404, 500, 501, 600, 601, 602, 700, 701, 702, 703, 800, 801, 802, 803, 65000, 65001], ['GENERIC', 'NYSE', 'NASDAQ', 'LSE', 'TSE', 'HKEX', 'BINANCE', 'KRAKEN', 'COINBASE', 'HUOBI', 'OKEX', 'FTX', 'BYBIT', 'KUCOIN', 'GEMINI', 'ETHEREUM', 'BITCOIN', 'POLYGON', 'BSC', 'AVALANCHE', 'FANTOM', 'ARBITRUM', 'OPTIMISM', 'SOLANA', 'CARDANO', 'POLKADOT', 'COSMOS', 'UNISWAP_V2', 'UNISWAP_V3', 'SUSHISWAP', 'CURVE', 'BALANCER', 'AAVE', 'COMPOUND', 'MAKERDAO', 'YEARN', 'SYNTHETIX', 'DYDX', 'QUICKSWAP', 'SUSHISWAP_POLYGON', 'CURVE_POLYGON', 'AAVE_POLYGON', 'BALANCER_POLYGON', 'PANCAKESWAP', 'VENUS_PROTOCOL', 'UNISWAP_V3_ARBITRUM', 'SUSHISWAP_ARBITRUM', 'CURVE_ARBITRUM', 'DERIBIT', 'BYBIT_DERIVATIVES', 'OPYN_PROTOCOL', 'HEGIC', 'COMEX', 'CME', 'ICE', 'FOREX_COM', 'TEST_VENUE', 'MOCK_EXCHANGE'], concat('venue_', toString(venue))) AS venue_name,
    reason,
    instruments,
    tlv_sequence,
    event_timestamp_ns,
    mapUpdate(trace, map('archive_ns', archive_ns)) AS trace,
    kafka_topic,
    kafka_partition,
    kafka_offset
FROM {database}.ingest_market_invalidation;
