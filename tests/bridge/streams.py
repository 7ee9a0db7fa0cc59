"""Mixed relay streams for the bridge tests: good frames with known positions, and bad material of known kinds.

Every piece records what the bridge must do with it, so a test can reconcile without re-running the framer:
``deliver`` (a record on ``topic``), ``route``/``encode`` (a dead letter of that stage holding the whole frame),
``frame`` (dead bytes: the framer cannot make a frame of them), or ``relay`` (a pulsearb relay drops it before
the bridge). The fate differs between a pulsearb relay (which re-frames and drops garbage and other domains) and a
raw stream (AlphaPulse's relay forwards reads verbatim), hence two fates per piece.

Good frames carry a CRC and the bridge verifies non-zero CRCs, so damage is always detectable; a frame is only
ever cut inside its payload (its header, CRC included, intact), except as the very last piece of a stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from flows.relay.codec import encode_frame
from flows.relay.header import MAGIC_BYTES
from flows.relay.protocol import RelayDomain, SourceType
from flows.relay.tlv import Tlv, UnknownTlv
from tests.relay.helpers import sample_tlvs

#: Routable samples and the topic each lands on.
TOPIC_OF = {
    "PoolSync": "market.pool_sync",
    "PoolSwap": "market.pool_swap",
    "PoolState": "market.pool_state",
    "PoolMint": "market.pool_liquidity",
    "PoolBurn": "market.pool_liquidity",
    "PoolLiquidity": "market.pool_liquidity",
    "Trade": "market.trade",
    "Quote": "market.quote",
    "QuoteUpdate": "market.quote",
    "GasPrice": "market.gas_price",
    "PoolInfo": "market.pool_info",
}
TS = 1_755_893_490_012_637_000


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of bytes in a stream and what the bridge must make of it."""

    raw: bytes
    fate: str  # through a pulsearb relay: deliver | route | encode | frame | relay
    raw_fate: str  # in a raw stream: deliver | route | encode | frame
    topic: str = ""
    sequence: int = 0


def frame(tlv: Tlv, sequence: int, domain: int = RelayDomain.MARKET_DATA) -> bytes:
    """A CRC-carrying frame of one TLV from the Polygon collector."""
    return encode_frame(domain, SourceType.POLYGON_COLLECTOR, [tlv], sequence=sequence, timestamp_ns=TS + sequence)


def garbage(rng: random.Random, size: int) -> bytes:
    """Random bytes with no magic in them (so they are exactly one dead range)."""
    while True:
        raw = rng.randbytes(size)
        if MAGIC_BYTES not in raw and not raw.endswith(MAGIC_BYTES[:3]):
            return raw


def good(rng: random.Random, sequence: int) -> Piece:
    """A frame of a random routable sample."""
    name = rng.choice(sorted(TOPIC_OF))
    return Piece(frame(sample_tlvs()[name], sequence), "deliver", "deliver", TOPIC_OF[name], sequence)


def corrupt(raw: bytes, rng: random.Random) -> bytes:
    """Flip one bit of a frame's payload: the structure stays, the CRC no longer matches."""
    buf = bytearray(raw)
    buf[rng.randrange(34, len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf)


def bad(rng: random.Random, sequence: int, kind: str) -> Piece:
    """A piece of bad material of ``kind``."""
    sync = sample_tlvs()["PoolSync"]
    if kind == "unknown_tlv":  # a TLV type nobody defines: unroutable, kept raw
        return Piece(frame(UnknownTlv(77, rng.randbytes(24)), sequence), "route", "route")
    if kind == "signal":  # an ArbitrageSignal on the market relay: unroutable
        return Piece(frame(sample_tlvs()["ArbitrageSignal"], sequence), "route", "route")
    if kind == "orderbook":  # an extended TLV the bridge has no topic for
        return Piece(frame(sample_tlvs()["OrderBook"], sequence), "route", "route")
    if kind == "huge_sequence":  # a valid u64 that the Avro long of market.pool_sync cannot hold
        return Piece(frame(sync, 2**63 + sequence), "encode", "encode")
    if kind == "crc":  # damaged in transit: a relay forwards it (it never verifies), the bridge rejects it
        return Piece(corrupt(frame(sync, sequence), rng), "frame", "frame")
    if kind == "garbage":
        return Piece(garbage(rng, rng.randrange(1, 64)), "relay", "frame")
    if kind == "foreign":  # another relay domain: a relay drops it, the bridge refuses it
        return Piece(frame(sync, sequence, RelayDomain.EXECUTION), "relay", "route")
    if kind == "truncated":  # a frame cut inside its payload, as by a producer that died mid-write
        raw = frame(sync, sequence)
        return Piece(raw[: rng.randrange(32, len(raw))], "relay", "frame")
    msg = f"unknown bad kind {kind}"
    raise ValueError(msg)


RAW_KINDS = ("unknown_tlv", "signal", "orderbook", "huge_sequence", "crc", "garbage", "foreign", "truncated")
#: Through a pulsearb relay a cut frame may swallow the next one before the bridge sees it (the relay re-frames
#: without verifying CRCs), so relay streams carry no cut frames.
RELAY_KINDS = ("unknown_tlv", "signal", "orderbook", "huge_sequence", "crc", "garbage", "foreign")


def mixed(rng: random.Random, goods: int, kinds: tuple[str, ...], bad_every: int = 3) -> list[Piece]:
    """``goods`` good frames with a bad piece of a random kind after every ``bad_every``-th; sequences unique."""
    pieces: list[Piece] = []
    for i in range(goods):
        pieces.append(good(rng, i + 1))
        if i % bad_every == bad_every - 1:
            pieces.append(bad(rng, 1_000_000 + i, rng.choice(kinds)))
    return pieces
