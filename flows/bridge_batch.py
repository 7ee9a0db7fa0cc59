"""The PoolSync frames of one relay read -> their ``market.pool_sync`` records at once (numpy does the loop).

PoolSync is most of a DEX relay's traffic, and every PoolSync frame has one layout: 32 header bytes, the TLV
header ``16, 160`` and 160 value bytes. So the fields of all the PoolSync frames of a read are columns of one
matrix, and their Avro records are a few matrix operations: the longs (sequence, timestamps, block) encoded as
columns (:func:`schemas.avro_encoder.encode_longs`), the reserves reversed (u128 little-endian on the wire,
``UInt256`` big-endian in Avro), each pool's run of fixed fields (venue, decimals, three addresses: the value's
last 112 bytes) encoded once per distinct pool, and the parts laid side by side. Records whose parts have the same
lengths (nearly all of a read) are one matrix, cut into one bytes object per record.

:class:`SyncBatch` is what :class:`flows.bridge.Router` fills while its framer runs (the frame start of every
PoolSync frame in the read) and encodes when it routes the read. The records are those of the router's per-frame
routes, byte for byte: ``tests/bridge/test_fastpath.py`` compares them over generated streams.
"""

from __future__ import annotations

import numpy as np

from flows.relay.codec import ChecksumPolicy, Frame, decode_checked
from flows.relay.header import HEADER_STRUCT
from flows.relay.tlv import PoolSync
from schemas.avro_encoder import LONG_MAX, encode_int, encode_longs, encode_string

#: Bytes of a PoolSync frame: header, TLV header, value.
FRAME_SIZE = 32 + 2 + 160
_FRAME = np.dtype(
    {
        "names": ["domain", "source", "sequence", "timestamp", "event_ns", "block"],
        "formats": ["u1", "u1", "<u8", "<u8", "<u8", "<u8"],
        "offsets": [4, 6, 8, 16, 66, 74],
        "itemsize": FRAME_SIZE,
    }
)
_RESERVE0, _RESERVE1, _RUN = 34, 50, 82  # offsets in the frame: reserve0 and reserve1 (16 bytes each), the run
_RUN_SIZE = FRAME_SIZE - _RUN
_ZERO16 = bytes(16)

#: A pool's run of 112 bytes -> (key, Avro of pool, venue, token0, token1, token0_decimals, token1_decimals).
_POOLS: dict[bytes, tuple[bytes, bytes]] = {}
POOL_CACHE_SIZE = 4096


def pool_fields(run: bytes) -> tuple[bytes, bytes]:
    """Key and Avro encoding of the pool, venue, tokens and decimals of a PoolSync value's last 112 bytes.

    Decoded by PoolSync's own decoder (so the strings are the ones it makes) and cached, bounded: a pool's run of
    bytes is the same in every Sync of that pool.
    """
    found = _POOLS.get(run)
    if found is not None:
        return found
    t = PoolSync.decode(bytes(48) + run)
    found = (
        t.pool_address.encode(),
        encode_string(t.pool_address)
        + encode_int(t.venue)
        + encode_string(t.token0_addr)
        + encode_string(t.token1_addr)
        + encode_int(t.token0_decimals)
        + encode_int(t.token1_decimals),
    )
    if len(_POOLS) >= POOL_CACHE_SIZE:
        _POOLS.clear()
    _POOLS[run] = found
    return found


_MIX = np.uint64(0x9E3779B97F4A7C15)
#: What the framer emits in place of a collected frame.
PENDING = object()
TOPIC = "market.pool_sync"


