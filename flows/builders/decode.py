"""The decode operator every flow that reads Kafka uses: chunks in, decoded values and dead letters out.

:func:`decode` has the shape of Bytewax's own ``bytewax.connectors.kafka.operators.deserialize``: step id first,
the upstream stream, the callback, and a frozen dataclass of two streams out (:class:`DecodeOut`: ``oks`` and
``errs``). Its callback is a :data:`ChunkDecoder`: one poll of one partition (a
:class:`~flows.connectors.kafka.KafkaChunk`) in, the values the flow goes on with and the records it refuses out.
Most flows decode record by record and build theirs with :func:`per_record`; the archive checks a whole chunk's
headers at once and writes its own.

For every refused record the operator produces a dead letter on the flow's ``dlq.*`` topic (stage ``decode``,
with the source topic, partition, offset, the error and the raw bytes: :func:`flows.deadletter.dead_letter`) and
counts it in ``pulsearb_dead_letters{stage="decode"}``; every record read, decoded or not, counts in
``pulsearb_records_in``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import bytewax.operators as op
from bytewax.dataflow import Stream, operator
from prometheus_client import Counter

from base.errors import PulsearbError
from flows.builders.common import dlq_record
from flows.connectors.kafka import KafkaChunk, OutRecord
from flows.metrics import DEAD_LETTERS, RECORDS_IN

X = TypeVar("X")
"""Type of the decoded values."""

DECODE_ERRORS = (PulsearbError, KeyError, ValueError, TypeError)
"""What a decoder may raise for a record that cannot be decoded: a dead letter, not a crash."""

Rejected = tuple[int, BaseException | str]
"""A refused record: its index in the chunk, and the error (or a one-line reason)."""

ChunkDecoder = Callable[[KafkaChunk], tuple[list[X], list[Rejected]]]
"""One chunk in; the decoded values (any number, in order) and the refused records out."""

PayloadDecoder = Callable[[bytes], X | None]
"""One record's value in; its decoded value out, None for a record the flow does not use, or one of
:data:`DECODE_ERRORS` raised."""


@dataclass(frozen=True)
class DecodeOut(Generic[X]):
    """The streams :func:`decode` returns."""

    oks: Stream[X]
    """Decoded values."""

    errs: Stream[OutRecord]
    """Dead letters, Avro-encoded for the flow's ``dlq.*`` topic (produce them with the flow's Kafka sink)."""


class _Dead:
    """A dead letter on its way through the split (a marker no decoded value can be mistaken for)."""

    __slots__ = ("record",)

    def __init__(self, record: OutRecord) -> None:
        self.record = record


def per_record(reader: Callable[[str], PayloadDecoder[X]]) -> ChunkDecoder[X]:
    """A chunk decoder that decodes each record on its own.

    Args:
        reader: ``reader(topic)`` returns the decoder of one payload of that topic (asked once per chunk, so it may
            also fix per-chunk values such as a read time). A missing value is decoded as ``b""``.
    """

    def decode_chunk(chunk: KafkaChunk) -> tuple[list[X], list[Rejected]]:
        read = reader(chunk.topic)
        oks: list[X] = []
        bad: list[Rejected] = []
        for i, value in enumerate(chunk.values):
            try:
                x = read(value or b"")
            except DECODE_ERRORS as exc:
                bad.append((i, exc))
                continue
            if x is not None:
                oks.append(x)
        return oks, bad

    return decode_chunk


@operator
def decode(
    step_id: str, up: Stream[KafkaChunk], decoder: ChunkDecoder[X], *, flow: str, dlq_topic: str
) -> DecodeOut[X]:
    """Decode Kafka chunks; refused records become dead letters on a second stream.

    ```python
    from bytewax.dataflow import Dataflow
    from bytewax.testing import TestingSink, TestingSource, run_main
    import bytewax.operators as op

    flow = Dataflow("decode_eg")
    chunks = op.input("inp", flow, TestingSource([KafkaChunk("t", 0, [0, 1], [b"7", b"x"])]))
    out = decode("decode", chunks, per_record(lambda _topic: int), flow="eg", dlq_topic="dlq.eg")
    oks, errs = [], []
    op.output("oks", out.oks, TestingSink(oks))
    op.output("errs", out.errs, TestingSink(errs))
    run_main(flow)
    assert oks == [7] and [e.topic for e in errs] == ["dlq.eg"]
    ```

    Args:
        step_id: unique id.
        up: chunks, as :class:`~flows.connectors.kafka.KafkaSource` yields them with ``chunks=True``.
        decoder: the flow's :data:`ChunkDecoder` (:func:`per_record` builds one from a payload decoder).
        flow: flow name: the dead letters' ``flow`` and the metrics' ``flow`` label.
        dlq_topic: where the dead letters go (a ``dlq.*`` topic).

    Returns:
        :class:`DecodeOut`: the decoded values and the dead letters.
    """
    dead = DEAD_LETTERS.labels(flow, "decode")
    records_in: dict[str, Counter] = {}

    def shim_mapper(batch: list[KafkaChunk]) -> list[X | _Dead]:
        out: list[X | _Dead] = []
        for chunk in batch:
            oks, bad = decoder(chunk)
            out += oks
            if bad:
                for i, why in bad:
                    raw = chunk.values[i] or b""
                    rec = dlq_record(
                        flow, dlq_topic, "decode", why, raw,
                        source_topic=chunk.topic, partition=chunk.partition, offset=chunk.offsets[i],
                    )  # fmt: skip
                    out.append(_Dead(rec))
                dead.inc(len(bad))
            counter = records_in.get(chunk.topic)
            if counter is None:
                counter = records_in[chunk.topic] = RECORDS_IN.labels(flow, chunk.topic)
            counter.inc(len(chunk.offsets))
        return out

    decoded = op.flat_map_batch("decode", up, shim_mapper)
    split = op.branch("split", decoded, lambda x: type(x) is not _Dead)
    errs = op.map("errs", split.falses, lambda d: d.record)  # type: ignore[union-attr]
    return DecodeOut(split.trues, errs)  # type: ignore[arg-type]


__all__ = ["DECODE_ERRORS", "ChunkDecoder", "DecodeOut", "PayloadDecoder", "Rejected", "decode", "per_record"]
