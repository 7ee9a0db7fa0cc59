"""Record contracts: Avro schemas per topic (schemas/avro), ClickHouse migrations (schemas/clickhouse)."""