def _distinct_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group equal rows of a uint8 matrix whose width is a multiple of 8: (first row of each group, group of each row).

    Rows are grouped by a 64-bit mix of their words (one sort of integers, not of byte strings), then checked
    against their group's first row byte for byte; only if two different rows mixed to the same number (never
    seen) are they grouped by their bytes instead.
    """
    words = matrix.view(np.uint64)
    mixed = np.zeros(len(matrix), np.uint64)
    for column in range(words.shape[1]):
        mixed = (mixed ^ words[:, column]) * _MIX
    _, first, which = np.unique(mixed, return_index=True, return_inverse=True)
    which = which.reshape(-1)
    if not bool((matrix == matrix[first[which]]).all()):
        _, first, which = np.unique(matrix.view(f"V{matrix.shape[1]}")[:, 0], return_index=True, return_inverse=True)
        which = which.reshape(-1)
    return first, which


class SyncBatch:
    """The PoolSync frames of one buffer, collected in stream order, encoded together."""

    def __init__(self) -> None:
        self.buf: bytes = b""
        self.base = 0  # stream offset of buf[0]
        self.starts: list[int] = []

    def reset(self) -> None:
        """Forget the frames of the previous buffer."""
        self.buf = b""
        self.starts = []

    def add(self, buf: bytes, start: int, end: int, fields: tuple, offset: int) -> object | None:
        """Collect the PoolSync frame at ``buf[start:end]`` (a framer shortcut: header ``fields``, stream ``offset``).

        Returns:
            :data:`PENDING`, to stand in the frame's place; None, collecting nothing, when ``buf`` is not the buffer
            of the frames collected so far.
        """
        if buf is not self.buf:
            if self.starts:
                return None
            self.buf, self.base = buf, offset - start
        self.starts.append(start)
        return PENDING

    def location(self, index: int) -> tuple[bytes, int, int, tuple, int]:
        """``(buf, start, end, header fields, stream offset)`` of the ``index``-th frame collected."""
        start = self.starts[index]
        return self.buf, start, start + FRAME_SIZE, HEADER_STRUCT.unpack_from(self.buf, start), self.base + start

    def frame(self, index: int, policy: ChecksumPolicy) -> Frame:
        """The ``index``-th frame collected, decoded (as the framer would have without the shortcut)."""
        buf, start, end, fields, _ = self.location(index)
        return decode_checked(buf, start, end, fields, policy, self.base)

    def rows(self) -> np.ndarray:
        """The collected frames as a ``(count, 194)`` uint8 matrix (a view when they lie back to back)."""
        data = np.frombuffer(self.buf, np.uint8)
        starts = np.asarray(self.starts, dtype=np.intp)
        first, count = int(starts[0]), len(starts)
        if int(starts[-1]) - first == (count - 1) * FRAME_SIZE and (
            count < 3 or bool((np.diff(starts) == FRAME_SIZE).all())
        ):
            return data[first : first + count * FRAME_SIZE].reshape(count, FRAME_SIZE)
        windows = np.lib.stride_tricks.sliding_window_view(data, FRAME_SIZE)
        return windows[starts]

    def routable(self, rows: np.ndarray, domain: int) -> np.ndarray:
        """Which frames the batch encodes: of ``domain``, and every long within Avro's range (the rest go singly)."""
        fields = rows.view(_FRAME)[:, 0]
        limit = np.uint64(LONG_MAX)
        return (
            (fields["domain"] == domain)
            & (fields["sequence"] <= limit)
            & (fields["timestamp"] <= limit)
            & (fields["event_ns"] <= limit)
            & (fields["block"] <= limit)
        )

    def encode(
        self, rows: np.ndarray, prefix: bytes, trace_head: bytes, trace_in: bytes, out_ns: list[int]
    ) -> list[tuple[str, bytes, bytes]]:
        """The records ``(topic, key, Avro payload)`` of the frames ``rows`` (all routable), with their readings.

        A payload is ``prefix`` + source, sequence, timestamp_ns, the pool's fields, reserve0, reserve1,
        block_number, event_timestamp_ns, then the trace map: ``trace_head`` (count and the ``relay_ns`` key), the
        header timestamp again, ``trace_in`` (``bridge_in_ns`` and the next key), the reading, the map's end.

        Args:
            rows: frames as :meth:`rows` returns them, every one :meth:`routable`.
            prefix: the single-object header of ``market.pool_sync``.
            trace_head: the trace map's bytes before its first value.
            trace_in: the trace map's bytes between ``relay_ns`` and ``bridge_out_ns``.
            out_ns: one ``bridge_out_ns`` reading per frame, each in ``0 .. 2**63 - 1``.
        """
        count = len(rows)
        fields = rows.view(_FRAME)[:, 0]
        longs = [encode_longs(fields[name]) for name in ("source", "sequence", "timestamp", "block", "event_ns")]
        longs.append(encode_longs(np.asarray(out_ns, dtype=np.uint64)))
        first, which = _distinct_rows(np.ascontiguousarray(rows[:, _RUN:]))
        pools = [pool_fields(rows[i, _RUN:].tobytes()) for i in first.tolist()]
        widest = max(len(p[1]) for p in pools)
        pool_bytes = np.zeros((len(pools), widest), np.uint8)
        for i, (_, encoded) in enumerate(pools):
            pool_bytes[i, : len(encoded)] = np.frombuffer(encoded, np.uint8)
        pool_lengths = np.array([len(p[1]) for p in pools])[which]
        # Records whose variable parts have the same lengths form one matrix: group by those lengths (each < 256).
        lengths = np.stack([n for _, n in longs] + [pool_lengths], axis=1).astype(np.int64)
        codes = (lengths << (np.arange(lengths.shape[1], dtype=np.int64) * 8)).sum(axis=1)
        if bool((codes == codes[0]).all()):
            shapes, group = lengths[:1], np.zeros(count, np.intp)
        else:
            _, index, group = np.unique(codes, return_index=True, return_inverse=True)
            shapes, group = lengths[index], group.reshape(-1)
        (source, sequence, timestamp, block, event_ns, out), pool_of = longs, pool_bytes[which]
        keys = [pools[i][0] for i in which.tolist()]
        records: list[tuple[str, bytes, bytes]] = [None] * count  # type: ignore[list-item]
        for g, shape in enumerate(shapes.tolist()):
            members = np.nonzero(group == g)[0] if len(shapes) > 1 else slice(None)
            n_src, n_seq, n_ts, n_block, n_event, n_out, n_pool = shape
            ts = timestamp[0][members, :n_ts]
            parts = (
                prefix,
                source[0][members, :n_src],
                sequence[0][members, :n_seq],
                ts,
                pool_of[members, :n_pool],
                _ZERO16,
                rows[members, _RESERVE0 + 15 : _RESERVE0 - 1 : -1],  # reserves: u128 LE -> UInt256 big-endian
                _ZERO16,
                rows[members, _RESERVE1 + 15 : _RESERVE1 - 1 : -1],
                block[0][members, :n_block],
                event_ns[0][members, :n_event],
                trace_head,
                ts,
                trace_in,
                out[0][members, :n_out],
                b"\x00",
            )
            widths = [len(part) if type(part) is bytes else part.shape[1] for part in parts]
            width = sum(widths)
            matrix = np.empty((count if len(shapes) == 1 else len(members), width), np.uint8)
            column = 0
            for part, n in zip(parts, widths, strict=True):
                matrix[:, column : column + n] = np.frombuffer(part, np.uint8) if type(part) is bytes else part
                column += n
            data = matrix.tobytes()
            if len(shapes) == 1:
                return [
                    (TOPIC, key, data[i : i + width]) for key, i in zip(keys, range(0, len(data), width), strict=True)
                ]
            for j, i in zip(members.tolist(), range(0, len(data), width), strict=True):
                records[j] = (TOPIC, keys[j], data[i : i + width])
        return records
