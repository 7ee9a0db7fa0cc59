"""The Router's fast path writes exactly what its general path writes, over generated streams good and bad.

``Router(fast=True)`` (the bridge) sends PoolSync, PoolSwap, Quote, QuoteUpdate and Trade straight from the decoded
TLV to a positional values encoder; ``Router(fast=False)`` routes everything the general way (record dict, then the
topic's encoder), which is the path the fast one must equal. Hypothesis builds relay streams of valid frames of
every TLV type (the hot ones drawn most), multi-TLV frames, extended TLV headers, other relay domains, header
values past the Avro long range, unknown versions and TLV types, checksum mismatches, cut frames and garbage, cuts
them into random chunks, runs them through the bridge's framer once, and routes every chunk with both routers under
the same clock: the (topic, key, value) lists, the frame counts and the dead-letter counts must be identical.
Every frame the framer returns must also equal ``decode_frame`` of its bytes (the framer's own decode shortcut).
"""

from __future__ import annotations

import itertools
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from base.errors import FrameError
from flows.bridge import FAST_ROUTES, ROUTES, Router
from flows.relay.codec import ChecksumPolicy, Frame, decode_frame, encode_frame
from flows.relay.framing import Framer
from flows.relay.header import HEADER_STRUCT, MAGIC
from flows.relay.protocol import RelayDomain
from flows.relay.tlv import TLV_CLASSES, PoolSwap, PoolSync, Quote, QuoteUpdate, Tlv, Trade, UnknownTlv
from tests.bridge.streams import TS, frame
from tests.relay.helpers import sample_tlvs, tlv_strategy

HOT = [PoolSync, PoolSwap, Quote, QuoteUpdate, Trade]
BY_TYPE = sorted(TLV_CLASSES.values(), key=lambda c: c.TYPE)
POLICIES = [ChecksumPolicy.every(), ChecksumPolicy(), ChecksumPolicy.none(), ChecksumPolicy.every(allow_zero=False)]

hot_tlvs = st.sampled_from(HOT).flatmap(tlv_strategy)
any_tlv = st.one_of(
    hot_tlvs,
    st.sampled_from(BY_TYPE).flatmap(tlv_strategy),
    st.builds(UnknownTlv, st.integers(0, 254), st.binary(max_size=300)),
)
#: Header values near the bench's and anywhere in u64 (past 2**63 - 1 an Avro long cannot hold them).
u64s = st.one_of(
    st.integers(0, 1000), st.integers(TS - 10**9, TS + 10**9), st.integers(0, 2**63 - 1), st.integers(0, 2**64 - 1)
)


@st.composite
def headers(draw: st.DrawFn) -> dict:
    """encode_frame keyword arguments for one frame: mostly market data, version 1, CRC on."""
    return {
        "domain": draw(st.sampled_from([RelayDomain.MARKET_DATA] * 6 + list(RelayDomain))),
        "source": draw(st.integers(0, 255)),
        "sequence": draw(u64s),
        "timestamp_ns": draw(u64s),
        "checksum": draw(st.booleans() | st.just(True)),
        "version": draw(st.sampled_from([1] * 8 + [2])),
    }


