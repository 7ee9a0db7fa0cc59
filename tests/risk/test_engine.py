"""Every risk limit accepts at its value and rejects one unit past it, naming the limit and what it saw."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flows.risk.engine import Reason, RiskRejected, decide
from flows.risk.limits import TokenLimit
from flows.risk.state import OpenTrade, Outcome, RiskState, opened, settled
from tests.risk.factories import NOW, PAIR, POOL_B, USDC, WETH, make_limits, make_market, make_opportunity


def _decide(opp=None, state=None, limits=None, market=None):
    return decide(opp or make_opportunity(), state or RiskState(), limits or make_limits(), market or make_market())


def test_accepts_within_every_limit() -> None:
    d = _decide()
    assert (d.accepted, d.reason, d.limit_value, d.observed_value) == (True, Reason.ACCEPTED, "", "")


@pytest.mark.parametrize(
    ("kwargs", "reason", "limit", "observed"),
    [
        ({"market": make_market(kill_switch=True)}, Reason.KILL_SWITCH, "off", "on"),
        (
            {"market": make_market(already_executed=True)},
            Reason.DUPLICATE,
            "one execution per opportunity id",
            "ab" * 16,
        ),
        ({"market": make_market(chain_id=137)}, Reason.CHAIN_MISMATCH, "137", "31337"),
        ({"opp": make_opportunity(pools=("coinbase:ETH-USD", POOL_B))}, Reason.NOT_EXECUTABLE, None, None),
        ({"opp": make_opportunity(path=(USDC, WETH))}, Reason.NOT_EXECUTABLE, None, None),
        ({"opp": make_opportunity(kinds=("v2", "cex"))}, Reason.NOT_EXECUTABLE, None, None),
        ({"opp": make_opportunity(kinds=("v2",))}, Reason.NOT_EXECUTABLE, None, None),
        ({"market": make_market(now_ns=NOW + 13_000_000_000)}, Reason.QUOTE_EXPIRED, None, None),
        ({"market": make_market(now_ns=NOW + 996_000_000)}, Reason.QUOTE_TOO_OLD_MS, "1000", "1001"),
        ({"market": make_market(head_block=13)}, Reason.QUOTE_TOO_OLD_BLOCKS, "2", "3"),
        (
            {"market": make_market(base_fee_wei=10**11 + 1)},
            Reason.GAS_PRICE_TOO_HIGH,
            str(10**11),
            f"base fee {10**11 + 1}",
        ),
        ({"opp": make_opportunity(gas_price_wei=10**11 + 1)}, Reason.GAS_PRICE_TOO_HIGH, str(10**11), None),
        ({"limits": make_limits(min_net_profit=TokenLimit({}, 901))}, Reason.MIN_NET_PROFIT, "901", "900"),
        ({"limits": make_limits(min_profit_ratio_bps=10)}, Reason.MIN_PROFIT_RATIO, "10 bps", "9 bps"),
        ({"limits": make_limits(max_notional=TokenLimit({USDC: 999_999}))}, Reason.MAX_NOTIONAL, "999999", "1000000"),
        ({"limits": make_limits(max_notional=TokenLimit({WETH: 1}))}, Reason.TOKEN_NOT_CONFIGURED, None, USDC),
    ],
)
def test_rejections_name_limit_and_observed(kwargs, reason, limit, observed) -> None:
    d = _decide(**kwargs)
    assert not d.accepted
    assert d.reason == reason
    if limit is not None:
        assert d.limit_value == limit
    if observed is not None:
        assert d.observed_value == observed


@pytest.mark.parametrize("kinds", [(), ("v2", "v2"), ("v3", "v3"), ("v2", "v3"), ("v3", "v2")])
def test_v2_v3_and_mixed_cycles_are_executable(kinds) -> None:
    assert _decide(make_opportunity(kinds=kinds)).accepted  # () : a record from before kinds, read as all v2


def test_limits_are_inclusive_at_their_value() -> None:
    assert _decide(limits=make_limits(min_net_profit=TokenLimit({}, 900))).accepted
    assert _decide(limits=make_limits(min_profit_ratio_bps=9)).accepted
    assert _decide(limits=make_limits(max_notional=TokenLimit({USDC: 1_000_000}))).accepted
    assert _decide(market=make_market(now_ns=NOW + 995_000_000)).accepted  # 1000 ms old
    assert _decide(market=make_market(head_block=12)).accepted
    assert _decide(market=make_market(base_fee_wei=10**11)).accepted


def _open(state: RiskState, oid: str, pair: str = PAIR, amount: int = 1, at: int = NOW - 10**12) -> RiskState:
    return opened(state, OpenTrade(oid, pair, USDC, amount, at))


def test_in_flight_global_per_pair_and_exposure() -> None:
    other = "0x" + "cc" * 20 + "/" + WETH
    state = _open(_open(RiskState(), "a", other), "b", other)
    d = _decide(state=state, limits=make_limits(max_in_flight=2))
    assert (d.reason, d.limit_value, d.observed_value) == (Reason.MAX_IN_FLIGHT, "2", "2")
    d = _decide(state=_open(RiskState(), "c"))
    assert (d.reason, d.limit_value, d.observed_value) == (Reason.MAX_IN_FLIGHT_PER_PAIR, "1", "1")
    state = _open(RiskState(), "d", other, amount=500_000)
    d = _decide(state=state, limits=make_limits(max_exposure=TokenLimit({USDC: 1_499_999})))
    assert (d.reason, d.limit_value, d.observed_value) == (Reason.MAX_EXPOSURE, "1499999", "1500000")
    assert _decide(state=state, limits=make_limits(max_exposure=TokenLimit({USDC: 1_500_000}))).accepted


def test_a_pool_with_a_trade_in_flight_takes_no_other_whatever_the_pair() -> None:
    # A triangular trade through POOL_B is open on another pair key: the cross_dex opportunity through it waits.
    triangle = "/".join(sorted((USDC, WETH, "0x" + "cc" * 20)))
    state = opened(RiskState(), OpenTrade("t", triangle, USDC, 1, NOW - 10**12, (POOL_B, "0x" + "dd" * 20)))
    d = _decide(state=state, limits=make_limits(max_in_flight=5))
    assert (d.reason, d.limit_value, d.observed_value) == (
        Reason.POOL_IN_FLIGHT,
        "one trade in flight per pool",
        POOL_B,
    )
    elsewhere = opened(RiskState(), OpenTrade("u", triangle, USDC, 1, NOW - 10**12, ("0x" + "ee" * 20,)))
    assert _decide(state=elsewhere, limits=make_limits(max_in_flight=5)).accepted


def test_pair_cooldown() -> None:
    state = replace(RiskState(), last_accept_ns={PAIR: NOW - 400_000_000})
    d = _decide(state=state, limits=make_limits(pair_cooldown_ms=500))
    assert (d.reason, d.limit_value, d.observed_value) == (Reason.PAIR_COOLDOWN, "500 ms", "400 ms")
    assert _decide(state=state, limits=make_limits(pair_cooldown_ms=400)).accepted


def test_daily_loss_limit_and_reset_next_day() -> None:
    state = settled(_open(RiskState(), "x"), "x", USDC, Outcome(pnl=-5_000, failure=False), NOW - 10**9, 3)
    d = _decide(state=state, limits=make_limits(daily_loss_limit=TokenLimit({USDC: 5_000})))
    assert (d.reason, d.limit_value, d.observed_value) == (Reason.DAILY_LOSS_LIMIT, "5000", "5000")
    assert _decide(state=state, limits=make_limits(daily_loss_limit=TokenLimit({USDC: 5_001}))).accepted
    tomorrow = NOW + 86_400 * 10**9
    opp = make_opportunity(valid_until_ns=tomorrow + 1, detected_ns=tomorrow, inputs=())
    assert decide(
        opp, state, make_limits(daily_loss_limit=TokenLimit({USDC: 5_000})), make_market(now_ns=tomorrow)
    ).accepted


def test_breaker_opens_after_consecutive_failures_then_half_opens() -> None:
    state = RiskState()
    for i in range(3):
        state = settled(_open(state, f"f{i}"), f"f{i}", USDC, Outcome(-1, failure=True), NOW - 1_000_000_000, 3)
    assert state.consecutive_failures == 3 and state.breaker_opened_ns == NOW - 1_000_000_000
    d = _decide(state=state)
    assert d.reason == Reason.CIRCUIT_OPEN and "3 consecutive failures" in d.limit_value
    later = make_market(now_ns=NOW + 59_000_000_000)
    opp = make_opportunity(valid_until_ns=NOW + 10**12, inputs=(), detected_ns=NOW + 59_000_000_000)
    assert decide(opp, state, make_limits(), later).accepted  # cooldown (60 s) over: half-open
    again = settled(_open(state, "g"), "g", USDC, Outcome(-1, failure=True), NOW + 59_000_000_000, 3)
    assert again.breaker_opened_ns == NOW + 59_000_000_000  # one more failure re-opens at once
    closed = settled(_open(state, "h"), "h", USDC, Outcome(10, failure=False), NOW + 59_000_000_000, 3)
    assert (closed.consecutive_failures, closed.breaker_opened_ns) == (0, None)


def test_kill_switch_is_checked_before_everything_else() -> None:
    d = _decide(opp=make_opportunity(amount_in=10**15), market=make_market(kill_switch=True, head_block=99))
    assert d.reason == Reason.KILL_SWITCH


def test_rejection_error_round_trips_pickle() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(RiskRejected(Reason.MAX_NOTIONAL, "1", "2")))
    assert (err.code, err.limit, err.value, str(err)) == (
        Reason.MAX_NOTIONAL,
        "1",
        "2",
        "max_notional: observed 2, limit 1",
    )
