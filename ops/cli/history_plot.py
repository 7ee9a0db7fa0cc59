"""Charts for ``pulsearb history KIND --plot FILE.png`` (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from sinks.history import Result

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _style(ax: Any) -> None:
    ax.grid(True, axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def plot_pnl(result: Result, path: str, bucket: str) -> None:
    """Realized PnL per period stacked by strategy (bars) and cumulative per strategy (lines)."""
    plt = _pyplot()
    col = {c: i for i, c in enumerate(result.columns)}
    per: dict[str, dict[Any, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[str, int] = defaultdict(int)
    usd = any(r[col["realized_usd"]] for r in result.rows)  # no USD rate (no archived opportunities): raw units
    unit = "USD" if usd else "raw token_in units"
    for r in result.rows:
        value = r[col["realized_usd"]] if usd else r[col["realized_profit"]]
        per[r[col["strategy"]]][r[col["period"]]] += float(value or 0.0)
        counts[r[col["strategy"]]] += int(r[col["executions"]])
    periods = sorted({p for s in per.values() for p in s})
    fig, (bars, cum) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    fig.suptitle(f"Realized PnL per {bucket} and strategy", fontsize=14, fontweight="bold", x=0.06, ha="left")
    note = "USD display estimate" if usd else "raw token_in units (no USD rate archived)"
    fig.text(0.06, 0.925, f"{note}, gross of gas; one execution per opportunity id", color="#666666")
    if not periods:
        bars.text(0.5, 0.5, "no executions in this window", ha="center", va="center", transform=bars.transAxes)
    x = list(range(len(periods)))
    bottom_pos = [0.0] * len(periods)
    bottom_neg = [0.0] * len(periods)
    for i, (strategy, values) in enumerate(sorted(per.items())):
        color = _COLORS[i % len(_COLORS)]
        ys = [values.get(p, 0.0) for p in periods]
        base = [bottom_pos[k] if y >= 0 else bottom_neg[k] for k, y in enumerate(ys)]
        total = sum(ys)
        label = f"{strategy}: {total:+,.4g} {unit} over {counts[strategy]} executions"
        bars.bar(x, ys, bottom=base, color=color, width=0.7, label=label)
        for k, y in enumerate(ys):
            if y >= 0:
                bottom_pos[k] += y
            else:
                bottom_neg[k] += y
        running, acc = [], 0.0
        for y in ys:
            acc += y
            running.append(acc)
        cum.plot(x, running, color=color, marker="o", linewidth=2, markersize=4)
        cum.annotate(
            f"{running[-1]:+,.4g}",
            (x[-1], running[-1]),
            textcoords="offset points",
            xytext=(6, 0),
            va="center",
            color=color,
            fontweight="bold",
        )
    bars.axhline(0, color="#444444", linewidth=0.8)
    cum.axhline(0, color="#444444", linewidth=0.8)
    bars.set_ylabel(f"PnL per {bucket} ({unit})")
    cum.set_ylabel(f"cumulative ({unit})")
    for ax in (bars, cum):
        _style(ax)
    if periods:
        fmt = {"day": "%Y-%m-%d", "hour": "%m-%d %H:00", "minute": "%H:%M"}[bucket]
        step = max(1, len(periods) // 12)
        cum.set_xticks(x[::step], [p.strftime(fmt) for p in periods[::step]], rotation=30, ha="right")
        bars.legend(loc="upper left", frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_latency(result: Result, series: Result | None, path: str) -> None:
    """Per-hop p50/p90/p99 (bars and markers, log scale) and p99 per minute for each hop."""
    plt = _pyplot()
    rows = result.rows
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 6), gridspec_kw={"width_ratios": [5, 6]})
    fig.suptitle("Latency per pipeline hop", fontsize=14, fontweight="bold", x=0.04, ha="left")
    fig.text(0.04, 0.915, "bars: p50 · ◆ p90 · ▲ p99 (ms, log scale); right: p99 per minute", color="#666666")
    hops = [r[0] for r in rows][::-1]
    y = list(range(len(hops)))
    by_hop = {r[0]: r for r in rows}
    floor = 1e-3
    if not rows:
        left.text(0.5, 0.5, "no latency samples in this window", ha="center", va="center", transform=left.transAxes)
    for i, hop in enumerate(hops):
        _, n, p50, p90, p99, _max = by_hop[hop]
        color = _COLORS[i % len(_COLORS)]
        left.barh(i, max(p50, floor), color=color, alpha=0.35, height=0.6)
        left.scatter([max(p90, floor)], [i], marker="D", color=color, s=30, zorder=3)
        left.scatter([max(p99, floor)], [i], marker="^", color=color, s=50, zorder=3)
        left.annotate(
            f"p50 {p50:.2f} · p99 {p99:.2f} ms  (n={n:,})",
            (max(p99, floor), i),
            textcoords="offset points",
            xytext=(8, 0),
            va="center",
            fontsize=8,
            color="#333333",
        )
    left.set_yticks(y, hops)
    left.set_xscale("log")
    left.set_xlabel("ms")
    if rows:
        left.set_xlim(
            left=max(floor, min(max(r[2], floor) for r in rows) / 3), right=max(max(r[4], floor) for r in rows) * 40
        )
    _style(left)
    left.grid(True, axis="x", color="#eeeeee", which="both")
    if series is not None and series.rows:
        per_hop: dict[str, list[tuple[Any, float]]] = defaultdict(list)
        for minute, hop, _n, _p50, p99 in series.rows:
            per_hop[hop].append((minute, max(float(p99), floor)))
        for i, hop in enumerate(hops):
            points = per_hop.get(hop)
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            right.plot(xs, ys, marker="o", markersize=3, linewidth=1.5, color=_COLORS[i % len(_COLORS)], label=hop)
        right.set_yscale("log")
        right.set_ylabel("p99 (ms)")
        right.legend(loc="upper left", fontsize=8, frameon=False, ncol=2)
        import matplotlib.dates as mdates

        minutes = sorted({m for m, *_ in series.rows})
        if len(minutes) == 1:  # one minute of data: keep the axis to a few minutes, not years
            right.set_xlim(minutes[0] - timedelta(minutes=2), minutes[0] + timedelta(minutes=2))
            right.xaxis.set_major_locator(mdates.MinuteLocator())
        right.xaxis.set_major_formatter(
            mdates.DateFormatter("%H:%M" if minutes[-1] - minutes[0] < timedelta(days=1) else "%m-%d %H:%M")
        )
        right.tick_params(axis="x", labelrotation=30)
    else:
        right.text(
            0.5,
            0.5,
            "per-minute series not available\n(--exact reads raw tables)",
            ha="center",
            va="center",
            transform=right.transAxes,
            color="#666666",
        )
    _style(right)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _short_hex(text: str) -> str:
    parts = str(text).split("/")
    return "/".join(f"{p[:6]}…{p[-4:]}" if p.startswith("0x") and len(p) > 12 else p for p in parts)


def _time_axis(ax: Any, times: list[Any]) -> None:
    import matplotlib.dates as mdates

    if not times:
        return
    span = max(times) - min(times)
    if span < timedelta(minutes=1):  # a few seconds of data: keep the axis to a couple of minutes, not years
        ax.set_xlim(min(times) - timedelta(seconds=30), max(times) + timedelta(seconds=30))
    fmt = "%H:%M:%S" if span < timedelta(hours=1) else "%H:%M" if span < timedelta(days=1) else "%m-%d %H:%M"
    ax.xaxis.set_major_formatter(mdates.DateFormatter(fmt))
    ax.tick_params(axis="x", labelrotation=30)


def _column(result: Result, name: str) -> int:
    return result.columns.index(name)


def plot_prices(result: Result, path: str, max_pairs: int = 6) -> None:
    """Price over time per pair (one panel each), one line per market (pool or CEX instrument)."""
    plt = _pyplot()
    c = {name: _column(result, name) for name in ("time", "venue", "market", "pair", "price")}
    series: dict[str, dict[tuple[str, str], list[tuple[Any, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in result.rows:
        series[r[c["pair"]]][(r[c["venue"]], r[c["market"]])].append((r[c["time"]], float(r[c["price"]])))
    pairs = sorted(series, key=lambda p: -sum(len(v) for v in series[p].values()))[:max_pairs]
    fig, axes = plt.subplots(max(1, len(pairs)), 1, figsize=(11, 3.2 * max(1, len(pairs))), squeeze=False)
    fig.suptitle("Prices over time", fontsize=14, fontweight="bold", x=0.06, ha="left")
    if not pairs:
        axes[0][0].text(0.5, 0.5, "no prices in this window", ha="center", va="center", transform=axes[0][0].transAxes)
    for ax, pair in zip([a[0] for a in axes], pairs, strict=False):
        times = []
        for i, ((venue, market), points) in enumerate(sorted(series[pair].items())):
            points.sort()
            xs, ys = zip(*points, strict=True)
            times += xs
            label = f"{venue} {_short_hex(market)} ({len(points)} updates)"
            ax.step(xs, ys, where="post", color=_COLORS[i % len(_COLORS)], linewidth=1.6, label=label)
        unit = "USD per base" if "/" in pair and not pair.startswith("0x") else "2nd token per 1st (whole units)"
        ax.set_title(f"{_short_hex(pair)}  ({unit})", loc="left", fontsize=10)
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        _style(ax)
        _time_axis(ax, times)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_spreads(result: Result, opportunities: dict[str, Result], path: str, max_pairs: int = 4) -> None:
    """Spread (bps) between two venues over time per pair, with the pair's archived opportunities marked on it."""
    plt = _pyplot()
    c = {name: _column(result, name) for name in ("time", "pair", "venue_a", "venue_b", "spread_bps")}
    per: dict[str, list[tuple[Any, float]]] = defaultdict(list)
    sides: dict[str, tuple[str, str]] = {}
    for r in result.rows:
        per[r[c["pair"]]].append((r[c["time"]], float(r[c["spread_bps"]])))
        sides[r[c["pair"]]] = (r[c["venue_a"]], r[c["venue_b"]])
    pairs = sorted(per, key=lambda p: -len(per[p]))[:max_pairs]
    fig, axes = plt.subplots(max(1, len(pairs)), 1, figsize=(11, 3.6 * max(1, len(pairs))), squeeze=False)
    fig.suptitle("Spread between venues, opportunities marked", fontsize=14, fontweight="bold", x=0.06, ha="left")
    if not pairs:
        axes[0][0].text(0.5, 0.5, "no pair quoted on two venues in this window", ha="center", va="center",
                        transform=axes[0][0].transAxes)  # fmt: skip
    for ax, pair in zip([a[0] for a in axes], pairs, strict=False):
        points = sorted(per[pair])
        xs, ys = zip(*points, strict=True)
        a, b = sides[pair]
        ax.step(xs, ys, where="post", color=_COLORS[0], linewidth=1.6, label=f"({a} − {b}) / mid, bps")
        ax.axhline(0, color="#444444", linewidth=0.8)
        marks = _opportunity_marks(opportunities.get(pair), points)
        for i, (strategy, found) in enumerate(sorted(marks.items())):
            mx, my, usd = zip(*found, strict=True)
            total = sum(usd)
            ax.scatter(mx, my, marker="^", s=60, zorder=3, color=_COLORS[(i + 1) % len(_COLORS)],
                       label=f"{strategy} opportunities: {len(found)}, {total:+,.2f} USD net")  # fmt: skip
        ax.set_title(f"{_short_hex(pair)}: {a} vs {b}", loc="left", fontsize=10)
        ax.set_ylabel("spread (bps)")
        ax.legend(loc="best", fontsize=8, framealpha=0.8)
        _style(ax)
        _time_axis(ax, list(xs) + [m[0] for found in marks.values() for m in found])
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=120)
    plt.close(fig)


