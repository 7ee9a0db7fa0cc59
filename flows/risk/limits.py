"""Risk limits: what an opportunity must satisfy to be executed (frozen, parsed once from a spec's ``risk.limits``).

Token amounts are raw units of the token they apply to (the cycle's start token ``token_in``). A per-token limit
is written either as one integer (every token) or as a mapping ``{token address: amount}``, optionally with a
``"*"`` entry for tokens not listed; an opportunity in a token that has no entry and no ``"*"`` is rejected
(``token_not_configured``), so nothing trades a token nobody set limits for. docs/execution.md lists every limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flows.spec.problems import ADDRESS_RE, MISSING, Problems, integer

WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class TokenLimit:
    """A raw-unit amount per token, with an optional default for every other token.

    Attributes:
        by_token: lower-case token address -> raw units.
        default: raw units for tokens not in ``by_token`` (None: such tokens are not configured).
    """

    by_token: Mapping[str, int] = field(default_factory=dict)
    default: int | None = None

    def get(self, token: str) -> int | None:
        """The limit for ``token`` (None when neither the token nor ``"*"`` is configured)."""
        return self.by_token.get(token.lower(), self.default)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Every risk limit; all are required in the spec (a trading limit is never implied).

    Attributes:
        min_net_profit: smallest net profit (after gas and flash fee) per trade, raw units of token_in.
        min_profit_ratio_bps: smallest net profit / amount_in, bps.
        max_notional: largest amount_in per trade, raw units of token_in.
        max_exposure: largest sum of amount_in over trades in flight, per token, raw units.
        max_in_flight: most trades in flight at once (sent, not yet final).
        max_in_flight_per_pair: most trades in flight at once on one token pair.
        pair_cooldown_ms: least time between two accepted trades on one token pair, ms.
        daily_loss_limit: largest realized loss per UTC day, per token, raw units (gas converted to the token).
        max_gas_price_wei: highest gas price paid, wei per gas; also the executor's ``maxFeePerGas`` cap.
        max_quote_age_ms: oldest an opportunity's newest market input may be when decided, ms.
        max_quote_age_blocks: most blocks the chain head may be past the opportunity's block.
        max_consecutive_failures: failures in a row (on-chain reverts, timeouts, send errors) that open the
            circuit breaker.
        breaker_cooldown_ms: how long the breaker stays open before it half-opens, ms.
    """

    min_net_profit: TokenLimit
    min_profit_ratio_bps: int
    max_notional: TokenLimit
    max_exposure: TokenLimit
    max_in_flight: int
    max_in_flight_per_pair: int
    pair_cooldown_ms: int
    daily_loss_limit: TokenLimit
    max_gas_price_wei: int
    max_quote_age_ms: int
    max_quote_age_blocks: int
    max_consecutive_failures: int
    breaker_cooldown_ms: int


_TOKEN_LIMITS = ("min_net_profit", "max_notional", "max_exposure", "daily_loss_limit")
# name -> (minimum, maximum)
_INT_LIMITS: dict[str, tuple[int, int | None]] = {
    "min_profit_ratio_bps": (0, 1_000_000),
    "max_in_flight": (1, None),
    "max_in_flight_per_pair": (1, None),
    "pair_cooldown_ms": (0, None),
    "max_gas_price_wei": (1, None),
    "max_quote_age_ms": (1, None),
    "max_quote_age_blocks": (0, None),
    "max_consecutive_failures": (1, None),
    "breaker_cooldown_ms": (1_000, None),
}
FIELDS = frozenset(_TOKEN_LIMITS) | frozenset(_INT_LIMITS)


def _token_limit(problems: Problems, where: tuple[str, ...], value: Any) -> TokenLimit:
    if value is MISSING:
        problems.add(where, "an integer or a mapping {token address or '*': integer}", value)
        return TokenLimit()
    if isinstance(value, int) and not isinstance(value, bool):
        return TokenLimit({}, integer(problems, where, value))
    if not isinstance(value, Mapping) or not value:
        problems.add(where, "an integer or a mapping {token address or '*': integer}", value)
        return TokenLimit()
    by_token: dict[str, int] = {}
    default = None
    for key, amount in value.items():
        sub = (*where, str(key))
        if key == WILDCARD:
            default = integer(problems, sub, amount)
        elif isinstance(key, str) and ADDRESS_RE.match(key):
            by_token[key.lower()] = integer(problems, sub, amount)
        else:
            problems.add(sub, "a token address (0x + 40 hex digits) or '*' as key", key)
    return TokenLimit(by_token, default)


def parse_limits(raw: Any, problems: Problems, where: tuple[str, ...] = ("risk", "limits")) -> RiskLimits:
    """Validate a ``risk.limits`` mapping; every problem is added to ``problems`` (the caller raises).

    Args:
        raw: the parsed YAML value.
        problems: collector of one-line problems.
        where: the key path of the section, for messages.

    Returns:
        The limits (meaningful only when ``problems`` stayed empty).
    """
    if not isinstance(raw, Mapping):
        problems.add(where, "a mapping of limits", raw if raw is not None else MISSING)
        raw = {}
    problems.unknown_keys(where, raw, set(FIELDS))
    values: dict[str, Any] = {}
    for name in _TOKEN_LIMITS:
        values[name] = _token_limit(problems, (*where, name), raw.get(name, MISSING))
    for name, (low, high) in _INT_LIMITS.items():
        values[name] = integer(problems, (*where, name), raw.get(name, MISSING), minimum=low, maximum=high)
    return RiskLimits(**values)
