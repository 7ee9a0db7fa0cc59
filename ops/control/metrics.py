"""Read a flow process's Prometheus endpoint and sum the series ``flows status`` shows."""

from __future__ import annotations

import contextlib
import urllib.request

SHOWN = {
    "pulsearb_records_in_total": "in",
    "pulsearb_records_out_total": "out",
    "pulsearb_dead_letters_total": "dead",
    "pulsearb_consumer_lag": "lag",
    "pulsearb_realized_pnl_usd": "pnl_usd",
}


def parse(text: str) -> dict[str, float]:
    """Sum the :data:`SHOWN` series of a Prometheus text exposition over their labels."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in SHOWN:
            with contextlib.suppress(ValueError):
                key = SHOWN[name]
                totals[key] = totals.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return totals


def by_label(text: str, name: str, label: str) -> dict[str, float]:
    """A series of a Prometheus text exposition summed by one label's value (``""`` where it lacks the label)."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith(name) or line[len(name) : len(name) + 1] not in ("{", " "):
            continue
        head, _, value = line.rpartition(" ")
        key = ""
        marker = f'{label}="'
        if marker in head:
            key = head.split(marker, 1)[1].split('"', 1)[0]
        with contextlib.suppress(ValueError):
            totals[key] = totals.get(key, 0.0) + float(value)
    return totals


def exposition(port: int, timeout_s: float = 0.5) -> str | None:
    """The text of ``http://127.0.0.1:<port>/metrics``, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout_s) as resp:
            return resp.read().decode()
    except OSError:
        return None


def scrape(port: int, timeout_s: float = 0.5) -> dict[str, float] | None:
    """Totals from ``http://127.0.0.1:<port>/metrics``, or None when nothing answers."""
    text = exposition(port, timeout_s)
    return None if text is None else parse(text)
