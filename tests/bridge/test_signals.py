"""Accepted opportunities back to AlphaPulse: ArbitrageSignal (32) values, frames, and the signals relay writer.

The frame bytes are checked twice: decoded by pulsearb's codec to the exact field values, and read field by field
at the reference's packed offsets (alphapulse-protocol.md, ArbitrageSignalTLV: 170 bytes, ``#[repr(C, packed)]``)
with ``struct`` in this file, independently of the codec's layout table.
"""

from __future__ import annotations

import struct
import threading
import time
import zlib
from dataclasses import replace
from pathlib import Path

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main

from base.errors import FrameError
from flows.connectors.signals import SignalSink, SignalWriter
from flows.opportunity import InputState, Opportunity
from flows.relay.client import Backoff, RelayClient
from flows.relay.codec import ChecksumPolicy, Frame, decode_frame
from flows.relay.protocol import RelayDomain
from flows.relay.server import RelayServer
from flows.relay.tlv import ArbitrageSignal
from flows.signals import SignalParams, arbitrage_signal, maybe_signal, signal_frame, signal_id
from tests.relay.helpers import QUICKSWAP_WMATIC_USDC, UNIV3_USDC_WETH, USDC, WETH

NOW = 1_755_893_490_012_637_000
OPP_ID = "9f1c2e3d4b5a69788796a5b4c3d2e1f0"


def _opportunity(**changes) -> Opportunity:
    """10,000 USDC -> WETH on QuickSwap -> USDC on Uniswap V3: 50 USDC gross, 0.2 gas, 9 flash fee, $1/USDC."""
    opp = Opportunity(
        id=OPP_ID,
        flow="cross_dex",
        strategy="cross_dex",
        pair=f"{USDC}/{WETH}",
        chain_id=137,
        token_in=USDC,
        token_in_decimals=6,
        path=(USDC, WETH, USDC),
        pools=(QUICKSWAP_WMATIC_USDC, UNIV3_USDC_WETH),
        venues=(400, 301),
        fees_bps=(30, 30),
        amount_in=10_000_000_000,
        amount_out=10_050_000_000,
        gas_estimate=150_000,
        gas_price_wei=30 * 10**9,
        gas_cost=200_000,
        flash_fee=9_000_000,
        gross_profit_usd=50.0,
        net_profit_usd=40.8,
        inputs=(
            InputState(QUICKSWAP_WMATIC_USDC, 50_000_000, 4, 1, NOW),
            InputState(UNIV3_USDC_WETH, 50_000_000, 4, 2, NOW),
        ),
        block_number=50_000_000,
        detected_ns=NOW,
        valid_until_ns=NOW + 12_500_000_000,
    )  # fmt: skip
    return replace(opp, **changes)


# Hand-computed from the opportunity above (flows/signals.py says how each field is derived):
# pool fees = 10_000_000_000*30//10_000 + 10_050_000_000*30//9_970 = 30_000_000 + 30_240_722 raw USDC;
# USD x1e8 of raw USDC at $1 = raw * 100.
EXPECTED = {
    "strategy_id": 21,
    "signal_id": 0x9F1C2E3D4B5A6978,
    "chain_id": 137,
    "source_pool": QUICKSWAP_WMATIC_USDC,
    "target_pool": UNIV3_USDC_WETH,
    "source_venue": 400,
    "target_venue": 301,
    "token_in": USDC,
    "token_out": WETH,
    "expected_profit_usd_q8": 11_024_072_200,  # net + fees + gas = (40.8 + 69.240722 + 0.2) USD
    "required_capital_usd_q8": 1_000_000_000_000,  # 10,000 USD
    "spread_bps": 110,  # (50 + 60.240722) / 10,000 in bps, floored
    "dex_fees_usd_q8": 6_924_072_200,  # pool fees 60.240722 + flash fee 9 USD
    "gas_cost_usd_q8": 20_000_000,  # 0.2 USD
    "slippage_usd_q8": 0,
    "net_profit_usd_q8": 4_080_000_000,  # 40.8 USD
    "slippage_tolerance_bps": 50,
    "max_gas_price_gwei": 100,
    "valid_until": 1_755_893_502,  # (NOW + 12.5 s) in whole seconds
    "priority": 1100,
    "reserved": 0,
    "timestamp_ns": NOW,
}

# The reference's table: name, offset, struct code (little-endian, packed).
REFERENCE_LAYOUT = [
    ("strategy_id", 0, "H"),
    ("signal_id", 2, "Q"),
    ("chain_id", 10, "I"),
    ("source_pool", 14, "20s"),
    ("target_pool", 34, "20s"),
    ("source_venue", 54, "H"),
    ("target_venue", 56, "H"),
    ("token_in", 58, "20s"),
    ("token_out", 78, "20s"),
    ("expected_profit_usd_q8", 98, "q"),
    ("required_capital_usd_q8", 106, "q"),
    ("spread_bps", 114, "H"),
    ("dex_fees_usd_q8", 116, "q"),
    ("gas_cost_usd_q8", 124, "q"),
    ("slippage_usd_q8", 132, "q"),
    ("net_profit_usd_q8", 140, "q"),
    ("slippage_tolerance_bps", 148, "H"),
    ("max_gas_price_gwei", 150, "I"),
    ("valid_until", 154, "I"),
    ("priority", 158, "H"),
    ("reserved", 160, "H"),
    ("timestamp_ns", 162, "Q"),
]


