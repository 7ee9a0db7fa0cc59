"""Backtest variants, whole-token display, and the gas step's as-of-event-time book (pure)."""

from __future__ import annotations

import pytest

from base.errors import ConfigError
from flows.backtest import variants, whole_tokens
from flows.builders.detector import gas_as_of, gas_with


def test_variants_are_the_spec_then_each_variant_then_every_sweep_combination() -> None:
    runs = variants(
        ["strategy.params.min_net_profit=5"],
        ["strategy.params.max_age_ms=2000;clock.wait_for_system_ms=100"],
        ["strategy.params.max_age_blocks=[1, 2]", "window.type=[latest, session]"],
    )
    assert [r.name for r in runs] == [
        "spec",
        "max_age_ms=2000, wait_for_system_ms=100",
        "max_age_blocks=1, type=latest",
        "max_age_blocks=1, type=session",
        "max_age_blocks=2, type=latest",
        "max_age_blocks=2, type=session",
    ]
    assert all(r.overrides[0] == "strategy.params.min_net_profit=5" for r in runs)
    assert runs[2].overrides[1:] == ("strategy.params.max_age_blocks=1", "window.type=latest")
    with pytest.raises(ConfigError, match=r"--variant ' ; ': expected PATH=VALUE"):
        variants([], [" ; "])


def test_whole_tokens_round_half_away_from_zero() -> None:
    assert whole_tokens(77_590_617, 6) == "77.590617"
    assert whole_tokens(1_500_000_000_000, 18) == "0.000002"
    assert whole_tokens(-2_499_999, 6, 0) == "-2"
    assert whole_tokens(-2_500_000, 6, 0) == "-3"


def test_gas_is_taken_as_of_event_time_whatever_the_arrival_order() -> None:
    readings = [(100, 1, 10), (200, 2, 20), (300, 3, 30)]
    forward: tuple = ()
    for r in readings:
        forward = gas_with(forward, r, keep_ns=10**9)
    backward: tuple = ()
    for r in reversed(readings):
        backward = gas_with(backward, r, keep_ns=10**9)
    assert forward == backward
    assert [gas_as_of(forward, t) for t in (99, 100, 250, 10**6)] == [None, 10, 20, 30]
    pruned = gas_with(forward, (1_000, 4, 40), keep_ns=750)
    assert pruned == ((200, 2, 20), (300, 3, 30), (1_000, 4, 40))  # the last one before the cutoff stays
