"""`pulsearb history prices|spreads|swaps|dead-letters` on rows archived through the archive writer: real Ethereum
swaps (tests/archive/market_rows.py), Coinbase quotes, and dead letters of real decode failures."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from base.errors import PulsearbError
from flows.deadletter import dead_letter
from flows.opportunity import to_record
from flows.relay.codec import decode_frame
from ops.cli import main
from sinks.clickhouse import connect
from sinks.writer import ArchiveWriter
from tests.archive.market_rows import DAI, T0, USDC, WETH, swap_record, swaps, sync_record
from tests.risk.factories import make_opportunity
from tests.sinks.conftest import migrated
from tests.sinks.records import encode, execution
from tests.sinks.served import served_store

PNG = b"\x89PNG\r\n\x1a\n"
USDC_WETH = "/".join(sorted((USDC, WETH)))
DAI_WETH = "/".join(sorted((DAI, WETH)))


def _quote(i: int, bid: float, ask: float) -> dict:
    """A Coinbase BTC-USD quote (x1e8 fixed point) at the bid and ask of two real trades of 2025-08-22."""
    return {
        "source": 6, "sequence": i, "timestamp_ns": T0 + i * 10**9, "instrument": "102:BTC/USD", "asset_id": 1,
        "venue": 102, "asset_type": 1, "symbol": "BTC/USD", "tlv_type": 2, "bid_price": round(bid * 1e8),
        "bid_size": 10**8, "ask_price": round(ask * 1e8), "ask_size": 10**8, "quote_timestamp_ns": T0 + i * 10**9,
        "trace": {"relay_ns": T0 + i * 10**9},
    }  # fmt: skip


def _dead_letters() -> list[dict]:
    """Dead letters of real failures: bytes the relay codec rejects, as the bridge records them, and two records
    the archive rejected for their header."""
    out = []
    for i, junk in enumerate((b"\x00" * 40, b"\xde\xad\xbe\xef" * 10)):
        with pytest.raises(PulsearbError) as caught:
            decode_frame(junk)
        out.append(dead_letter(flow="bridge", stage="decode", error=caught.value, raw=junk, received_ns=T0 + i))
    why = "payload is not Avro single-object encoded"
    where = {"source_topic": "arb.opportunity", "partition": 0, "offset": 9}
    bad = dead_letter(flow="archive", stage="decode", error=why, raw=b"not avro", received_ns=T0 + 5, **where)
    return [*out, bad, {**bad, "received_ns": T0 + 6, "offset": 10}]


@pytest.fixture(scope="module", params=["embedded", "served"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The rows archived into a store this process opens, or into one a store server owns (as during `up`)."""
    tmp = tmp_path_factory.mktemp("market")
    if request.param == "embedded":
        dsn = migrated(tmp / "store")
        _archive(dsn)
        yield dsn
        return
    with served_store(tmp) as (dsn, _record):
        _archive(dsn)
        yield dsn


def _archive(dsn: str) -> None:
    found = swaps()
    opp_a = make_opportunity(id="a1" * 16, pair=USDC_WETH, detected_ns=found[3].timestamp_ns + 1, net_profit_usd=4.5)
    opp_b = replace(opp_a, id="b2" * 16, strategy="triangular", detected_ns=found[-1].timestamp_ns)
    w = ArchiveWriter(lambda: connect(dsn))
    for topic, recs in (
        ("market.pool_sync", [sync_record(s) for s in found]),
        ("market.pool_swap", [swap_record(s) for s in found]),
        ("market.quote", [_quote(1, 116827.85, 116827.86), _quote(2, 116828.0, 116828.5)]),
        ("arb.opportunity", [to_record(opp_a), to_record(opp_b)]),
        ("arb.execution", [execution(f"x{i}", T0 + i * 20 * 10**9, 10**15 * i) for i in range(6)]),
        ("dlq.bridge", _dead_letters()),
    ):
        w.add_many(topic, 0, list(enumerate(encode(topic, recs))))
    w.close()


def _json(capsys: pytest.CaptureFixture, *args: str) -> list[dict]:
    assert main(["history", *args, "--format", "json"]) == 0
    return [json.loads(x) for x in capsys.readouterr().out.splitlines()]


def test_prices_are_whole_units_per_pool_and_quote(store: str, capsys: pytest.CaptureFixture) -> None:
    found = swaps()
    rows = _json(capsys, "prices", "--dsn", store, "--limit", "100000")
    pools = [r for r in rows if r["source_table"] == "market_pool_sync"]
    assert len(pools) == len(found)
    for pool in {s.pair for s in found}:
        got = sorted(r["price"] for r in pools if r["market"] == pool)
        assert got == pytest.approx(sorted(s.price() for s in found if s.pair == pool), rel=1e-12)
    assert {r["pair"] for r in pools} == {USDC_WETH, DAI_WETH}
    # USDC per WETH would be ~1,000-4,000 in 2020-21: the pair key orders USDC first, so prices are WETH per USDC.
    usdc = [r["price"] for r in pools if r["pair"] == USDC_WETH]
    assert usdc and all(1 / 5000 < p < 1 / 300 for p in usdc)
    cex = [r for r in rows if r["source_table"] == "market_quote"]
    assert [round(r["price"], 3) for r in cex] == [116828.25, 116827.855]  # newest first
    sushi = _json(capsys, "prices", "--dsn", store, "--venue", "sushiswap", "--pair", DAI_WETH, "--no-cex")
    assert sushi and {(r["venue"], r["pair"]) for r in sushi} == {("SUSHISWAP", DAI_WETH)}


