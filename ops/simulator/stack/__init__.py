"""The local stack: a Kafka-protocol broker, an EVM node and the embedded ClickHouse store, all on loopback."""
