"""Send frames into a relay socket on a schedule, as an AlphaPulse producer would.

The connection is a :class:`~flows.relay.client.RelayProducer`: a relay echoes every frame to every client, the
sender included, and the producer discards that echo on a thread so the relay never drops it as a slow client.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flows.relay.client import RelayProducer
from flows.relay.header import CHECKSUM_OFFSET, compute_checksum

_TS = struct.Struct("<Q")
_CRC = struct.Struct("<I")


def restamp(frame: bytes, timestamp_ns: int) -> bytes:
    """Return the frame with a new header timestamp (the send time) and its CRC recomputed (0 stays 0)."""
    buf = bytearray(frame)
    _TS.pack_into(buf, 16, timestamp_ns)
    if _CRC.unpack_from(buf, CHECKSUM_OFFSET)[0] != 0:
        _CRC.pack_into(buf, CHECKSUM_OFFSET, 0)
        _CRC.pack_into(buf, CHECKSUM_OFFSET, compute_checksum(buf))
    return bytes(buf)


@dataclass(slots=True)
class ReplayStats:
    """What a replay sent."""

    frames: int = 0
    bytes: int = 0


def replay(
    path: str,
    events: Iterable[tuple[int, bytes]],
    *,
    speed: float = 1.0,
    stamp: bool = True,
    should_stop: Callable[[], bool] = lambda: False,
    on_sent: Callable[[ReplayStats], None] | None = None,
    connect_timeout_s: float = 10.0,
) -> ReplayStats:
    """Connect to a relay socket and send ``(offset_ns, frame)`` events.

    Args:
        path: relay socket path.
        events: frames with their offset from the start, ns (market time).
        speed: market time runs this many times faster than wall time; 0 or less sends as fast as possible.
        stamp: rewrite each header timestamp to the send time, so latencies are measured from the send.
        should_stop: polled between frames; True ends the replay early.
        on_sent: called after each frame with the running stats.
        connect_timeout_s: give up connecting after this long, seconds.

    Returns:
        Frames and bytes sent.

    Raises:
        StackError: no relay at ``path`` within ``connect_timeout_s``, or the connection broke.
    """
    stats = ReplayStats()
    with RelayProducer(path, connect_timeout_s=connect_timeout_s) as producer:
        start = time.monotonic()
        for offset_ns, frame in events:
            if should_stop():
                break
            if speed > 0:
                delay = start + offset_ns / 1e9 / speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            data = restamp(frame, time.time_ns()) if stamp else frame
            producer.send(data)
            stats.frames += 1
            stats.bytes += len(data)
            if on_sent:
                on_sent(stats)
    return stats