def _read_reference(frame: bytes) -> dict:
    """Parse a one-signal frame with the reference layout only."""
    assert len(frame) == 32 + 2 + 170
    assert frame[:4] == b"\xef\xbe\xad\xde" and frame[4] == 2 and int.from_bytes(frame[24:28], "little") == 172
    assert (frame[32], frame[33]) == (32, 170)
    value = frame[34:]
    out = {}
    for name, offset, code in REFERENCE_LAYOUT:
        (v,) = struct.unpack_from("<" + code, value, offset)
        out[name] = "0x" + v.hex() if isinstance(v, bytes) else v
    assert 162 + 8 == len(value) == 170
    return out


def test_signal_fields_follow_the_reference_conventions() -> None:
    signal = arbitrage_signal(_opportunity(), now_ns=NOW)
    assert {name: getattr(signal, name) for name in EXPECTED} == EXPECTED
    assert maybe_signal(_opportunity(), now_ns=NOW) == signal
    s = signal
    assert s.net_profit_usd_q8 == s.expected_profit_usd_q8 - s.dex_fees_usd_q8 - s.gas_cost_usd_q8 - s.slippage_usd_q8


def test_frame_decodes_to_the_exact_values_with_our_codec_and_the_reference_layout() -> None:
    signal = arbitrage_signal(_opportunity(), now_ns=NOW)
    raw = signal_frame(signal, sequence=7, timestamp_ns=NOW + 1)
    decoded = decode_frame(raw, policy=ChecksumPolicy.every(allow_zero=False))
    assert decoded.checksum_ok is True
    h = decoded.header
    assert (h.relay_domain, h.version, h.source, h.sequence, h.timestamp, h.payload_size) == (2, 1, 20, 7, NOW + 1, 172)
    assert h.checksum == zlib.crc32(raw[:28] + raw[32:])
    assert decoded.tlvs == (signal,)
    assert _read_reference(raw) == EXPECTED


def test_checksum_zero_mimics_alphapulse_hot_path_builder() -> None:
    signal = arbitrage_signal(_opportunity(), now_ns=NOW)
    raw = signal_frame(signal, sequence=1, timestamp_ns=NOW, params=SignalParams(checksum=False))
    assert raw[28:32] == b"\x00\x00\x00\x00"
    assert decode_frame(raw, policy=ChecksumPolicy.every()).tlvs == (signal,)
    assert _read_reference(raw) == EXPECTED


def test_configured_usd_price_and_spread_override() -> None:
    opp = _opportunity(gross_profit_usd=0.0, net_profit_usd=0.0)  # no display price on the opportunity
    assert arbitrage_signal(opp, now_ns=NOW).net_profit_usd_q8 == 0  # nothing to price it with
    params = SignalParams(usd_per_token={USDC: 0.9998}, strategy_id=7, max_gas_price_gwei=300)
    s = arbitrage_signal(opp, now_ns=NOW, params=params, spread_bps=10_000)
    assert s.net_profit_usd_q8 == 4_079_184_000  # 40.8 USDC at 0.9998
    assert s.required_capital_usd_q8 == 999_800_000_000
    assert (s.strategy_id, s.max_gas_price_gwei, s.spread_bps, s.priority) == (7, 300, 10_000, 65_535)


def test_signal_id_is_the_opportunity_id_prefix_or_a_hash() -> None:
    assert signal_id(OPP_ID) == 0x9F1C2E3D4B5A6978
    assert signal_id("not-hex-at-all") == signal_id("not-hex-at-all") < 2**64


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pools": ("a", "b", "c")}, "carries two pools"),
        ({"pools": ("102:BTC/USD", UNIV3_USDC_WETH)}, "needs 20-byte addresses"),
        ({"chain_id": 2**32}, "chain_id"),
        ({"gross_profit_usd": 1e12}, "USD x1e8 value"),
    ],
)
def test_opportunities_a_signal_cannot_carry_are_refused_in_one_line(changes: dict, message: str) -> None:
    with pytest.raises(FrameError, match=message) as info:
        arbitrage_signal(_opportunity(**changes), now_ns=NOW)
    assert "\n" not in str(info.value)
    assert maybe_signal(_opportunity(**changes), now_ns=NOW) is None


# --- the writer, against pulsearb's relay (AlphaPulse's semantics: echo to every client, the sender included) ---


def _signals(n: int, valid_until: int = 4_000_000_000) -> list[ArbitrageSignal]:
    base = arbitrage_signal(_opportunity(), now_ns=NOW)
    return [replace(base, signal_id=i, valid_until=valid_until) for i in range(1, n + 1)]


