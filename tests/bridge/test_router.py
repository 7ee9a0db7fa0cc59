"""flows.bridge.Router: every TLV to its topic and key, every failure to a dead letter with bytes, reason, offset.

Pure tests (no broker): the Router's output is decoded with the topics' Avro codecs and compared field by field.
The property test feeds mixed streams, randomly re-chunked, through the bridge's framer and the Router and checks
that good frames come out exactly once and that good frames and dead letters tile the stream byte for byte.
"""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.bridge import ROUTES, Router, route_frame
from flows.relay.codec import ChecksumPolicy, decode_frame
from flows.relay.framing import DeadFrame, Framer
from flows.relay.tlv import Heartbeat, PoolSync, UnknownTlv
from schemas.serde import codec, from_u256
from tests.bridge.streams import RAW_KINDS, TOPIC_OF, TS, Piece, frame, mixed
from tests.relay.helpers import QUICKSWAP_WMATIC_USDC, USDC, WMATIC, sample_tlvs

POLICY = ChecksumPolicy.every()  # the bridge's policy (flows/builders/bridge.py)


def _decode(out: tuple[str, bytes | None, bytes]) -> tuple[str, str | None, dict]:
    topic, key, value = out
    return topic, key.decode() if key is not None else None, codec(topic).decode(value)


KEYS = {
    "PoolSync": QUICKSWAP_WMATIC_USDC,
    "PoolSwap": "0x45dda9cb7c25131df268515131f647d726f50608",
    "PoolState": "0x45dda9cb7c25131df268515131f647d726f50608",
    "PoolMint": QUICKSWAP_WMATIC_USDC,
    "PoolBurn": "0x45dda9cb7c25131df268515131f647d726f50608",
    "PoolLiquidity": QUICKSWAP_WMATIC_USDC,
    "Trade": "102:BTC/USD",
    "Quote": "102:BTC/USD",
    "QuoteUpdate": "101:ETH/USD",
    "GasPrice": "137",
    "PoolInfo": QUICKSWAP_WMATIC_USDC,
}


@pytest.mark.parametrize("name", sorted(TOPIC_OF))
def test_every_market_tlv_goes_to_its_topic_under_its_key(name: str) -> None:
    raw = frame(sample_tlvs()[name], 7)
    router = Router("bridge", clock=lambda: TS + 99)
    (out,) = router.route([decode_frame(raw)], received_ns=TS + 50)
    topic, key, rec = _decode(out)
    assert (topic, key) == (TOPIC_OF[name], KEYS[name])
    assert (rec["source"], rec["sequence"], rec["timestamp_ns"]) == (4, 7, TS + 7)
    assert rec["trace"] == {"relay_ns": TS + 7, "bridge_in_ns": TS + 50, "bridge_out_ns": TS + 99}
    assert router.frames == 1 and sum(router.dead.values()) == 0


def test_pool_sync_record_holds_the_exact_values() -> None:
    tlv = PoolSync(2**128 - 1, 987_654_321_098, TS, 50_000_000, 400, 18, 6, QUICKSWAP_WMATIC_USDC, WMATIC, USDC)
    (out,) = Router("bridge").route([decode_frame(frame(tlv, 3))], received_ns=TS)
    _, _, rec = _decode(out)
    assert from_u256(rec["reserve0"]) == 2**128 - 1
    assert from_u256(rec["reserve1"]) == 987_654_321_098
    assert (rec["pool"], rec["token0"], rec["token1"]) == (QUICKSWAP_WMATIC_USDC, WMATIC, USDC)
    assert (rec["venue"], rec["token0_decimals"], rec["token1_decimals"]) == (400, 18, 6)
    assert (rec["block_number"], rec["event_timestamp_ns"]) == (50_000_000, TS)


def test_route_frame_matches_the_router() -> None:
    for name in TOPIC_OF:
        f = decode_frame(frame(sample_tlvs()[name], 1))
        (routed,), unroutable = route_frame(f, {"relay_ns": 1})
        assert unroutable == []
        assert routed.topic == TOPIC_OF[name] and routed.key == KEYS[name]
        assert type(f.tlvs[0]) in ROUTES


def test_unroutable_tlvs_make_one_dead_letter_with_the_whole_frame() -> None:
    s = sample_tlvs()
    tlvs = [s["PoolSync"], s["ArbitrageSignal"], Heartbeat(TS, 1), UnknownTlv(77, b"\x01\x02"), s["OrderBook"]]
    from flows.relay.codec import encode_frame

    raw = encode_frame(1, 4, tlvs, sequence=9, timestamp_ns=TS)
    f = decode_frame(raw, base=1000)
    router = Router("bridge")
    out = router.route([f], received_ns=TS)
    assert [o[0] for o in out] == ["market.pool_sync", "dlq.relay"]
    _, key, dead = _decode(out[1])
    assert key is None
    assert dead["stage"] == "route" and dead["error_class"] == "Unroutable"
    assert dead["reason"] == "no topic for TLV ArbitrageSignal(32), unknown(77), OrderBook(3)"
    assert (dead["raw"], dead["offset"], dead["received_ns"], dead["flow"]) == (raw, 1000, TS, "bridge")
    assert router.dead == {"frame": 0, "route": 1, "encode": 0}


