"""The local market: Protocol V2 frames built from real price data, for `pulsearb up` and the tests."""
