"""The risk decision: accept an opportunity, or reject it naming the limit, its value and what was observed (pure).

Each check is a small function that returns when the opportunity passes and raises :class:`RiskRejected`
otherwise; :func:`decide` runs them in a fixed order and turns the first rejection into a :class:`Decision`.
The order puts the checks that stop everything first (duplicate, kill switch, chain, breaker, daily loss), then
staleness and gas, then profit, then size and concurrency. Time, the chain head and the kill switch are
arguments (:class:`Market`), so a decision is reproducible from its inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from base.errors import PulsearbError
from flows.opportunity import Opportunity
from flows.risk.limits import RiskLimits, TokenLimit
from flows.risk.state import RiskState
from flows.spec.problems import ADDRESS_RE

BPS = 10_000
EXECUTABLE_KINDS = frozenset({"v2", "v3"})
"""Hop kinds the executor contract trades: genuine Uniswap V2 pairs (and forks) and V3 pools."""


class Reason(StrEnum):
    """Decision reason codes, as written to ``arb.decision.reason``."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    KILL_SWITCH = "kill_switch"
    CHAIN_MISMATCH = "chain_mismatch"
    CHAIN_UNAVAILABLE = "chain_unavailable"
    NOT_EXECUTABLE = "not_executable"
    CIRCUIT_OPEN = "circuit_open"
    TOKEN_NOT_CONFIGURED = "token_not_configured"
    DAILY_LOSS_LIMIT = "daily_loss_limit"
    QUOTE_EXPIRED = "quote_expired"
    QUOTE_TOO_OLD_MS = "quote_too_old_ms"
    QUOTE_TOO_OLD_BLOCKS = "quote_too_old_blocks"
    GAS_PRICE_TOO_HIGH = "gas_price_too_high"
    MIN_NET_PROFIT = "min_net_profit"
    MIN_PROFIT_RATIO = "min_profit_ratio"
    MAX_NOTIONAL = "max_notional"
    MAX_EXPOSURE = "max_exposure"
    MAX_IN_FLIGHT = "max_in_flight"
    MAX_IN_FLIGHT_PER_PAIR = "max_in_flight_per_pair"
    POOL_IN_FLIGHT = "pool_in_flight"
    PAIR_COOLDOWN = "pair_cooldown"


class RiskRejected(PulsearbError):
    """An opportunity failed a limit.

    Args:
        code: the reason code.
        limit: the configured limit, as text.
        value: the observed value compared with it, as text.
    """

    def __init__(self, code: Reason, limit: str, value: str) -> None:
        super().__init__(f"{code}: observed {value}, limit {limit}")
        self.code = code
        self.limit = limit
        self.value = value

    def __reduce__(self):
        return (type(self), (self.code, self.limit, self.value))


