"""Risk state transitions and their JSON round trip (persisted by the ledger)."""

from __future__ import annotations

from flows.risk.state import NS_PER_DAY, OpenTrade, Outcome, RiskState, from_dict, opened, released, settled, to_dict
from tests.risk.factories import NOW, PAIR, USDC


def test_open_settle_release_and_round_trip() -> None:
    state = opened(RiskState(), OpenTrade("a", PAIR, USDC, 2**200, NOW, ("0xa", "0xb")))
    assert state.pools_in_flight() == {"0xa", "0xb"}
    assert state.exposure(USDC) == 2**200 and state.open_on_pair(PAIR) == 1 and state.last_accept_ns[PAIR] == NOW
    assert from_dict(to_dict(state)) == state
    state = settled(state, "a", USDC, Outcome(pnl=-7, failure=True), NOW, breaker_threshold=1)
    assert state.open == {} and state.pnl_today == {USDC: -7} and state.breaker_opened_ns == NOW
    assert state.loss_today(USDC, NOW) == 7 and state.loss_today(USDC, NOW + NS_PER_DAY) == 0
    assert from_dict(to_dict(state)) == state
    assert released(state, "unknown") is state


def test_pnl_resets_on_a_new_utc_day() -> None:
    state = settled(opened(RiskState(), OpenTrade("a", PAIR, USDC, 1, NOW)), "a", USDC, Outcome(-5, False), NOW, 3)
    state = settled(
        opened(state, OpenTrade("b", PAIR, USDC, 1, NOW)), "b", USDC, Outcome(3, False), NOW + NS_PER_DAY, 3
    )
    assert state.pnl_today == {USDC: 3}