def test_heartbeats_are_neither_routed_nor_dead_letters() -> None:
    f = decode_frame(frame(Heartbeat(TS, 3), 1))
    assert Router("bridge").route([f], received_ns=TS) == []


def test_a_frame_of_another_domain_is_a_dead_letter() -> None:
    raw = frame(sample_tlvs()["PoolSync"], 5, domain=3)
    (out,) = Router("bridge").route([decode_frame(raw)], received_ns=TS)
    _, _, dead = _decode(out)
    assert (dead["stage"], dead["raw"]) == ("route", raw)
    assert dead["reason"] == "relay domain 3 frame on the domain 1 relay"


@pytest.mark.parametrize(
    ("tlv", "sequence", "error_class"),
    [
        (sample_tlvs()["PoolSync"], 2**63, "SchemaError"),  # u64 sequence beyond Avro long
        (sample_tlvs()["PoolTick"], 1, "SchemaError"),  # PoolTick.price_sqrt 2**63 + 5: no branch of ["null", "long"]
    ],
)
def test_a_value_avro_cannot_hold_is_an_encode_dead_letter(tlv, sequence: int, error_class: str) -> None:
    raw = frame(tlv, sequence)
    router = Router("bridge")
    (out,) = router.route([decode_frame(raw, base=64)], received_ns=TS)
    topic, _, dead = _decode(out)
    assert topic == "dlq.relay"
    assert (dead["stage"], dead["error_class"], dead["raw"], dead["offset"]) == ("encode", error_class, raw, 64)
    assert dead["reason"].startswith(f"{tlv.NAME}({tlv.TYPE}): ")
    assert router.dead["encode"] == 1


def test_dead_frames_keep_their_bytes_reason_and_offset() -> None:
    router = Router("bridge", dlq_topic="dlq.bridge_test")
    (out,) = router.route([DeadFrame(b"\x00garbage", "no magic", 4242)], received_ns=TS)
    topic, _, dead = _decode(out)
    assert topic == "dlq.bridge_test"
    assert (dead["stage"], dead["error_class"], dead["reason"]) == ("frame", "FrameError", "no magic")
    assert (dead["raw"], dead["offset"], dead["source_topic"], dead["partition"]) == (b"\x00garbage", 4242, None, None)


def _run(pieces: list[Piece], cuts: list[int]) -> tuple[list, int]:
    """Feed the stream cut at ``cuts`` through the bridge's framer and a Router; return (decoded outputs, bytes)."""
    stream = b"".join(p.raw for p in pieces)
    framer, router = Framer(POLICY), Router("bridge")
    out = []
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(stream)), len(stream)]
    for a, b in itertools.pairwise(bounds):
        out += router.route(framer.feed(stream[a:b]), received_ns=TS)
    out += router.route(framer.flush(), received_ns=TS)
    return [_decode(o) for o in out], len(stream)


def _check_tiling(pieces: list[Piece], decoded: list, size: int) -> None:
    """Delivered frames (at their known offsets) and frame-stage dead letters cover the stream exactly once."""
    stream = b"".join(p.raw for p in pieces)
    spans, pos = [], 0
    for p in pieces:
        if p.raw_fate != "frame":
            spans.append((pos, len(p.raw)))
        pos += len(p.raw)
    for topic, _, rec in decoded:
        if topic == "dlq.relay" and rec["stage"] == "frame":
            assert stream[rec["offset"] : rec["offset"] + len(rec["raw"])] == rec["raw"]
            spans.append((rec["offset"], len(rec["raw"])))
    spans.sort()
    pos = 0
    for start, length in spans:
        assert start == pos, f"gap or overlap at byte {pos}"
        pos = start + length
    assert pos == size


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(0, 20_000), max_size=30))
def test_mixed_streams_reconcile_whatever_the_chunking(seed: int, cuts: list[int]) -> None:
    rng = random.Random(seed)
    pieces = mixed(rng, goods=rng.randrange(1, 40), kinds=RAW_KINDS, bad_every=rng.randrange(1, 4))
    if rng.random() < 0.5:  # a frame whose header was cut: only ever the stream's last bytes
        pieces.append(Piece(frame(sample_tlvs()["PoolSync"], 999)[: rng.randrange(1, 32)], "relay", "frame"))
    decoded, size = _run(pieces, cuts)

    delivered = sorted((t, r["sequence"]) for t, _, r in decoded if not t.startswith("dlq."))
    assert delivered == sorted((p.topic, p.sequence) for p in pieces if p.raw_fate == "deliver")
    by_stage = {s: [r for t, _, r in decoded if t == "dlq.relay" and r["stage"] == s] for s in ("route", "encode")}
    for stage, dead in by_stage.items():
        assert sorted(r["raw"] for r in dead) == sorted(p.raw for p in pieces if p.raw_fate == stage)
    _check_tiling(pieces, decoded, size)
