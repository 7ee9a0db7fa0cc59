"""Market snapshots: pools with an exact state, as a JSON file ``pulsearb up --snapshot FILE`` deploys (pure).

Format (docs/snapshots.md; extra fields are allowed and kept in :attr:`Snapshot.extra`)::

    {"name": "...",
     "tokens": [{"symbol": "WETH", "decimals": 18, "usd": 3682.04}, ...],   # usd: optional, display only
     "pools": [
       {"venue": "sushiswap", "kind": "uniswap_v2", "fee_bps": 30, "token0": "DAI", "token1": "WETH",
        "reserve0": "<int>", "reserve1": "<int>"},
       {"venue": "uniswap_v3", "kind": "uniswap_v3", "fee": 3000, "token0": "WBTC", "token1": "WETH",
        "sqrt_price_x96": "<int>", "liquidity": "<int>", "tick": 265269,
        "ticks": [{"index": -887220, "liquidity_net": "<int>"}, ...]}]}

Integers may be JSON numbers or decimal strings (JSON parsers lose precision above 2**53). ``token0``/``token1``
name which reserve belongs to which token. :func:`load_snapshot` checks everything a deployment needs and reports
every problem at once, each with its JSON path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from base.errors import ConfigError
from flows.amm.v3.tick_math import MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, get_tick_at_sqrt_ratio

KINDS = ("uniswap_v2", "uniswap_v3")
V3_FEES = {100: 1, 500: 10, 3000: 60, 10000: 200}  # fee (pips) -> tick spacing of the genuine factory's tiers
MAX_UINT112 = 2**112 - 1
MAX_UINT128 = 2**128 - 1


@dataclass(frozen=True, slots=True)
class SnapshotToken:
    """A token of the snapshot (deployed as a TestToken); ``usd``: USD per whole token, for display (optional)."""

    symbol: str
    decimals: int
    usd: float | None = None


@dataclass(frozen=True, slots=True)
class SnapshotPool:
    """One pool and its exact state. V2 pools use ``fee_bps`` and reserves; V3 pools ``fee`` (pips) and the rest."""

    venue: str
    kind: str
    token0: str
    token1: str
    fee_bps: int = 30
    reserve0: int = 0
    reserve1: int = 0
    fee: int = 0
    sqrt_price_x96: int = 0
    liquidity: int = 0
    tick: int = 0
    ticks: Mapping[int, int] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_v3(self) -> bool:
        """True for a Uniswap V3 pool."""
        return self.kind == "uniswap_v3"

    @property
    def tick_spacing(self) -> int:
        """The tick spacing of a V3 pool's fee tier (0 for V2)."""
        return V3_FEES.get(self.fee, 0) if self.is_v3 else 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A whole snapshot file."""

    name: str
    tokens: tuple[SnapshotToken, ...]
    pools: tuple[SnapshotPool, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def token(self, symbol: str) -> SnapshotToken:
        """The token called ``symbol``."""
        return next(t for t in self.tokens if t.symbol == symbol)


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, text: str) -> None:
        self.items.append(f"{where}: {text}")


def _int(value: Any, where: str, problems: _Problems, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        problems.add(where, f"expected an integer (number or decimal string), got {value!r}")
        return 0
    try:
        number = int(value)
    except ValueError:
        problems.add(where, f"expected an integer (number or decimal string), got {value!r}")
        return 0
    if not low <= number <= high:
        problems.add(where, f"expected {low} <= value <= {high}, got {number}")
    return number


def _pool(raw: Any, i: int, symbols: set[str], problems: _Problems) -> SnapshotPool | None:
    where = f"pools[{i}]"
    if not isinstance(raw, dict):
        problems.add(where, f"expected an object, got {type(raw).__name__}")
        return None
    kind = raw.get("kind")
    if kind not in KINDS:
        problems.add(f"{where}.kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
        return None
    for side in ("token0", "token1"):
        if raw.get(side) not in symbols:
            problems.add(f"{where}.{side}", f"expected a symbol from tokens, got {raw.get(side)!r}")
    if raw.get("token0") == raw.get("token1"):
        problems.add(where, "token0 and token1 must differ")
    venue = raw.get("venue")
    if not isinstance(venue, str) or not venue:
        problems.add(f"{where}.venue", f"expected a venue name, got {venue!r}")
    known = {"venue", "kind", "token0", "token1"}
    common = {"venue": str(venue), "kind": kind, "token0": raw.get("token0"), "token1": raw.get("token1")}
    if kind == "uniswap_v2":
        known |= {"fee_bps", "reserve0", "reserve1"}
        fee_bps = _int(raw.get("fee_bps", 30), f"{where}.fee_bps", problems, 0, 9_999)
        r0 = _int(raw.get("reserve0"), f"{where}.reserve0", problems, 1, MAX_UINT112)
        r1 = _int(raw.get("reserve1"), f"{where}.reserve1", problems, 1, MAX_UINT112)
        extra = {k: v for k, v in raw.items() if k not in known}
        return SnapshotPool(**common, fee_bps=fee_bps, reserve0=r0, reserve1=r1, extra=extra)
    known |= {"fee", "sqrt_price_x96", "liquidity", "tick", "ticks"}
    fee = _int(raw.get("fee"), f"{where}.fee", problems, 1, 999_999)
    if fee not in V3_FEES:
        problems.add(f"{where}.fee", f"expected a fee tier of {sorted(V3_FEES)} (pips), got {fee}")
    sqrt_price = _int(
        raw.get("sqrt_price_x96"), f"{where}.sqrt_price_x96", problems, MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1
    )
    liquidity = _int(raw.get("liquidity"), f"{where}.liquidity", problems, 0, MAX_UINT128)
    tick = _int(raw.get("tick"), f"{where}.tick", problems, MIN_TICK, MAX_TICK)
    ticks: dict[int, int] = {}
    raw_ticks = raw.get("ticks", [])
    if not isinstance(raw_ticks, list):
        problems.add(f"{where}.ticks", "expected a list of {index, liquidity_net}")
        raw_ticks = []
    spacing = V3_FEES.get(fee, 1)
    for j, t in enumerate(raw_ticks):
        tw = f"{where}.ticks[{j}]"
        if not isinstance(t, dict):
            problems.add(tw, "expected {index, liquidity_net}")
            continue
        index = _int(t.get("index"), f"{tw}.index", problems, MIN_TICK, MAX_TICK)
        if index % spacing:
            problems.add(f"{tw}.index", f"{index} is not a multiple of the tick spacing {spacing}")
        ticks[index] = _int(t.get("liquidity_net"), f"{tw}.liquidity_net", problems, -(2**127), 2**127 - 1)
    if MIN_SQRT_RATIO <= sqrt_price < MAX_SQRT_RATIO and get_tick_at_sqrt_ratio(sqrt_price) != tick:
        problems.add(
            f"{where}.tick", f"{tick} is not the tick of sqrt_price_x96 ({get_tick_at_sqrt_ratio(sqrt_price)})"
        )
    if ticks:
        if sum(ticks.values()) != 0:
            problems.add(f"{where}.ticks", "liquidity nets must sum to 0")
        below = sum(n for t, n in ticks.items() if t <= tick)
        if below != liquidity:
            problems.add(f"{where}.liquidity", f"{liquidity} differs from the nets at or below the tick ({below})")
    elif liquidity:
        problems.add(f"{where}.ticks", "a pool with liquidity needs its initialized ticks")
    extra = {k: v for k, v in raw.items() if k not in known}
    return SnapshotPool(
        **common, fee=fee, sqrt_price_x96=sqrt_price, liquidity=liquidity, tick=tick, ticks=ticks, extra=extra
    )


def parse_snapshot(data: Any, source: str = "snapshot") -> Snapshot:
    """Validate decoded JSON and return the snapshot.

    Raises:
        ConfigError: every problem found, one per line, each as ``SOURCE: json.path: what was expected, got``.
    """
    problems = _Problems()
    if not isinstance(data, dict):
        msg = f"{source}: expected a JSON object with name, tokens and pools"
        raise ConfigError(msg)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        problems.add("name", f"expected a non-empty string, got {name!r}")
    tokens: list[SnapshotToken] = []
    raw_tokens = data.get("tokens")
    if not isinstance(raw_tokens, list) or not raw_tokens:
        problems.add("tokens", "expected a non-empty list of {symbol, decimals}")
        raw_tokens = []
    for i, t in enumerate(raw_tokens):
        if not isinstance(t, dict) or not isinstance(t.get("symbol"), str) or not t.get("symbol"):
            problems.add(f"tokens[{i}]", "expected {symbol: str, decimals: int}")
            continue
        decimals = _int(t.get("decimals"), f"tokens[{i}].decimals", problems, 0, 36)
        usd = t.get("usd")
        if usd is not None and (isinstance(usd, bool) or not isinstance(usd, int | float) or usd <= 0):
            problems.add(f"tokens[{i}].usd", f"expected a positive number (USD per whole token), got {usd!r}")
            usd = None
        tokens.append(SnapshotToken(t["symbol"], decimals, None if usd is None else float(usd)))
    symbols = [t.symbol for t in tokens]
    if len(set(symbols)) != len(symbols):
        problems.add("tokens", "symbols must be unique")
    raw_pools = data.get("pools")
    if not isinstance(raw_pools, list) or not raw_pools:
        problems.add("pools", "expected a non-empty list of pools")
        raw_pools = []
    pools = [p for i, raw in enumerate(raw_pools) if (p := _pool(raw, i, set(symbols), problems)) is not None]
    if problems.items:
        msg = "\n".join(f"{source}: {p}" for p in problems.items)
        raise ConfigError(msg)
    extra = {k: v for k, v in data.items() if k not in ("name", "tokens", "pools")}
    return Snapshot(str(name), tuple(tokens), tuple(pools), extra)


def load_snapshot(path: str | Path) -> Snapshot:
    """Read and validate a snapshot file.

    Raises:
        ConfigError: unreadable file, invalid JSON (with its line), or any problem :func:`parse_snapshot` finds.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{path}: cannot read the snapshot ({exc.strerror or exc}); check the path"
        raise ConfigError(msg) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"{path}:{exc.lineno}: not valid JSON: {exc.msg}"
        raise ConfigError(msg) from None
    return parse_snapshot(data, str(path))


def snapshot_to_json(snapshot: Snapshot) -> dict[str, Any]:
    """The file form of a snapshot (integers above 2**53 as strings)."""

    def num(n: int) -> int | str:
        return n if abs(n) < 2**53 else str(n)

    pools: list[dict[str, Any]] = []
    for p in snapshot.pools:
        out: dict[str, Any] = {"venue": p.venue, "kind": p.kind, "token0": p.token0, "token1": p.token1}
        if p.is_v3:
            out |= {
                "fee": p.fee,
                "sqrt_price_x96": str(p.sqrt_price_x96),
                "liquidity": str(p.liquidity),
                "tick": p.tick,
                "ticks": [{"index": t, "liquidity_net": num(n)} for t, n in sorted(p.ticks.items())],
            }
        else:
            out |= {"fee_bps": p.fee_bps, "reserve0": str(p.reserve0), "reserve1": str(p.reserve1)}
        pools.append(out | dict(p.extra))
    tokens = [
        {"symbol": t.symbol, "decimals": t.decimals} | ({} if t.usd is None else {"usd": t.usd})
        for t in snapshot.tokens
    ]
    return {"name": snapshot.name, **dict(snapshot.extra), "tokens": tokens, "pools": pools}