def _consumer(relay: RelayServer, out: list[Frame], clients: int = 1) -> tuple[RelayClient, threading.Thread]:
    """A RelayClient collecting frames on a thread; returns once the relay serves ``clients`` clients, this one
    included (so it misses nothing sent afterwards)."""
    client = RelayClient(relay.socket_path(RelayDomain.SIGNAL), connect_timeout_s=5)
    thread = threading.Thread(target=lambda: out.extend(client.frames()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not client.connected or relay.stats(RelayDomain.SIGNAL).clients < clients:
        assert time.monotonic() < deadline, "consumer did not connect"
        time.sleep(0.005)
    return client, thread


def test_writer_delivers_frames_in_order_and_drains_the_echo(sock_dir: Path) -> None:
    got: list[Frame] = []
    with RelayServer(sock_dir, domains=(RelayDomain.SIGNAL,)) as relay:
        client, thread = _consumer(relay, got)
        with SignalWriter(relay.socket_path(RelayDomain.SIGNAL), clock=lambda: NOW) as writer:
            for s in _signals(50):
                writer.submit(s)
            deadline = time.monotonic() + 10
            while (len(got) < 50 or writer.stats.echo_bytes < 50 * 204) and time.monotonic() < deadline:
                time.sleep(0.01)
        client.close()
        thread.join(timeout=5)
    assert [f.tlvs[0].signal_id for f in got] == list(range(1, 51))
    assert [f.header.sequence for f in got] == list(range(1, 51))
    assert all(f.header.relay_domain == 2 and f.header.source == 20 for f in got)
    assert writer.stats.sent == 50 and writer.stats.dropped == 0
    assert writer.stats.echo_bytes == 50 * 204  # its own frames came back and were discarded


def test_missing_relay_is_counted_not_fatal_and_pending_signals_go_out_when_it_appears(sock_dir: Path) -> None:
    path = sock_dir / "signals-link.sock"  # becomes a link to the relay's socket once a consumer is listening
    now = [NOW]
    writer = SignalWriter(path, backoff=Backoff(initial_s=0.01, max_s=0.05), clock=lambda: now[0]).start()
    try:
        started = time.monotonic()
        fresh, stale = _signals(3), _signals(1, valid_until=NOW // 10**9 - 1)
        for s in [*stale, *fresh]:
            writer.submit(s)  # no relay: queued, never blocking
        assert time.monotonic() - started < 0.2
        deadline = time.monotonic() + 5
        while writer.stats.failed_connects < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert writer.pending == 4 and not writer.connected
        got: list[Frame] = []
        with RelayServer(sock_dir / "relay", domains=(RelayDomain.SIGNAL,)) as relay:
            client, thread = _consumer(relay, got)
            path.symlink_to(relay.socket_path(RelayDomain.SIGNAL))
            deadline = time.monotonic() + 10
            while len(got) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            client.close()
            thread.join(timeout=5)
    finally:
        writer.close()
    assert [f.tlvs[0].signal_id for f in got] == [1, 2, 3]
    assert writer.stats.dropped_expired == 1 and writer.stats.sent == 3


def test_relay_restart_reconnects_and_later_signals_get_through(sock_dir: Path) -> None:
    writer = SignalWriter(sock_dir / "signals.sock", backoff=Backoff(initial_s=0.01, max_s=0.05), clock=lambda: NOW)
    with RelayServer(sock_dir, domains=(RelayDomain.SIGNAL,)):
        writer.start()
        deadline = time.monotonic() + 5
        while not writer.connected:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    got: list[Frame] = []
    try:
        with RelayServer(sock_dir, domains=(RelayDomain.SIGNAL,)) as relay:
            deadline = time.monotonic() + 10
            while not (writer.connected and writer.stats.reconnects):
                assert time.monotonic() < deadline
                time.sleep(0.01)
            client, thread = _consumer(relay, got, clients=2)
            for s in _signals(2):
                writer.submit(s)
            while len(got) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            client.close()
            thread.join(timeout=5)
    finally:
        writer.close()
    assert [f.tlvs[0].signal_id for f in got] == [1, 2]
    assert writer.stats.reconnects == 1 and writer.stats.disconnects >= 1


def test_signal_sink_in_a_dataflow(sock_dir: Path) -> None:
    got: list[Frame] = []
    with RelayServer(sock_dir, domains=(RelayDomain.SIGNAL,)) as relay:
        client, thread = _consumer(relay, got)
        flow = Dataflow("signals_sink_test")
        stream = op.input("in", flow, TestingSource(_signals(20)))
        op.output("signals", stream, SignalSink(str(relay.socket_path(RelayDomain.SIGNAL)), "signals_sink_test"))
        run_main(flow)  # the sink's close sends what is queued before returning
        deadline = time.monotonic() + 10
        while len(got) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        client.close()
        thread.join(timeout=5)
    assert sorted(f.tlvs[0].signal_id for f in got) == list(range(1, 21))
    assert sorted(f.header.sequence for f in got) == list(range(1, 21))