@dataclass(frozen=True, slots=True)
class Market:
    """What the decision knows about the world besides the opportunity.

    Attributes:
        now_ns: decision time, ns since epoch.
        kill_switch: True while the kill switch is on.
        head_block: the chain's latest block number (None without a chain: the block-age check is skipped).
        base_fee_wei: the latest block's base fee, wei per gas (None without a chain).
        chain_id: the connected chain's id (None without a chain).
        already_executed: the execution ledger already holds this opportunity id.
    """

    now_ns: int
    kill_switch: bool = False
    head_block: int | None = None
    base_fee_wei: int | None = None
    chain_id: int | None = None
    already_executed: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of the risk checks.

    Attributes:
        accepted: True to execute.
        reason: ``accepted`` or the reject code.
        limit_value: the limit that decided it, as text ("" when accepted).
        observed_value: what was compared with it, as text ("" when accepted).
    """

    accepted: bool
    reason: Reason
    limit_value: str = ""
    observed_value: str = ""


Check = Callable[[Opportunity, RiskState, RiskLimits, Market], None]


def _token_limit(limit: TokenLimit, name: str, token: str) -> int:
    value = limit.get(token)
    if value is None:
        raise RiskRejected(Reason.TOKEN_NOT_CONFIGURED, f"{name} has no entry for the token or '*'", token)
    return value


def check_duplicate(opp: Opportunity, state: RiskState, limits: RiskLimits, market: Market) -> None:
    """An id already executed or in flight is never sent again."""
    if market.already_executed or opp.id in state.open:
        raise RiskRejected(Reason.DUPLICATE, "one execution per opportunity id", opp.id)


def check_kill_switch(opp: Opportunity, state: RiskState, limits: RiskLimits, market: Market) -> None:
    """Nothing is accepted while the kill switch is on."""
    if market.kill_switch:
        raise RiskRejected(Reason.KILL_SWITCH, "off", "on")


def check_chain(opp: Opportunity, state: RiskState, limits: RiskLimits, market: Market) -> None:
    """The opportunity must be on the chain the executor is connected to."""
    if market.chain_id is not None and opp.chain_id != market.chain_id:
        raise RiskRejected(Reason.CHAIN_MISMATCH, str(market.chain_id), str(opp.chain_id))


def check_executable(opp: Opportunity, state: RiskState, limits: RiskLimits, market: Market) -> None:
    """Only an on-chain cycle through V2 pairs and V3 pools, in any mix, can be executed (not a CEX leg, not a
    malformed path, not a hop of unknown kind)."""
    cycle = len(opp.path) == len(opp.pools) + 1 >= 3 and opp.path[0] == opp.path[-1]
    addresses = all(ADDRESS_RE.match(a) for a in (*opp.pools, *opp.path))
    kinds = opp.hop_kinds
    tradable = len(kinds) == len(opp.pools) and all(k in EXECUTABLE_KINDS for k in kinds)
    if not (cycle and addresses and tradable):
        raise RiskRejected(
            Reason.NOT_EXECUTABLE,
            "a cycle of V2 pair and V3 pool contract addresses",
            f"{opp.strategy} {'>'.join(f'{k}:{p}' for k, p in zip(kinds, opp.pools, strict=False))}",
        )


def check_breaker(opp: Opportunity, state: RiskState, limits: RiskLimits, market: Market) -> None:
    """While the breaker is open (and its cooldown not over) nothing is accepted."""
    if state.breaker_opened_ns is None:
        return
    open_ms = (market.now_ns - state.breaker_opened_ns) // 1_000_000
    if open_ms < limits.breaker_cooldown_ms:
        raise RiskRejected(
            Reason.CIRCUIT_OPEN,
            f"{limits.max_consecutive_failures} consecutive failures, cooldown {limits.breaker_cooldown_ms} ms",
            f"{state.consecutive_failures} failures, open for {open_ms} ms",
        )


def check_daily_loss(opp: Opportunity, state: RiskState, limits: RiskLimits, market: Market) -> None:
    """Stop trading a token once today's realized loss in it reached the limit."""
    limit = _token_limit(limits.daily_loss_limit, "daily_loss_limit", opp.token_in)
    loss = state.loss_today(opp.token_in, market.now_ns)
    if loss > 0 and loss >= limit:
        raise RiskRejected(Reason.DAILY_LOSS_LIMIT, str(limit), str(loss))


def check_quote_age(opp: Opportunity, state: RiskState, limits: RiskLimits, market: Market) -> None:
    """The opportunity must still be valid, its newest market input recent, and the chain not moved on."""
    if market.now_ns > opp.valid_until_ns:
        raise RiskRejected(Reason.QUOTE_EXPIRED, f"valid_until_ns {opp.valid_until_ns}", f"now_ns {market.now_ns}")
    newest = max((i.timestamp_ns for i in opp.inputs), default=opp.detected_ns)
    age_ms = (market.now_ns - newest) // 1_000_000
    if age_ms > limits.max_quote_age_ms:
        raise RiskRejected(Reason.QUOTE_TOO_OLD_MS, str(limits.max_quote_age_ms), str(age_ms))
    if market.head_block is not None:
        age_blocks = market.head_block - opp.block_number
        if age_blocks > limits.max_quote_age_blocks:
            raise RiskRejected(Reason.QUOTE_TOO_OLD_BLOCKS, str(limits.max_quote_age_blocks), str(age_blocks))


def check_gas_price(opp: Opportunity, state: RiskState, limits: RiskLimits, market: Market) -> None:
    """Neither the priced-in gas price nor the chain's base fee may exceed the cap.

    The executor caps ``maxFeePerGas`` at the same limit, so a base fee above it means the transaction could not
    be included at all; between the two, the tip shrinks so that no more than the cap is ever paid.
    """
    cap = limits.max_gas_price_wei
    if opp.gas_price_wei > cap:
        raise RiskRejected(Reason.GAS_PRICE_TOO_HIGH, str(cap), f"opportunity gas price {opp.gas_price_wei}")
    if market.base_fee_wei is not None and market.base_fee_wei > cap:
        raise RiskRejected(Reason.GAS_PRICE_TOO_HIGH, str(cap), f"base fee {market.base_fee_wei}")


