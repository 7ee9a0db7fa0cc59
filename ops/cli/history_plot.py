"""Charts for ``pulsearb history pnl|latency --plot FILE.png`` (matplotlib, Agg backend: no display needed)."""

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
