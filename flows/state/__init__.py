"""Market state for the detectors: typed events, the per-pool and per-instrument folds, the token graph, and the
event-time as-of join the strategies read from. Pure Python: no Kafka, Bytewax or web3 here."""