def check_profit(opp: Opportunity, state: RiskState, limits: RiskLimits, market: Market) -> None:
    """Net profit must reach the absolute floor and the ratio floor (compared by cross-multiplying)."""
    floor = _token_limit(limits.min_net_profit, "min_net_profit", opp.token_in)
    if opp.net_profit < floor or opp.net_profit <= 0:
        raise RiskRejected(Reason.MIN_NET_PROFIT, str(floor), str(opp.net_profit))
    if opp.amount_in <= 0 or opp.net_profit * BPS < limits.min_profit_ratio_bps * opp.amount_in:
        ratio_bps = opp.net_profit * BPS // opp.amount_in if opp.amount_in > 0 else 0
        raise RiskRejected(Reason.MIN_PROFIT_RATIO, f"{limits.min_profit_ratio_bps} bps", f"{ratio_bps} bps")


def check_size(opp: Opportunity, state: RiskState, limits: RiskLimits, market: Market) -> None:
    """Per-trade notional and per-token exposure in flight (including this trade)."""
    notional = _token_limit(limits.max_notional, "max_notional", opp.token_in)
    if opp.amount_in > notional:
        raise RiskRejected(Reason.MAX_NOTIONAL, str(notional), str(opp.amount_in))
    exposure_cap = _token_limit(limits.max_exposure, "max_exposure", opp.token_in)
    exposure = state.exposure(opp.token_in) + opp.amount_in
    if exposure > exposure_cap:
        raise RiskRejected(Reason.MAX_EXPOSURE, str(exposure_cap), str(exposure))


def check_concurrency(opp: Opportunity, state: RiskState, limits: RiskLimits, market: Market) -> None:
    """Trades in flight, globally, per pair and per pool, and the pair's cooldown.

    A pool with a trade in flight takes no other, whatever the strategy: two transactions through one pool are
    both simulated on the state before either, so on a chain with a mempool the second would revert and spend its
    gas (cross_dex and triangular often see the same dislocation).
    """
    if len(state.open) >= limits.max_in_flight:
        raise RiskRejected(Reason.MAX_IN_FLIGHT, str(limits.max_in_flight), str(len(state.open)))
    on_pair = state.open_on_pair(opp.pair)
    if on_pair >= limits.max_in_flight_per_pair:
        raise RiskRejected(Reason.MAX_IN_FLIGHT_PER_PAIR, str(limits.max_in_flight_per_pair), str(on_pair))
    busy = sorted(state.pools_in_flight().intersection(opp.pools))
    if busy:
        raise RiskRejected(Reason.POOL_IN_FLIGHT, "one trade in flight per pool", ", ".join(busy))
    last = state.last_accept_ns.get(opp.pair)
    if last is not None:
        since_ms = (market.now_ns - last) // 1_000_000
        if since_ms < limits.pair_cooldown_ms:
            raise RiskRejected(Reason.PAIR_COOLDOWN, f"{limits.pair_cooldown_ms} ms", f"{since_ms} ms")


CHECKS: tuple[Check, ...] = (
    check_duplicate,
    check_kill_switch,
    check_chain,
    check_executable,
    check_breaker,
    check_daily_loss,
    check_quote_age,
    check_gas_price,
    check_profit,
    check_size,
    check_concurrency,
)


#: The checks before the first one that reads the chain head: a rejection by one of them is final whatever the head
#: says, so the service decides those without asking the node (a detect-only cex_dex leg costs no RPC round trip).
HEADLESS_CHECKS: tuple[Check, ...] = CHECKS[: CHECKS.index(check_quote_age)]


def decide(
    opp: Opportunity, state: RiskState, limits: RiskLimits, market: Market, checks: tuple[Check, ...] = CHECKS
) -> Decision:
    """Run the checks in order; the first rejection decides.

    Args:
        opp: the opportunity.
        state: trades in flight, cooldowns, today's PnL, the breaker.
        limits: the configured limits.
        market: time, chain head and kill switch.
        checks: which checks (:data:`HEADLESS_CHECKS` for those that do not need the chain head).

    Returns:
        An accepted decision, or a rejection with its reason code, limit value and observed value.
    """
    for check in checks:
        try:
            check(opp, state, limits, market)
        except RiskRejected as rejected:
            return Decision(False, rejected.code, rejected.limit, rejected.value)
    return Decision(True, Reason.ACCEPTED)
