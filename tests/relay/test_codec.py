"""Frame encode/decode: TLV framing, size rules, checksum policy, version handling, errors, identity."""

from __future__ import annotations

import dataclasses
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from base.errors import FrameError
from flows.relay.codec import ChecksumPolicy, Frame, decode_checked, decode_frame, encode_frame, encode_tlvs
from flows.relay.header import HEADER_STRUCT, MAGIC, compute_checksum
from flows.relay.protocol import MAX_PAYLOAD, RelayDomain
from flows.relay.tlv import (
    TLV_CLASSES,
    Heartbeat,
    PoolSync,
    Quote,
    Tlv,
    UnknownTlv,
)

from .helpers import any_known_tlv, sample_tlvs, tlv_strategy

S = sample_tlvs()


def frame_with_value(tlv_type: int, value: bytes, *, domain: int = 1, crc: bool = True) -> bytes:
    """Build a frame around a raw TLV value, bypassing the encoder's own checks."""
    return encode_frame(domain, 4, [UnknownTlv(tlv_type, value)], sequence=1, timestamp_ns=2, checksum=crc)


def header_with(raw: bytes, **changes: int) -> bytes:
    names = ["magic", "relay_domain", "version", "source", "flags", "sequence", "timestamp", "payload_size", "checksum"]
    fields = dict(zip(names, HEADER_STRUCT.unpack_from(raw), strict=True))
    fields.update(changes)
    return HEADER_STRUCT.pack(*fields.values()) + raw[32:]


# --- identity --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", sorted(TLV_CLASSES.values(), key=lambda c: c.TYPE), ids=lambda c: c.NAME)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_tlv_type_round_trips(cls: type[Tlv], data: st.DataObject) -> None:
    tlv = data.draw(tlv_strategy(cls))
    value = tlv.encode()
    assert type(tlv).decode(value, 0, len(value)) == tlv
    raw = encode_frame(RelayDomain.SYSTEM, 80, [tlv], sequence=1, timestamp_ns=2)
    frame = decode_frame(raw)
    assert frame.tlvs == (tlv,)
    assert frame.raw == raw


@settings(max_examples=60, deadline=None)
@given(
    tlvs=st.lists(any_known_tlv, max_size=4),
    sequence=st.integers(0, 2**64 - 1),
    timestamp=st.integers(0, 2**64 - 1),
    source=st.integers(0, 255),
    flags=st.integers(0, 255),
    crc=st.booleans(),
)
def test_frames_round_trip(tlvs: list[Tlv], sequence: int, timestamp: int, source: int, flags: int, crc: bool) -> None:
    size = len(encode_tlvs(tlvs))
    domain = next(d for d in RelayDomain if MAX_PAYLOAD[d] >= size) if size <= 32768 else None
    if domain is None:
        return
    raw = encode_frame(domain, source, tlvs, sequence=sequence, timestamp_ns=timestamp, flags=flags, checksum=crc)
    frame = decode_frame(raw, policy=ChecksumPolicy.every())
    assert frame.tlvs == tuple(tlvs)
    h = frame.header
    assert (h.relay_domain, h.source, h.flags, h.sequence, h.timestamp) == (domain, source, flags, sequence, timestamp)
    assert h.payload_size == size == len(raw) - 32
    assert frame.checksum_ok is (True if crc else None)
    assert h.checksum == (compute_checksum(raw) if crc else 0)


def test_decode_at_an_offset_of_a_longer_buffer() -> None:
    raw = encode_frame(1, 4, [S["PoolSync"]], sequence=1, timestamp_ns=2)
    buf = memoryview(b"junk" + raw + raw[:10])
    frame = decode_frame(buf, offset=4, base=1000)
    assert frame.raw == raw and type(frame.raw) is bytes
    assert frame.offset == 1004
    assert frame == decode_frame(raw)  # offset is not part of equality
    assert frame.find(PoolSync) == S["PoolSync"] and frame.find(Quote) is None


# --- TLV framing -----------------------------------------------------------------------------------------------