def test_spreads_follow_each_venues_latest_price(store: str, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    found = swaps()
    rows = _json(capsys, "spreads", "--dsn", store, "--pair", USDC_WETH, "--limit", "100000")
    # Expected: at every update of either pool, both venues' latest prices (once each has one).
    latest: dict[int, float] = {}
    expected = []
    for s in (x for x in found if x.pair_key == USDC_WETH):
        latest[s.venue] = s.price()
        if len(latest) == 2:
            a, b = latest[302], latest[300]  # venues by name: SUSHISWAP < UNISWAP_V2
            expected.append(round((a - b) / ((a + b) / 2) * 1e4, 3))
    assert [r["spread_bps"] for r in reversed(rows)] == pytest.approx(expected, abs=1e-3)
    assert {(r["venue_a"], r["venue_b"]) for r in rows} == {("SUSHISWAP", "UNISWAP_V2")}
    both = _json(capsys, "spreads", "--dsn", store)
    assert {r["pair"] for r in both} == {USDC_WETH, DAI_WETH}
    chart = tmp_path / "spread.png"
    assert main(["history", "spreads", "--dsn", store, "--pair", USDC_WETH, "--plot", str(chart)]) == 0
    assert chart.read_bytes()[:8] == PNG
    capsys.readouterr()
    assert main(["history", "spreads", "--dsn", store, "--venue", "UNISWAP_V2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "two venues" in err[0]


def test_swaps_and_dead_letters(store: str, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    found = swaps()
    rows = _json(capsys, "swaps", "--dsn", store, "--limit", "100000")
    assert len(rows) == len(found)
    first = next(r for r in rows if r["pool"] == found[0].pair and r["amount_in_raw"] == str(found[0].amount_in))
    assert first["amount_in"] == pytest.approx(found[0].amount_in / 10**18 if found[0].token_in in (WETH, DAI)
                                               else found[0].amount_in / 10**6)  # fmt: skip
    dai = _json(capsys, "swaps", "--dsn", store, "--pair", DAI_WETH, "--venue", "300")
    assert len(dai) == sum(1 for s in found if s.pair_key == DAI_WETH and s.venue == 300)
    dead = _json(capsys, "dead-letters", "--dsn", store)
    assert len(dead) == 4 and {d["flow"] for d in dead} == {"bridge", "archive"}
    counts = _json(capsys, "dead-letters", "--dsn", store, "--counts", "--flow", "archive")
    assert [(c["flow"], c["count"]) for c in counts] == [("archive", 2)]
    for args in (("prices",), ("swaps",), ("dead-letters",), ("dead-letters", "--counts")):
        chart = tmp_path / f"{'-'.join(args)}.png"
        assert main(["history", *args, "--dsn", store, "--plot", str(chart)]) == 0
        assert chart.read_bytes()[:8] == PNG
    capsys.readouterr()


@pytest.mark.parametrize("kind", ["opportunities", "decisions", "executions", "pnl", "latency", "prices",
                                  "spreads", "swaps", "dead-letters"])  # fmt: skip
def test_tables_fit_80_columns_unless_wide(store: str, capsys: pytest.CaptureFixture, monkeypatch, kind: str) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["history", kind, "--dsn", store]) == 0
    narrow = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in narrow) <= 80
    if kind in ("latency", "decisions", "dead-letters"):
        return  # few columns, or long free text that folds within the width
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["history", kind, "--dsn", store]) == 0
    default = capsys.readouterr().out
    assert main(["history", kind, "--dsn", store, "--wide"]) == 0
    wide = capsys.readouterr().out
    assert len(wide.splitlines()[2]) > len(default.splitlines()[2]), "--wide shows more columns"


def test_pnl_bucket_follows_the_span(store: str, capsys: pytest.CaptureFixture) -> None:
    # Six executions 20 s apart: a span of 100 s is cut into minutes, not one day.
    rows = _json(capsys, "pnl", "--dsn", store)
    assert len({r["period"] for r in rows}) == 3  # 08:53:20 to 08:55:00: three minutes
    assert len(_json(capsys, "pnl", "--dsn", store, "--bucket", "day")) == 1
    since = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(T0 // 10**9 - 7 * 86400))
    assert len(_json(capsys, "pnl", "--dsn", store, "--since", since)) == 1  # a week's window: by day
