"""Stream framing: any chunking, resync after damage, hellos, bounded memory, exact accounting."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.relay.codec import ChecksumPolicy, Frame, encode_frame
from flows.relay.framing import MAX_DEAD_BYTES, DeadFrame, Framer
from flows.relay.header import MAGIC_BYTES
from flows.relay.tlv import Heartbeat, PoolSync, UnknownTlv

from .helpers import sample_tlvs, tlv_strategy

S = sample_tlvs()
STRICT = ChecksumPolicy.every(allow_zero=False)
HELLO = encode_frame(1, 2, [], sequence=0, timestamp_ns=0, checksum=False)

# Frames of different sizes and domains; the sequence number identifies each one.
frame_specs = st.tuples(
    st.sampled_from([1, 2, 3, 4]),
    st.sampled_from(["PoolSync", "Trade", "OrderBook", "Heartbeat", "ArbitrageSignal", "unknown"]),
)


def build(specs: list[tuple[int, str]]) -> list[bytes]:
    frames = []
    for seq, (domain, name) in enumerate(specs, start=1):
        tlv = UnknownTlv(99, bytes(range(seq % 200))) if name == "unknown" else S[name]
        frames.append(encode_frame(domain, 4, [tlv], sequence=seq, timestamp_ns=seq * 1000))
    return frames


def chunked(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    bounds = [0, *points, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


def run(framer: Framer, chunks: list[bytes]) -> list[Frame | DeadFrame]:
    out: list[Frame | DeadFrame] = []
    for chunk in chunks:
        out += framer.feed(chunk)
    out += framer.flush()
    return out


def assert_tiles(out: list[Frame | DeadFrame], stream: bytes, framer: Framer) -> None:
    """Outputs cover the stream exactly, in order, at their stated offsets; counters agree."""
    pos = 0
    for item in out:
        assert item.offset == pos, (item, pos)
        assert stream[pos : pos + len(item.raw)] == item.raw
        pos += len(item.raw)
    assert pos == len(stream)
    frames = [i for i in out if isinstance(i, Frame)]
    dead = [i for i in out if isinstance(i, DeadFrame)]
    assert framer.bytes == len(stream)
    assert (framer.frames, framer.dead, framer.dead_bytes) == (len(frames), len(dead), sum(len(d.raw) for d in dead))
    assert framer.pending == 0


@settings(max_examples=80, deadline=None)
@given(specs=st.lists(frame_specs, min_size=1, max_size=12), cuts=st.lists(st.integers(0, 10**6), max_size=30))
def test_any_chunking_yields_the_same_frames(specs: list, cuts: list[int]) -> None:
    frames = build(specs)
    stream = b"".join(frames)
    framer = Framer(STRICT)
    out = run(framer, chunked(stream, cuts))
    assert [f.raw for f in out] == frames
    assert all(isinstance(f, Frame) for f in out)
    assert_tiles(out, stream, framer)


@settings(max_examples=40, deadline=None)
@given(tlv=tlv_strategy(PoolSync), cuts=st.lists(st.integers(0, 400), max_size=20))
def test_byte_by_byte_and_random_values(tlv: PoolSync, cuts: list[int]) -> None:
    raw = encode_frame(1, 4, [tlv], sequence=1, timestamp_ns=2)
    framer = Framer()
    out = [item for b in raw for item in framer.feed(bytes([b]))]
    assert [f.tlvs for f in out] == [(tlv,)]
    out = run(Framer(), chunked(raw * 3, cuts))
    assert [f.raw for f in out] == [raw] * 3


# Damage applied to one frame: None (intact), ("flip", position, xor), ("cut", keep) or ("drop_head", n).
damage = st.one_of(
    st.none(),
    st.none(),
    st.tuples(st.just("flip"), st.integers(0, 3000), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 3000)),
    st.tuples(st.just("drop_head"), st.integers(1, 40)),
)


def apply(frame: bytes, fate: tuple | None) -> bytes:
    if fate is None:
        return frame
    if fate[0] == "flip":
        pos = fate[1] % len(frame)
        return frame[:pos] + bytes([frame[pos] ^ fate[2]]) + frame[pos + 1 :]
    if fate[0] == "cut":
        return frame[: fate[1] % len(frame)]
    return frame[fate[1] :]


@settings(max_examples=150, deadline=None)
@given(
    specs=st.lists(st.tuples(frame_specs, damage, st.binary(max_size=40)), min_size=1, max_size=10),
    tail=st.integers(0, 5000),
    cuts=st.lists(st.integers(0, 10**6), max_size=20),
)
def test_damage_never_crashes_and_counts_reconcile(specs: list, tail: int, cuts: list[int]) -> None:
    frames = build([spec for spec, _, _ in specs])
    stream = b""
    intact: list[bytes] = []
    for frame, (_, fate, garbage) in zip(frames, specs, strict=True):
        stream += garbage + apply(frame, fate)
        if fate is None:
            intact.append(frame)
    stream = stream[: max(len(stream) - tail % 200, 0)] if tail % 3 == 0 else stream  # sometimes cut the end
    intact = [f for f in intact if f in stream]
    framer = Framer(STRICT)
    out = run(framer, chunked(stream, cuts))
    assert_tiles(out, stream, framer)
    delivered = [f.raw for f in out if isinstance(f, Frame)]
    # Nothing damaged is delivered; every intact frame is delivered exactly once.
    assert all(raw in frames for raw in delivered)
    assert len(set(delivered)) == len(delivered)
    assert set(intact) <= set(delivered)
    assert all(d.reason and (d.reason == d.reason.lower() or "0x" in d.reason) for d in out if isinstance(d, DeadFrame))


def test_garbage_between_frames_is_one_dead_frame_each() -> None:
    a = encode_frame(1, 4, [S["PoolSync"]], sequence=1, timestamp_ns=1)
    b = encode_frame(1, 4, [S["Trade"]], sequence=2, timestamp_ns=2)
    stream = b"\x00garbage" + a + b"more garbage\xef\xbe" + b
    framer = Framer()
    out = run(framer, chunked(stream, [3, 20, 300]))
    assert [type(i).__name__ for i in out] == ["DeadFrame", "Frame", "DeadFrame", "Frame"]
    assert out[0] == DeadFrame(b"\x00garbage", "no magic", 0)
    assert out[2] == DeadFrame(b"more garbage\xef\xbe", "no magic", 8 + len(a))
    assert out[3].offset == len(stream) - len(b)


def test_a_magic_split_across_chunks_is_found() -> None:
    a = encode_frame(1, 4, [S["Trade"]], sequence=1, timestamp_ns=1)
    stream = b"xyz" + a
    framer = Framer()
    out = framer.feed(stream[:5]) + framer.feed(stream[5:])  # magic cut after 2 of its 4 bytes
    assert [type(i).__name__ for i in out] == ["DeadFrame", "Frame"]
    assert out[0].raw == b"xyz" and out[1].raw == a


def test_hellos_are_counted_not_emitted() -> None:
    a = encode_frame(1, 4, [S["Trade"]], sequence=1, timestamp_ns=1)
    stream = HELLO + a + HELLO
    framer = Framer()
    out = run(framer, [stream])
    assert [f.raw for f in out] == [a]
    assert framer.hellos == 2 and framer.dead == 0 and framer.frames == 1
    emitted = run(Framer(emit_hellos=True), [stream])
    assert [f.raw for f in emitted] == [HELLO, a, HELLO]


def test_oversized_payload_is_an_error_not_an_allocation() -> None:
    good = encode_frame(1, 4, [S["PoolSync"]], sequence=1, timestamp_ns=1)
    bogus = bytearray(good)
    bogus[24:28] = (4097).to_bytes(4, "little")  # market data allows 4096
    framer = Framer()
    out = framer.feed(bytes(bogus[:40]))
    assert framer.pending <= 40
    out += framer.feed(good)
    assert [type(i).__name__ for i in out] == ["DeadFrame", "Frame"]
    assert out[0].reason == "payload_size 4097 above the domain 1 limit 4096"
    huge = bytearray(good)
    huge[24:28] = (2**31).to_bytes(4, "little")
    framer = Framer()
    assert framer.feed(bytes(huge) + bytes(10_000)) == []
    out = framer.feed(good)  # not stuck waiting for the claimed 2 GiB
    assert [type(i).__name__ for i in out] == ["DeadFrame", "Frame"]
    assert out[0].reason.startswith("payload_size 2147483648 above") and len(out[0].raw) == len(huge) + 10_000


@pytest.mark.parametrize(("domain", "limit"), [(1, 4096), (2, 8192), (3, 16384), (4, 32768)])
def test_waiting_for_a_frame_is_bounded_by_the_domain_limit(domain: int, limit: int) -> None:
    head = encode_frame(domain, 4, [UnknownTlv(9, bytes(limit - 5))], sequence=1, timestamp_ns=1)  # 5-byte ext. header
    framer = Framer()
    assert framer.feed(head[:-1]) == []
    assert framer.pending == 32 + limit - 1
    assert [f.raw for f in framer.feed(head[-1:])] == [head]


def test_unknown_tlvs_are_counted() -> None:
    raw = encode_frame(4, 80, [UnknownTlv(9, b"a"), Heartbeat(1, 1), UnknownTlv(8, b"")], sequence=1, timestamp_ns=1)
    framer = Framer()
    framer.feed(raw + raw)
    assert framer.unknown_tlvs == 4


def test_long_garbage_is_emitted_in_bounded_pieces() -> None:
    framer = Framer()
    out = framer.feed(b"\x01" * (MAX_DEAD_BYTES * 2 + 10))
    assert all(isinstance(i, DeadFrame) for i in out)
    assert framer.pending <= MAX_DEAD_BYTES
    out += framer.flush()
    assert sum(len(d.raw) for d in out) == MAX_DEAD_BYTES * 2 + 10
    assert MAGIC_BYTES not in b"".join(d.raw for d in out)


def test_offsets_continue_after_flush() -> None:
    a = encode_frame(1, 4, [S["Trade"]], sequence=1, timestamp_ns=1)
    framer = Framer()
    first = framer.feed(a + a[:10]) + framer.flush()  # connection lost mid-frame
    second = framer.feed(a)
    assert [i.offset for i in first] == [0, len(a)]
    assert isinstance(first[1], DeadFrame) and first[1].reason.startswith("truncated")
    assert second[0].offset == len(a) + 10


def _marker(buf: bytes, start: int, end: int, fields: tuple, offset: int) -> tuple:
    """A shortcut that stands for the frame by its bytes and offset (what a caller would make of it)."""
    return ("shortcut", bytes(buf[start:end]), offset, fields)


@settings(max_examples=150, deadline=None)
@given(
    specs=st.lists(st.tuples(frame_specs, damage, st.binary(max_size=40)), min_size=1, max_size=10),
    cuts=st.lists(st.integers(0, 10**6), max_size=20),
    policy=st.sampled_from([STRICT, ChecksumPolicy(), ChecksumPolicy.none(), ChecksumPolicy.every()]),
)
def test_shortcuts_see_exactly_the_frames_the_framer_would_decode(specs: list, cuts: list[int], policy) -> None:
    """With shortcuts for PoolSync and Trade, framing, resync and counters are unchanged; shortcut frames are those
    the plain framer returns as one-TLV PoolSync or Trade frames, at the same offsets."""
    frames = build([spec for spec, _, _ in specs])
    stream = b"".join(garbage + apply(frame, fate) for frame, (_, fate, garbage) in zip(frames, specs, strict=True))
    hot = {PoolSync.TYPE: (PoolSync.SIZE, _marker), S["Trade"].TYPE: (S["Trade"].SIZE, _marker)}
    plain, fast = Framer(policy), Framer(policy, shortcuts=hot)
    expected = run(plain, chunked(stream, cuts))
    got = run(fast, chunked(stream, cuts))
    assert len(got) == len(expected)
    for item, ref in zip(got, expected, strict=True):
        if isinstance(ref, Frame) and len(ref.tlvs) == 1 and type(ref.tlvs[0]).TYPE in hot and ref.header.version == 1:
            assert item[:3] == ("shortcut", ref.raw, ref.offset)
            assert item[3] == tuple(getattr(ref.header, f) for f in ref.header.__slots__)  # the header's fields
        else:
            assert item == ref
    for counter in ("bytes", "frames", "dead", "dead_bytes", "hellos", "unknown_tlvs", "pending"):
        assert getattr(fast, counter) == getattr(plain, counter), counter


def test_a_declining_shortcut_leaves_the_frame_to_the_decoder() -> None:
    raw = encode_frame(1, 4, [S["PoolSync"]], sequence=1, timestamp_ns=2)
    framer = Framer(shortcuts={PoolSync.TYPE: (PoolSync.SIZE, lambda *args: None)})
    (frame,) = framer.feed(raw)
    assert isinstance(frame, Frame) and frame.tlvs == (S["PoolSync"],) and framer.frames == 1


def test_a_frame_fed_in_small_pieces_is_not_reframed_on_every_piece() -> None:
    """While a long frame is incomplete, feeding more of it only appends (the drain runs when it can complete)."""
    raw = encode_frame(1, 4, [UnknownTlv(9, bytes(4000))], sequence=1, timestamp_ns=1)
    framer = Framer()
    drains = 0
    real = framer._drain

    def counting(*args, **kwargs):
        nonlocal drains
        drains += 1
        return real(*args, **kwargs)

    framer._drain = counting  # type: ignore[method-assign]
    out = [item for i in range(0, len(raw), 10) for item in framer.feed(raw[i : i + 10])]
    assert [f.raw for f in out] == [raw]
    assert drains <= 5  # the header, then the whole frame (not one drain per 10-byte piece)
