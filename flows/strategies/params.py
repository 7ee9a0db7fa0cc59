"""Parameters shared by the strategies and the detector flow (frozen, built once from a flow spec)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from fractions import Fraction
from functools import lru_cache
from typing import Any

from flows.amm.profit import NativePrice
from flows.spec.problems import MISSING, FieldPath, Problems, choice, dotted
from flows.state.catalog import Catalog, PoolMeta
from flows.state.quotes import CexMarket


@dataclass(frozen=True, slots=True)
class StrategyParams:
    """Costs and policy every strategy needs, and the detector's join and staleness policy.

    Attributes:
        flow: name of the flow (part of every opportunity id).
        chain_id: chain the pools live on.
        native_token: address of the token gas is priced in (the wrapped native token, or a stand-in such as WETH
            with ``gas_price_scale`` converting the chain's gas token into it).
        base_tokens: tokens profits are preferably measured in (cycle start), in order of preference.
        gas_units: gas an execution of the cycle uses (estimate, units of gas).
        gas_price_wei: gas price assumed until a ``market.gas_price`` record arrives, wei of ``native_token``/gas.
        gas_venue: VenueId of the chain whose ``market.gas_price`` records apply (0: any).
        gas_price_scale: (numerator, denominator) converting wei of the chain's gas token into wei of
            ``native_token`` (``(1, 1)`` when they are the same token).
        flash_fee_bps: flash-loan premium when executions borrow the input; 0 trades from inventory.
        min_net_profit: smallest net profit worth emitting, raw units of the start token.
        max_age_ms: a partner state older than the triggering update by more than this is stale (event time).
        max_age_blocks: a partner pool state more than this many blocks from the triggering update is stale.
        max_quote_age_ms: a CEX quote side older than this (relative to the trigger) is stale; 0: ``max_age_ms``.
        allowed_lateness_ms: how far behind the newest update of its join key an update may arrive and still be
            joined (the event-time clock's wait); later ones are left out and counted.
        join_by: ``pair`` (states of one token pair together) or ``graph`` (every state of the flow together);
            '' takes the strategy's default.
        validity_ms: an opportunity's valid_until is its detection time plus this.
        default_fee_bps: fee of a pool whose fee is neither configured nor reported.
        pool_fees_bps: fee per pool address (overrides reported and venue fees).
        venue_fees_bps: fee per venue id.
        usd_prices: USD per whole token, for display figures and as the fallback gas conversion (never for sizing).
        token_decimals: decimals per token address, for events that do not carry them.
        pools: seed metadata per pool address (tokens, fee, V3, tick spacing), as PoolInfo would give it.
        cex_markets: CEX instruments (``venue:symbol``) and the chain tokens they stand for (cex_dex).
        max_hops_per_update: most cycles a triangular update sizes (the most promising first); 0: no limit.
    """

    flow: str
    chain_id: int = 31337
    native_token: str = ""
    base_tokens: tuple[str, ...] = ()
    gas_units: int = 150_000
    gas_price_wei: int = 30 * 10**9
    gas_venue: int = 0
    gas_price_scale: tuple[int, int] = (1, 1)
    flash_fee_bps: int = 0
    min_net_profit: int = 1
    max_age_ms: int = 60_000
    max_age_blocks: int = 5
    max_quote_age_ms: int = 0
    allowed_lateness_ms: int = 5_000
    join_by: str = ""
    validity_ms: int = 12_000
    default_fee_bps: int = 30
    pool_fees_bps: Mapping[str, int] = field(default_factory=dict)
    venue_fees_bps: Mapping[int, int] = field(default_factory=dict)
    usd_prices: Mapping[str, float] = field(default_factory=dict)
    token_decimals: Mapping[str, int] = field(default_factory=dict)
    pools: Mapping[str, PoolMeta] = field(default_factory=dict)
    cex_markets: Mapping[str, CexMarket] = field(default_factory=dict)
    max_hops_per_update: int = 0

    def fee_for(self, pool: str, venue: int) -> int:
        """Fee in bps of a pool that reports none: per-pool, else per-venue, else the default."""
        return self.pool_fees_bps.get(pool, self.venue_fees_bps.get(venue, self.default_fee_bps))

    def usd(self, token: str, amount: int, decimals: int) -> float:
        """Display value in USD of a raw amount (0.0 when the token has no configured price)."""
        price = self.usd_prices.get(token)
        return 0.0 if price is None else amount / 10**decimals * price

    def catalog(self) -> Catalog:
        """The pool-state fold's configuration."""
        return Catalog(
            token_decimals=self.token_decimals,
            pools=self.pools,
            pool_fees_bps=self.pool_fees_bps,
            venue_fees_bps=self.venue_fees_bps,
            default_fee_bps=self.default_fee_bps,
        )

    def quote_age_ns(self) -> int:
        """Largest age of a CEX quote side, ns."""
        return (self.max_quote_age_ms or self.max_age_ms) * 1_000_000

    def gas_price_from_gwei(self, gas_price_gwei: int) -> int:
        """A ``market.gas_price`` reading (gwei of the chain's gas token) as wei of ``native_token`` per gas."""
        num, den = self.gas_price_scale
        return gas_price_gwei * 10**9 * num // den

    def usd_native_price(self, token: str, token_decimals: int, native_decimals: int = 18) -> NativePrice | None:
        """Fallback price of 1 wei of ``native_token`` in raw ``token`` units, from the configured USD prices.

        The decimal strings of the configured prices are taken exactly (no binary float error enters the ratio);
        used only to convert gas into the profit token when no fresh pool prices the native token in it.
        """
        native_usd = self.usd_prices.get(self.native_token)
        token_usd = self.usd_prices.get(token)
        if not native_usd or not token_usd:
            return None
        return _usd_ratio(native_usd, token_usd, token_decimals, native_decimals)


@lru_cache(maxsize=4096)
def _usd_ratio(native_usd: float, token_usd: float, token_decimals: int, native_decimals: int) -> NativePrice:
    ratio = Fraction(repr(native_usd)) * 10**token_decimals / (Fraction(repr(token_usd)) * 10**native_decimals)
    return NativePrice(ratio.numerator, ratio.denominator)


def _lower_keys(raw: Mapping[str, Any], value: Callable[[Any], Any]) -> dict[str, Any]:
    return {str(k).lower(): value(v) for k, v in raw.items()}


def _pool_meta(address: str, raw: Mapping[str, Any], decimals: Mapping[str, int]) -> PoolMeta:
    token0, token1 = str(raw["token0"]).lower(), str(raw["token1"]).lower()
    return PoolMeta(
        pool=address,
        venue=int(raw.get("venue", 0)),
        token0=token0,
        token1=token1,
        token0_decimals=int(raw.get("token0_decimals", decimals.get(token0, 18))),
        token1_decimals=int(raw.get("token1_decimals", decimals.get(token1, 18))),
        fee_bps=int(raw["fee_bps"]) if "fee_bps" in raw else None,
        v3=bool(raw.get("v3", False)),
        tick_spacing=int(raw.get("tick_spacing", 0)),
    )


def _cex_market(instrument: str, raw: Mapping[str, Any], decimals: Mapping[str, int]) -> CexMarket:
    base, quote = str(raw["base"]).lower(), str(raw["quote"]).lower()
    known = {}
    for side, token in (("base", base), ("quote", quote)):
        value = raw.get(f"{side}_decimals", decimals.get(token))
        if value is None:
            # A CEX price converts into raw units through the decimals: a guess would misprice the leg.
            msg = f"no decimals for {side} token {token}: set {side}_decimals or token_decimals"
            raise ValueError(msg)
        known[side] = int(value)
    return CexMarket(
        instrument=instrument,
        base=base,
        quote=quote,
        base_decimals=known["base"],
        quote_decimals=known["quote"],
        taker_fee_bps=int(raw.get("taker_fee_bps", 10)),
    )


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "base_tokens": lambda v: tuple(str(t).lower() for t in v),
    "native_token": lambda v: str(v).lower(),
    "venue_fees_bps": lambda v: {int(k): int(x) for k, x in v.items()},
    "pool_fees_bps": lambda v: _lower_keys(v, int),
    "usd_prices": lambda v: _lower_keys(v, float),
    "token_decimals": lambda v: _lower_keys(v, int),
    "gas_price_scale": lambda v: (int(v[0]), int(v[1])),
}


_INT_FIELDS = tuple(f.name for f in fields(StrategyParams) if type(f.default) is int)
_NON_NEGATIVE = ("max_age_ms", "max_age_blocks", "max_quote_age_ms", "allowed_lateness_ms", "validity_ms")
_UNREADABLE = (TypeError, ValueError, KeyError, AttributeError, IndexError)


def _convert(problems: Problems, at: str, values: dict[str, Any], name: str, convert: Callable[[Any], Any]) -> None:
    """Replace ``values[name]`` by its converted form; one that cannot be read is a problem, and is dropped."""
    if name not in values:
        return
    try:
        values[name] = convert(values[name])
    except _UNREADABLE as exc:
        problems.note(f"{at}.{name}", f"cannot read it ({type(exc).__name__}: {exc})")
        del values[name]


def parse_params(flow: str, raw: Any, problems: Problems, where: FieldPath = ("strategy", "params")) -> StrategyParams:
    """Read a spec's ``strategy.params`` (YAML values, addresses any case); every problem goes to ``problems``.

    Each bad parameter is one problem (an unknown name, a value that cannot be read, a mistyped integer, a value out
    of range) and the others are still read, so one pass reports them all; the caller raises.

    Args:
        flow: name of the flow (part of every opportunity id).
        raw: the parsed YAML value of the section.
        problems: where problems go (:meth:`Problems.of(spec) <flows.spec.problems.Problems.of>` locates them).
        where: the section's field path, for messages.

    Returns:
        The parameters (meaningful only when ``problems`` stayed empty).
    """
    at = dotted(where)
    if not isinstance(raw, Mapping):
        problems.add(at, "a mapping of strategy parameters", raw if raw is not None else MISSING)
        raw = {}
    allowed = set(StrategyParams.__dataclass_fields__) - {"flow"}
    problems.unknown_keys(at, raw, allowed, noun="parameter")
    values = {k: v for k, v in raw.items() if k in allowed}
    for name, convert in _CONVERT.items():
        _convert(problems, at, values, name, convert)
    decimals = values.get("token_decimals", {})
    _convert(
        problems,
        at,
        values,
        "pools",
        lambda m: {str(a).lower(): _pool_meta(str(a).lower(), p, decimals) for a, p in m.items()},
    )
    _convert(
        problems, at, values, "cex_markets", lambda m: {str(i): _cex_market(str(i), c, decimals) for i, c in m.items()}
    )
    for name in _INT_FIELDS:  # a string where a number belongs would fail later, mid-flow
        value = values.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(f"{at}.{name}", "an integer", value)
            del values[name]
    scale = values.get("gas_price_scale", (1, 1))
    if scale[0] < 0 or scale[1] <= 0:
        problems.add(f"{at}.gas_price_scale", "[numerator >= 0, denominator > 0]", raw["gas_price_scale"])
        del values["gas_price_scale"]
    for name in _NON_NEGATIVE:
        if values.get(name, 0) < 0:
            problems.add(f"{at}.{name}", "a non-negative integer", values.pop(name))
    if "join_by" in values:
        values["join_by"] = choice(
            problems,
            f"{at}.join_by",
            values["join_by"],
            ("", "pair", "graph"),
            default="",
            expected="pair, graph or ''",
        )
    return StrategyParams(flow=flow, **values)


def params_from_mapping(flow: str, raw: Mapping[str, Any], where: str = "strategy.params") -> StrategyParams:
    """Build the parameters of a flow from a ``strategy.params`` mapping that has no file (see :func:`parse_params`).

    Raises:
        SpecError: every problem, one line each naming ``where`` and the field (a :class:`ConfigError`; a loaded
            spec's problems also carry file and line: read it with ``Problems.of(spec)``).
    """
    problems = Problems()
    params = parse_params(flow, raw, problems, where)
    problems.raise_any()
    return params
