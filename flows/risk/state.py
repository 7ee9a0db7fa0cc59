"""Risk state: trades in flight, last trade per pair, today's realized PnL, the failure breaker (pure).

The state is a frozen value changed by three transitions: :func:`opened` (a trade was accepted for execution),
:func:`settled` (it reached a final status) and :func:`released` (it ended without touching the chain). It
serialises to a JSON-ready dict (:func:`to_dict` / :func:`from_dict`), which the execution ledger persists in the
same transaction as the decision, so a restart resumes the same limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

NS_PER_DAY = 86_400 * 10**9


def utc_day(now_ns: int) -> int:
    """Days since the Unix epoch, UTC (daily limits reset when it changes)."""
    return now_ns // NS_PER_DAY


@dataclass(frozen=True, slots=True)
class OpenTrade:
    """An accepted trade that is not final yet.

    Attributes:
        opportunity_id: its id.
        pair: token pair key.
        token: the start token (exposure is counted in it).
        amount_in: raw units of ``token``.
        opened_ns: when it was accepted, ns since epoch.
        pools: the pools it trades through (none for a trade restored from a ledger that did not record them).
    """

    opportunity_id: str
    pair: str
    token: str
    amount_in: int
    opened_ns: int
    pools: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a trade ended, for the limits.

    Attributes:
        pnl: realized net result in raw units of the start token: realized profit less gas (converted to the
            token); negative for a loss (a revert costs its gas).
        failure: counts toward the consecutive-failure breaker (on-chain revert, timeout, send error).
    """

    pnl: int
    failure: bool


@dataclass(frozen=True, slots=True)
class RiskState:
    """Everything the limits need to remember.

    Attributes:
        open: trades in flight by opportunity id.
        last_accept_ns: last accepted trade per pair, ns since epoch (cooldown).
        day: UTC day of ``pnl_today``.
        pnl_today: realized net PnL today per token, raw units (negative = loss).
        consecutive_failures: failures since the last success.
        breaker_opened_ns: when the breaker last opened (None: closed).
    """

    open: Mapping[str, OpenTrade] = field(default_factory=dict)
    last_accept_ns: Mapping[str, int] = field(default_factory=dict)
    day: int = 0
    pnl_today: Mapping[str, int] = field(default_factory=dict)
    consecutive_failures: int = 0
    breaker_opened_ns: int | None = None

    def exposure(self, token: str) -> int:
        """Sum of amount_in of the open trades in ``token``, raw units."""
        return sum(t.amount_in for t in self.open.values() if t.token == token)

    def pools_in_flight(self) -> set[str]:
        """Pools some open trade goes through."""
        return {pool for t in self.open.values() for pool in t.pools}

    def open_on_pair(self, pair: str) -> int:
        """Number of open trades on ``pair``."""
        return sum(1 for t in self.open.values() if t.pair == pair)

    def pnl_on(self, now_ns: int) -> Mapping[str, int]:
        """Realized net PnL per token of the UTC day of ``now_ns`` (empty once that day has no trades yet)."""
        return self.pnl_today if utc_day(now_ns) == self.day else {}

    def loss_today(self, token: str, now_ns: int) -> int:
        """Realized loss today in ``token`` (0 when the day's PnL is not negative), raw units."""
        return max(0, -self.pnl_on(now_ns).get(token, 0))


def opened(state: RiskState, trade: OpenTrade) -> RiskState:
    """The state after accepting ``trade`` for execution (counts in flight and starts the pair's cooldown)."""
    return replace(
        state,
        open={**state.open, trade.opportunity_id: trade},
        last_accept_ns={**state.last_accept_ns, trade.pair: trade.opened_ns},
    )


def released(state: RiskState, opportunity_id: str) -> RiskState:
    """The state after a trade ended without a chain outcome (dry run, simulation revert, kill switch)."""
    if opportunity_id not in state.open:
        return state
    return replace(state, open={k: v for k, v in state.open.items() if k != opportunity_id})


def settled(
    state: RiskState, opportunity_id: str, token: str, outcome: Outcome, now_ns: int, breaker_threshold: int
) -> RiskState:
    """The state after a trade reached a final status on chain.

    Adds its PnL to today's (resetting at the UTC day boundary), and counts failures: ``breaker_threshold``
    failures in a row open the breaker (re-opened at once by a failure while half-open), a success closes it.
    """
    day = utc_day(now_ns)
    pnl = dict(state.pnl_today) if day == state.day else {}
    pnl[token] = pnl.get(token, 0) + outcome.pnl
    if outcome.failure:
        failures = state.consecutive_failures + 1
        opened_ns = now_ns if failures >= breaker_threshold else state.breaker_opened_ns
    else:
        failures, opened_ns = 0, None
    return replace(
        released(state, opportunity_id),
        day=day,
        pnl_today=pnl,
        consecutive_failures=failures,
        breaker_opened_ns=opened_ns,
    )


def to_dict(state: RiskState) -> dict[str, Any]:
    """JSON-ready form (amounts as decimal strings: they may exceed 2**53)."""
    return {
        "open": [
            {
                "opportunity_id": t.opportunity_id,
                "pair": t.pair,
                "token": t.token,
                "amount_in": str(t.amount_in),
                "opened_ns": t.opened_ns,
                "pools": list(t.pools),
            }
            for t in state.open.values()
        ],
        "last_accept_ns": dict(state.last_accept_ns),
        "day": state.day,
        "pnl_today": {k: str(v) for k, v in state.pnl_today.items()},
        "consecutive_failures": state.consecutive_failures,
        "breaker_opened_ns": state.breaker_opened_ns,
    }


def from_dict(data: Mapping[str, Any]) -> RiskState:
    """Inverse of :func:`to_dict`."""
    trades = [
        OpenTrade(
            t["opportunity_id"],
            t["pair"],
            t["token"],
            int(t["amount_in"]),
            int(t["opened_ns"]),
            tuple(t.get("pools", ())),
        )
        for t in data.get("open", [])
    ]
    return RiskState(
        open={t.opportunity_id: t for t in trades},
        last_accept_ns={k: int(v) for k, v in data.get("last_accept_ns", {}).items()},
        day=int(data.get("day", 0)),
        pnl_today={k: int(v) for k, v in data.get("pnl_today", {}).items()},
        consecutive_failures=int(data.get("consecutive_failures", 0)),
        breaker_opened_ns=data.get("breaker_opened_ns"),
    )