def test_standard_up_to_255_bytes_extended_above() -> None:
    payload = encode_tlvs([UnknownTlv(77, bytes(255)), UnknownTlv(78, bytes(256))])
    assert payload[:2] == bytes([77, 255])
    assert payload[257:262] == bytes([255, 0, 78]) + (256).to_bytes(2, "little")
    raw = encode_frame(4, 80, [UnknownTlv(77, bytes(255)), UnknownTlv(78, bytes(256))], sequence=1, timestamp_ns=1)
    assert decode_frame(raw).tlvs == (UnknownTlv(77, bytes(255)), UnknownTlv(78, bytes(256)))


def test_order_book_is_always_extended() -> None:
    raw = encode_frame(1, 1, [S["OrderBook"]], sequence=1, timestamp_ns=1)
    assert raw[32:37] == bytes([255, 0, 3, 0x98, 0x09])
    assert len(raw) == 32 + 5 + 2456
    assert decode_frame(raw).tlvs == (S["OrderBook"],)


def test_unknown_types_are_kept_raw_never_an_error() -> None:
    tlvs = [UnknownTlv(9, b"abc"), S["PoolSync"], UnknownTlv(0, b""), UnknownTlv(254, bytes(300))]
    frame = decode_frame(encode_frame(4, 80, tlvs, sequence=1, timestamp_ns=1))
    assert frame.tlvs == tuple(tlvs)


def test_known_type_inside_a_newer_version_is_kept_raw() -> None:
    value = S["PoolSync"].encode()
    raw = encode_frame(1, 4, [UnknownTlv(16, value)], sequence=1, timestamp_ns=1, version=2)
    frame = decode_frame(raw)
    assert frame.header.version == 2
    assert frame.tlvs == (UnknownTlv(16, value),)


@pytest.mark.parametrize(
    ("tlv_type", "length", "accepted"),
    [
        (2, 56, True),  # Quote: the real size
        (2, 52, False),  # the declared size is wrong and never accepted
        (17, 56, True),
        (32, 170, True),  # ArbitrageSignal: real, packed
        (32, 168, False),
        (16, 160, True),
        (16, 150, False),  # PoolSync: the declared bound's maximum
        (11, 208, True),
        (11, 200, False),
        (10, 208, True),
        (10, 184, False),  # AlphaPulse's comment for PoolLiquidity
        (200, 88, True),
        (100, 16, True),
        (45, 48, True),
        (45, 47, False),
    ],
)
def test_size_checks_use_the_real_sizes(tlv_type: int, length: int, accepted: bool) -> None:
    cls = TLV_CLASSES[tlv_type]
    value = S[cls.NAME].encode()[:length].ljust(length, b"\0")
    raw = frame_with_value(tlv_type, value, domain=4)
    if accepted:
        assert type(decode_frame(raw).tlvs[0]) is cls
    else:
        with pytest.raises(FrameError, match=rf"tlv {cls.NAME} \({tlv_type}\) length {length}, expected {cls.SIZE}"):
            decode_frame(raw)


def test_bounded_flash_loan_result() -> None:
    sample = S["FlashLoanResult"]
    value = sample.encode()
    assert len(value) == 132 + 40
    assert decode_frame(frame_with_value(67, value, domain=2)).tlvs == (sample,)
    with pytest.raises(FrameError, match="does not fit 2 pools"):
        decode_frame(frame_with_value(67, value[:-1], domain=2))
    with pytest.raises(FrameError, match=r"outside 48\.\.256"):
        decode_frame(frame_with_value(67, value[:40], domain=2))
    too_many = dataclasses.replace(sample, pools=(sample.asset,) * 7)
    with pytest.raises(FrameError, match="7 items, at most 6"):
        encode_frame(2, 20, [too_many], sequence=1, timestamp_ns=1)


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda r: r[:20], "truncated header: 20 of 32 bytes"),
        (lambda r: b"\0\0\0\0" + r[4:], "bad magic 0x00000000"),
        (lambda r: header_with(r, relay_domain=0), "unknown relay domain 0"),
        (lambda r: header_with(r, relay_domain=5), "unknown relay domain 5"),
        (lambda r: header_with(r, payload_size=4097), "payload_size 4097 above the domain 1 limit 4096"),
        (lambda r: r[:-1], "truncated frame: 193 of 194 bytes"),
        (lambda r: header_with(r[:-1], payload_size=159), "tlv type 16 length 160 overruns the payload at byte 32"),
        (lambda r: header_with(r + b"\x09", payload_size=163), "truncated tlv header at byte 194"),
        (lambda r: header_with(r + b"\x09\x05ab", payload_size=166), "tlv type 9 length 5 overruns the payload"),
    ],
)
def test_malformed_frames_raise_frame_error(mangle, reason: str) -> None:
    raw = encode_frame(1, 4, [S["PoolSync"]], sequence=1, timestamp_ns=1, checksum=False)
    with pytest.raises(FrameError) as info:
        decode_frame(b"pad" + mangle(raw), offset=3, base=100)
    assert info.value.reason.startswith(reason)
    assert info.value.offset == 103
    assert info.value.reason == info.value.reason.lower() or "0x" in info.value.reason


