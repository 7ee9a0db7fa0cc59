"""The local chain: deploy the test market (deploy), move prices (market), turn Sync logs into frames (watcher)."""