def _extended(tlv: Tlv, h: dict) -> bytes:
    """A frame holding ``tlv`` behind an extended TLV header ([255][0][type][len u16]) whatever its size."""
    value = tlv.encode()
    payload = bytes((255, 0, tlv.wire_type)) + len(value).to_bytes(2, "little") + value
    head = HEADER_STRUCT.pack(MAGIC, h["domain"], 1, h["source"], 0, h["sequence"], h["timestamp_ns"], len(payload), 0)
    crc = zlib.crc32(payload, zlib.crc32(head[:28])) if h["checksum"] else 0
    return head[:28] + crc.to_bytes(4, "little") + payload


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """One piece of a relay stream: a valid frame of some shape, a damaged one, or garbage."""
    kind = draw(st.sampled_from(["hot"] * 6 + ["one", "many", "extended", "corrupt", "cut", "garbage"]))
    if kind == "garbage":
        return draw(st.binary(min_size=1, max_size=80))
    h = draw(headers())
    if kind == "extended":
        return _extended(draw(any_tlv.filter(lambda t: len(t.encode()) <= 65535)), h)
    tlvs = [draw(hot_tlvs)] if kind in ("hot", "corrupt", "cut") else []
    if kind == "one":
        tlvs = [draw(any_tlv)]
    elif kind == "many":
        tlvs = draw(st.lists(any_tlv, min_size=0, max_size=4))
    try:
        raw = encode_frame(
            h["domain"],
            h["source"],
            tlvs,
            sequence=h["sequence"],
            timestamp_ns=h["timestamp_ns"],
            checksum=h["checksum"],
            version=h["version"],
        )
    except FrameError:
        return draw(st.binary(min_size=1, max_size=40))  # a payload above the domain limit: garbage instead
    if kind == "corrupt":
        buf = bytearray(raw)
        buf[draw(st.integers(0, len(buf) - 1))] ^= 1 << draw(st.integers(0, 7))
        raw = bytes(buf)
    elif kind == "cut":
        raw = raw[: draw(st.integers(1, len(raw) - 1))]
    return raw


def _counter(start: int):
    return itertools.count(start).__next__


def _outcome(router: Router, items: list, received: int) -> object:
    """What ``route`` returns, or the error it raises (a ``received_ns`` no Avro long holds fails dead letters)."""
    try:
        return router.route(items, received)
    except Exception as exc:
        return type(exc), str(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    pieces=st.lists(messages(), min_size=1, max_size=25),
    cuts=st.lists(st.integers(0, 6000), max_size=12),
    policy=st.sampled_from(POLICIES),
    received=st.one_of(st.just(TS + 50), u64s, st.integers(-(2**64), -1)),
    clock_start=st.one_of(st.just(TS + 99), u64s),
)
def test_fast_path_output_is_the_general_paths_byte_for_byte(
    pieces: list[bytes], cuts: list[int], policy: ChecksumPolicy, received: int, clock_start: int
) -> None:
    stream = b"".join(pieces)
    framer = Framer(policy)
    fast = Router("bridge", clock=_counter(clock_start))
    ref = Router("bridge", clock=_counter(clock_start), fast=False)
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(stream)), len(stream)]
    chunks = [framer.feed(stream[a:b]) for a, b in itertools.pairwise(bounds)] + [framer.flush()]
    unknown = 0
    for items in chunks:
        for item in items:
            if type(item) is Frame:
                assert item == decode_frame(item.raw, policy=policy)
                assert stream[item.offset : item.offset + len(item.raw)] == item.raw
                unknown += sum(type(t) is UnknownTlv for t in item.tlvs)
        assert _outcome(fast, items, received) == _outcome(ref, items, received)
    assert framer.unknown_tlvs == unknown
    assert (fast.frames, fast.dead) == (ref.frames, ref.dead)


def test_the_hot_tlvs_take_the_fast_path() -> None:
    """Without the general path the hot TLVs still come out (so the property test compares two real paths)."""
    router = Router("bridge", clock=lambda: TS + 99)
    reference = Router("bridge", clock=lambda: TS + 99, fast=False)

    def no_general(*args: object) -> None:
        raise AssertionError("general path taken")

    router._route_general = no_general  # type: ignore[method-assign]
    for cls in HOT:
        tlv = sample_tlvs()[cls.NAME]
        items = [decode_frame(frame(tlv, 7))]
        assert router.route(items, TS + 50) == reference.route(items, TS + 50)
    assert set(FAST_ROUTES) == set(HOT) and set(FAST_ROUTES) <= set(ROUTES)


def test_values_out_of_range_leave_the_fast_path_for_the_same_dead_letter() -> None:
    """A u64 sequence above 2**63 - 1 fits no Avro long: both paths write the same encode-stage dead letter."""
    raw = encode_frame(RelayDomain.MARKET_DATA, 4, [sample_tlvs()["PoolSync"]], sequence=2**64 - 1, timestamp_ns=TS)
    items = [decode_frame(raw)]
    fast, ref = Router("bridge", clock=lambda: TS), Router("bridge", clock=lambda: TS, fast=False)
    (out,) = fast.route(items, TS)
    assert out[0] == "dlq.relay" and fast.dead["encode"] == 1
    assert [out] == ref.route(items, TS)