def test_extended_header_reserved_byte_must_be_zero() -> None:
    raw = bytearray(encode_frame(1, 1, [S["OrderBook"]], sequence=1, timestamp_ns=1, checksum=False))
    raw[33] = 7
    with pytest.raises(FrameError, match="extended tlv reserved byte 0x07"):
        decode_frame(bytes(raw))


def test_bad_counts_inside_values_are_frame_errors() -> None:
    value = bytearray(S["PoolLiquidity"].encode())
    value[16] = 9  # 9 reserves in a FixedVec of 8
    with pytest.raises(FrameError, match="reserves count 9 above capacity 8"):
        decode_frame(frame_with_value(10, bytes(value)))
    book = bytearray(S["OrderBook"].encode())
    book[1248] = 51
    with pytest.raises(FrameError, match="asks count 51 above capacity 50"):
        decode_frame(frame_with_value(3, bytes(book)))


# --- checksum policy -------------------------------------------------------------------------------------------


def corrupt_payload(raw: bytes) -> bytes:
    return raw[:-1] + bytes([raw[-1] ^ 0xFF])


@pytest.mark.parametrize("domain", list(RelayDomain))
def test_default_policy_verifies_execution_only(domain: RelayDomain) -> None:
    raw = corrupt_payload(encode_frame(domain, 42, [Heartbeat(1, 2)], sequence=1, timestamp_ns=1))
    if domain == RelayDomain.EXECUTION:
        with pytest.raises(FrameError, match="checksum mismatch"):
            decode_frame(raw)
    else:
        assert decode_frame(raw).checksum_ok is None


def test_checksum_zero_is_accepted_unverified() -> None:
    raw = encode_frame(3, 42, [Heartbeat(1, 2)], sequence=1, timestamp_ns=1, checksum=False)
    assert decode_frame(raw, policy=ChecksumPolicy.every()).checksum_ok is None
    with pytest.raises(FrameError, match="checksum missing"):
        decode_frame(raw, policy=ChecksumPolicy.every(allow_zero=False))


def test_report_all_reports_without_rejecting() -> None:
    good = encode_frame(1, 4, [Heartbeat(1, 2)], sequence=1, timestamp_ns=1)
    policy = ChecksumPolicy(frozenset(), report_all=True)
    assert decode_frame(good, policy=policy).checksum_ok is True
    assert decode_frame(corrupt_payload(good), policy=policy).checksum_ok is False
    assert decode_frame(corrupt_payload(good), policy=ChecksumPolicy.none()).checksum_ok is None


def test_checksum_is_zlib_crc32_over_all_but_the_field() -> None:
    raw = encode_frame(2, 20, [S["ArbitrageSignal"]], sequence=9, timestamp_ns=9)
    assert struct.unpack_from("<I", raw, 28)[0] == zlib.crc32(raw[:28] + raw[32:])
    assert HEADER_STRUCT.unpack_from(raw)[0] == MAGIC


def test_policy_parse() -> None:
    assert ChecksumPolicy.parse("all").verify == frozenset(RelayDomain)
    assert ChecksumPolicy.parse("none").verify == frozenset()
    assert ChecksumPolicy.parse("signal, execution").verify == {2, 3}
    assert ChecksumPolicy.parse("market-data,4").verify == {1, 4}
    with pytest.raises(ValueError, match="unknown relay domain 'bogus'"):
        ChecksumPolicy.parse("bogus")


# --- encode errors ---------------------------------------------------------------------------------------------


