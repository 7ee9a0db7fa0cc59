"""pulsearb dataflows and the pure domain logic they run (codec, AMM math, strategies, risk)."""