def _fed(router: Router, chunk: bytes | None, received: int) -> object:
    """What ``feed`` (or ``flush`` for None) returns, or the error it raises."""
    try:
        return router.feed(chunk, received) if chunk is not None else router.flush(received)
    except Exception as exc:
        return type(exc), str(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    pieces=st.lists(messages(), min_size=1, max_size=25),
    cuts=st.lists(st.integers(0, 6000), max_size=12),
    policy=st.sampled_from(POLICIES),
    received=st.one_of(st.just(TS + 50), u64s, st.integers(-(2**64), -1)),
    clock_start=st.one_of(st.just(TS + 99), u64s),
)
def test_reads_through_the_framer_shortcuts_are_the_reference_byte_for_byte(
    pieces: list[bytes], cuts: list[int], policy: ChecksumPolicy, received: int, clock_start: int
) -> None:
    """Router.feed (shortcuts: hot frames' bytes straight to records) equals framing then the general route."""
    stream = b"".join(pieces)
    fast = Router("bridge", clock=_counter(clock_start), policy=policy)
    ref = Router("bridge", clock=_counter(clock_start), fast=False, policy=policy)
    assert fast.framer.shortcuts and not ref.framer.shortcuts
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(stream)), len(stream)]
    for chunk in [stream[a:b] for a, b in itertools.pairwise(bounds)] + [None]:
        assert _fed(fast, chunk, received) == _fed(ref, chunk, received)
    assert (fast.frames, fast.dead) == (ref.frames, ref.dead)
    for counter in ("bytes", "frames", "dead", "dead_bytes", "hellos", "unknown_tlvs", "pending"):
        assert getattr(fast.framer, counter) == getattr(ref.framer, counter), counter


def test_the_hot_frames_skip_decoding_in_feed(monkeypatch) -> None:
    """Fed as bytes, hot frames build no Frame and take no general route; the rest still does, in stream order."""
    import flows.relay.framing as framing

    reference = Router("bridge", clock=_counter(TS + 99), fast=False)
    hot = b"".join(frame(sample_tlvs()[cls.NAME], i + 1) for i, cls in enumerate(HOT))
    gas = frame(sample_tlvs()["GasPrice"], 9)
    expected = reference.feed(hot + gas + hot, TS + 50)
    decoded = []
    real_decode = framing.decode_checked

    def counting_decode(*args: object) -> Frame:
        decoded.append(args)
        return real_decode(*args)

    monkeypatch.setattr(framing, "decode_checked", counting_decode)
    router = Router("bridge", clock=_counter(TS + 99))
    general = router._route_general

    def only_gas(item: Frame, *args: object) -> None:
        assert item.raw == gas, "general path taken for a hot frame"
        general(item, *args)

    router._route_general = only_gas  # type: ignore[method-assign]
    assert router.feed(hot + gas + hot, TS + 50) == expected
    assert len(decoded) == 1 and router.frames == reference.frames == 2 * len(HOT) + 1


def test_a_clock_reading_past_the_long_range_leaves_the_shortcut_for_the_same_dead_letter() -> None:
    """bridge_out_ns is read once per frame: a shortcut that cannot encode it hands that reading to the general way."""
    raw = b"".join(frame(sample_tlvs()[cls.NAME], 3) for cls in HOT)
    fast = Router("bridge", clock=_counter(2**63 - 1))  # the largest long, then past it
    ref = Router("bridge", clock=_counter(2**63 - 1), fast=False)
    out = fast.feed(raw, TS)
    assert out == ref.feed(raw, TS)
    assert [t for t, _, _ in out] == ["market.pool_sync", "dlq.relay", "dlq.relay", "dlq.relay", "dlq.relay"]
    assert fast.dead == ref.dead == {"frame": 0, "route": 0, "encode": 4}