def test_encode_errors_name_the_field() -> None:
    bad = dataclasses.replace(S["PoolSync"], venue=70000)
    with pytest.raises(FrameError, match=r"cannot encode PoolSync: PoolSync.venue: 70000 out of range for u16"):
        encode_frame(1, 4, [bad], sequence=1, timestamp_ns=1)
    neg = dataclasses.replace(S["PoolSync"], reserve0=-1)
    with pytest.raises(FrameError, match="reserve0: -1 out of range for u128"):
        encode_frame(1, 4, [neg], sequence=1, timestamp_ns=1)
    addr = dataclasses.replace(S["ArbitrageSignal"], token_in="0x12")
    with pytest.raises(FrameError, match="token_in: expected 20 bytes as 0x hex"):
        encode_frame(2, 20, [addr], sequence=1, timestamp_ns=1)


def test_encode_frame_rejects_what_no_reader_accepts() -> None:
    with pytest.raises(FrameError, match="unknown relay domain 0"):
        encode_frame(0, 4, [], sequence=1, timestamp_ns=1)
    with pytest.raises(FrameError, match="payload of 4110 bytes above the domain 1 limit 4096"):
        encode_frame(1, 4, [UnknownTlv(9, bytes(4105))], sequence=1, timestamp_ns=1)
    with pytest.raises(FrameError, match="cannot encode header"):
        encode_frame(1, 256, [], sequence=1, timestamp_ns=1)
    with pytest.raises(FrameError, match="cannot encode tlv type 255"):
        encode_frame(1, 4, [UnknownTlv(255, b"")], sequence=1, timestamp_ns=1)


def test_empty_frame_and_hello() -> None:
    hello = encode_frame(1, 2, [], sequence=0, timestamp_ns=0, checksum=False)
    assert hello == bytes.fromhex("efbeadde01010200") + bytes(24)
    frame = decode_frame(hello)
    assert isinstance(frame, Frame) and frame.tlvs == () and frame.header.payload_size == 0


POLICIES = [ChecksumPolicy(), ChecksumPolicy.every(), ChecksumPolicy.none(), ChecksumPolicy.every(allow_zero=False)]


@settings(max_examples=300, deadline=None)
@given(
    tlvs=st.lists(
        st.one_of(any_known_tlv, st.builds(UnknownTlv, st.integers(0, 254), st.binary(max_size=40))), max_size=3
    ),
    domain=st.sampled_from(list(RelayDomain)),
    version=st.sampled_from([1, 1, 2]),
    crc=st.booleans(),
    flips=st.lists(st.tuples(st.integers(28, 10_000), st.integers(0, 7)), max_size=2),
    cut=st.integers(0, 40),
    policy=st.sampled_from(POLICIES),
    lead=st.binary(max_size=5),
)
def test_decode_checked_is_decode_frame_after_the_header_checks(
    tlvs: list[Tlv],
    domain: RelayDomain,
    version: int,
    crc: bool,
    flips: list[tuple[int, int]],
    cut: int,
    policy: ChecksumPolicy,
    lead: bytes,
) -> None:
    """The framer's decode (header read and checked by the caller) returns or raises exactly what decode_frame does."""
    try:
        raw = encode_frame(domain, 4, tlvs, sequence=9, timestamp_ns=2, checksum=crc, version=version)
    except FrameError:
        return  # above the domain limit
    buf = bytearray(lead + raw)
    for pos, bit in flips:  # CRC, TLV headers and values damaged; the header's checked fields left alone
        buf[len(lead) + pos % len(raw)] ^= (1 << bit) if pos % len(raw) >= 28 else 0
    # Now and then a frame cut short inside its payload: the caller would not decode it.
    buf = bytes(buf[: max(len(lead) + 32, len(buf) - cut % 3)])
    fields = HEADER_STRUCT.unpack_from(buf, len(lead))
    end = len(lead) + 32 + fields[7]
    try:
        expected: Frame | str = decode_frame(buf, offset=len(lead), policy=policy, base=100)
    except FrameError as exc:
        expected = f"{exc.reason} @{exc.offset}"
    if end > len(buf):
        assert isinstance(expected, str) and expected.startswith("truncated frame")
        return
    try:
        got: Frame | str = decode_checked(buf, len(lead), end, fields, policy, 100)
    except FrameError as exc:
        got = f"{exc.reason} @{exc.offset}"
    assert got == expected
    if isinstance(got, Frame):
        assert isinstance(expected, Frame) and got.offset == expected.offset == 100 + len(lead)