Mark = tuple[Any, float, float]  # time, spread (bps), net USD


def _opportunity_marks(opps: Result | None, spread: list[tuple[Any, float]]) -> dict[str, list[Mark]]:
    """(time, spread at that time, net USD) of each opportunity, by strategy: placed on the spread line as it
    stood when the opportunity was detected."""
    import bisect

    out: dict[str, list[Mark]] = defaultdict(list)
    if opps is None or not spread:
        return out
    c = {name: _column(opps, name) for name in ("detected", "strategy", "net_usd")}
    times = [t for t, _ in spread]
    for r in opps.rows:
        at = r[c["detected"]]
        i = max(0, bisect.bisect_right(times, at) - 1)
        out[r[c["strategy"]]].append((at, spread[i][1], float(r[c["net_usd"]] or 0.0)))
    return out


def plot_counts(result: Result, time_col: str, group_col: str, path: str, title: str) -> None:
    """Rows per period (minute, hour or day, from the span) stacked by ``group_col``."""
    from sinks.history import bucket_for_span

    plt = _pyplot()
    ti, gi = _column(result, time_col), _column(result, group_col)
    times = [r[ti] for r in result.rows]
    span = (max(times) - min(times)) if times else timedelta(0)
    bucket = bucket_for_span(int(span.total_seconds() * 1e9))
    floor = {"minute": dict(second=0, microsecond=0), "hour": dict(minute=0, second=0, microsecond=0),
             "day": dict(hour=0, minute=0, second=0, microsecond=0)}[bucket]  # fmt: skip
    counts: dict[str, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
    for r in result.rows:
        counts[str(r[gi])][r[ti].replace(**floor)] += 1
    periods = sorted({p for g in counts.values() for p in g})
    fig, ax = plt.subplots(figsize=(11, 5))
    fig.suptitle(title.replace("period", bucket), fontsize=14, fontweight="bold", x=0.06, ha="left")
    if not periods:
        ax.text(0.5, 0.5, "nothing in this window", ha="center", va="center", transform=ax.transAxes)
    x = list(range(len(periods)))
    bottom = [0] * len(periods)
    for i, (group, by_period) in enumerate(sorted(counts.items())):
        ys = [by_period.get(p, 0) for p in periods]
        ax.bar(x, ys, bottom=bottom, color=_COLORS[i % len(_COLORS)], width=0.7, label=f"{group}: {sum(ys):,}")
        bottom = [b + y for b, y in zip(bottom, ys, strict=True)]
    if periods:
        fmt = {"day": "%Y-%m-%d", "hour": "%m-%d %H:00", "minute": "%H:%M"}[bucket]
        step = max(1, len(periods) // 12)
        ax.set_xticks(x[::step], [p.strftime(fmt) for p in periods[::step]], rotation=30, ha="right")
        ax.legend(loc="upper left", frameon=False)
    ax.set_ylabel(f"rows per {bucket}")
    _style(ax)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_reasons(result: Result, path: str, top: int = 15) -> None:
    """Dead letters per flow and reason (the ``--counts`` result), most frequent at the top."""
    plt = _pyplot()
    c = {name: _column(result, name) for name in ("flow", "stage", "reason", "count")}
    rows = sorted(result.rows, key=lambda r: -int(r[c["count"]]))[:top][::-1]
    fig, ax = plt.subplots(figsize=(11, 1.5 + 0.45 * max(1, len(rows))))
    fig.suptitle("Dead letters by reason", fontsize=14, fontweight="bold", x=0.04, ha="left")
    if not rows:
        ax.text(0.5, 0.5, "no dead letters in this window", ha="center", va="center", transform=ax.transAxes)
    labels = [f"{r[c['flow']]}/{r[c['stage']]}: {str(r[c['reason']])[:70]}" for r in rows]
    ax.barh(range(len(rows)), [int(r[c["count"]]) for r in rows], color=_COLORS[3], height=0.6)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.set_xlabel("dead letters")
    _style(ax)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=120)
    plt.close(fig)
