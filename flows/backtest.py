"""Backtest variants and results (pure): which spec overrides each run uses, and what each run found.

A backtest replays archived market records through a detector spec (``pulsearb backtest``). It can run several
*variants* of the spec over one read of the archive: the spec with the ``--set`` overrides, plus one variant per
``--variant`` (its own overrides on top) and per value of a ``--sweep``. :func:`summarize` tallies a run's
opportunities: count, predicted profit per start token (exact raw units) and in USD (display), by strategy and
token pair.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import yaml

from base.errors import ConfigError
from flows.opportunity import Opportunity


@dataclass(frozen=True, slots=True)
class Variant:
    """One run of a backtest: a name for the tables and the ``PATH=VALUE`` overrides it applies to the spec."""

    name: str
    overrides: tuple[str, ...]


def _short_name(overrides: Sequence[str]) -> str:
    """``strategy.params.min_net_profit=5`` -> ``min_net_profit=5`` (the last key says which knob)."""
    return ", ".join(f"{o.partition('=')[0].rsplit('.', 1)[-1]}={o.partition('=')[2]}" for o in overrides)


def _sweep_values(text: str) -> tuple[str, list[str]]:
    path, eq, raw = text.partition("=")
    try:
        values = yaml.safe_load(raw) if eq else None
    except yaml.YAMLError:
        values = None
    if not path.strip() or not isinstance(values, list) or not values:
        msg = f"--sweep {text!r}: expected PATH=[V1, V2, ...] (strategy.params.min_net_profit=[1000000, 5000000])"
        raise ConfigError(msg)
    # Each value goes back through the spec loader as PATH=VALUE, as a --set would.
    return path.strip(), [yaml.safe_dump(v, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()
                          for v in values]  # fmt: skip


def variants(sets: Sequence[str] = (), variant_args: Sequence[str] = (), sweeps: Sequence[str] = ()) -> list[Variant]:
    """The runs of a backtest.

    Args:
        sets: ``PATH=VALUE`` overrides of every run.
        variant_args: one run each, ``PATH=VALUE`` overrides separated by ``;`` (on top of ``sets``).
        sweeps: ``PATH=[V1, V2, ...]``: one run per value, every sweep combined with every other (on top of
            ``sets``).

    Returns:
        ``spec`` (the spec with ``sets``) first, then the variants and the sweep's combinations, in order.

    Raises:
        ConfigError: a malformed ``--variant`` or ``--sweep`` (one line).
    """
    base = tuple(sets)
    out = [Variant("spec", base)]
    for text in variant_args:
        extra = tuple(p.strip() for p in text.split(";") if p.strip())
        if not extra:
            msg = f"--variant {text!r}: expected PATH=VALUE[;PATH=VALUE...]"
            raise ConfigError(msg)
        out.append(Variant(_short_name(extra), base + extra))
    if sweeps:
        axes = [_sweep_values(s) for s in sweeps]
        for combo in itertools.product(*(values for _path, values in axes)):
            extra = tuple(f"{path}={v}" for (path, _values), v in zip(axes, combo, strict=True))
            out.append(Variant(_short_name(extra), base + extra))
    names = [v.name for v in out]
    for i, v in enumerate(out):  # two variants that read the same keep distinct names in the tables
        if names.count(v.name) > 1:
            out[i] = Variant(f"{v.name} #{i}", v.overrides)
    return out


@dataclass(slots=True)
class Tally:
    """Opportunities of one group: how many, predicted net profit in raw units of each start token, and in USD."""

    opportunities: int = 0
    net_profit: dict[str, int] = field(default_factory=dict)  # start token -> raw units (exact)
    decimals: dict[str, int] = field(default_factory=dict)  # start token -> decimals
    net_profit_usd: float = 0.0  # display
    gross_profit_usd: float = 0.0  # display

    def add(self, opp: Opportunity) -> None:
        """Count one opportunity."""
        self.opportunities += 1
        self.net_profit[opp.token_in] = self.net_profit.get(opp.token_in, 0) + opp.net_profit
        self.decimals[opp.token_in] = opp.token_in_decimals
        self.net_profit_usd += opp.net_profit_usd
        self.gross_profit_usd += opp.gross_profit_usd


@dataclass(slots=True)
class Summary:
    """What one backtest run found: the totals and the tallies by (strategy, pair)."""

    total: Tally = field(default_factory=Tally)
    by_pair: dict[tuple[str, str], Tally] = field(default_factory=dict)

    def add(self, opp: Opportunity) -> None:
        """Count one opportunity."""
        self.total.add(opp)
        key = (opp.strategy, opp.pair)
        tally = self.by_pair.get(key)
        if tally is None:
            tally = self.by_pair[key] = Tally()
        tally.add(opp)


def summarize(opportunities: Iterable[Opportunity]) -> Summary:
    """Tally a run's opportunities (totals, and by strategy and pair)."""
    summary = Summary()
    for opp in opportunities:
        summary.add(opp)
    return summary


def whole_tokens(raw: int, decimals: int, places: int = 6) -> str:
    """A raw amount in whole tokens, rounded half away from zero to ``places`` decimals (display)."""
    scale = 10**decimals
    sign = "-" if raw < 0 else ""
    q = (abs(raw) * 10**places + scale // 2) // scale
    whole, frac = divmod(q, 10**places)
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"


__all__ = ["Summary", "Tally", "Variant", "summarize", "variants", "whole_tokens"]
