"""The decode operator (flows/builders/decode.py): Kafka chunks in, decoded values and dead letters out.

Each test is a small flow as Bytewax tests its own operators: ``TestingSource`` -> the operator -> ``TestingSink``,
run in one worker (``run_main``) and, where the split must not depend on it, in two (``cluster_main``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.errors import BytewaxRuntimeError
from bytewax.testing import TestingSink, TestingSource, cluster_main, run_main
from prometheus_client import REGISTRY

from base.errors import SchemaError
from flows.builders.decode import DECODE_ERRORS, Rejected, decode, per_record
from flows.connectors.kafka import KafkaChunk, OutRecord
from schemas.serde import AvroRecord, codec

GAS = "market.gas_price"
DLQ = "dlq.decode_test"


def gas(sequence: int) -> bytes:
    """A real ``market.gas_price`` payload (Avro single-object encoding)."""
    return codec(GAS).encode(
        {
            "source": 1, "sequence": sequence, "timestamp_ns": 1_000 + sequence, "venue": 200,
            "block_number": 50 + sequence, "event_timestamp_ns": 0, "gas_price_gwei": 30 + sequence,
            "base_fee_gwei": 25, "priority_fee_gwei": 5, "trace": {},
        }
    )  # fmt: skip


def run(
    chunks: list[KafkaChunk], decoder: Callable[[KafkaChunk], tuple[list, list[Rejected]]], flow_name: str, workers: int
) -> tuple[list, list[OutRecord]]:
    flow = Dataflow("decode_test")
    out = decode("decode", op.input("inp", flow, TestingSource(chunks)), decoder, flow=flow_name, dlq_topic=DLQ)
    oks: list = []
    errs: list[OutRecord] = []
    op.output("oks", out.oks, TestingSink(oks))
    op.output("errs", out.errs, TestingSink(errs))
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
    return oks, errs


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def read_gas(_topic: str) -> Callable[[bytes], AvroRecord]:
    return codec(GAS).decode


@pytest.mark.parametrize("workers", [1, 2])
def test_good_records_go_to_oks_and_bad_ones_to_errs_as_dead_letters(workers: int) -> None:
    flow_name = f"t{uuid.uuid4().hex[:8]}"
    chunks = [
        KafkaChunk(GAS, 3, [10, 11, 12], [gas(1), b"\xc3\x01 not a fingerprint", gas(2)]),
        KafkaChunk(GAS, 4, [7, 8], [None, gas(3)]),
    ]
    oks, errs = run(chunks, per_record(read_gas), flow_name, workers)

    assert sorted(r["sequence"] for r in oks) == [1, 2, 3]
    assert {e.topic for e in errs} == {DLQ} and all(e.key is None for e in errs)
    dead = sorted((codec(DLQ).decode(e.value) for e in errs), key=lambda r: r["partition"])
    assert [(d["source_topic"], d["partition"], d["offset"], d["raw"]) for d in dead] == [
        (GAS, 3, 11, b"\xc3\x01 not a fingerprint"),
        (GAS, 4, 7, b""),  # a missing value is decoded (and dead-lettered) as empty bytes
    ]
    assert {(d["flow"], d["stage"], d["error_class"]) for d in dead} == {(flow_name, "decode", "SchemaError")}
    assert dead[1]["reason"] == f"payload is not Avro single-object encoded (schema {GAS})"
    assert all(d["received_ns"] > 0 for d in dead)


def test_every_record_read_counts_in_and_every_refusal_counts_dead() -> None:
    flow_name = f"t{uuid.uuid4().hex[:8]}"
    chunks = [KafkaChunk(GAS, 0, [0, 1], [gas(1), b"x"]), KafkaChunk("other", 0, [5], [b"y"])]
    run(chunks, per_record(read_gas), flow_name, 1)
    assert metric("pulsearb_records_in_total", flow=flow_name, topic=GAS) == 2
    assert metric("pulsearb_records_in_total", flow=flow_name, topic="other") == 1
    assert metric("pulsearb_dead_letters_total", flow=flow_name, stage="decode") == 2


def test_a_record_decoded_to_none_is_dropped_without_a_dead_letter() -> None:
    def only_even(_topic: str) -> Callable[[bytes], int | None]:
        return lambda value: int(value) if int(value) % 2 == 0 else None

    oks, errs = run([KafkaChunk("t", 0, [0, 1, 2, 3], [b"2", b"3", b"4", b"z"])], per_record(only_even), "drop", 1)
    assert oks == [2, 4]
    assert [codec(DLQ).decode(e.value)["offset"] for e in errs] == [3]


def test_the_reader_is_asked_once_per_chunk_with_its_topic() -> None:
    asked: list[str] = []

    def reader(topic: str) -> Callable[[bytes], tuple[str, int]]:
        asked.append(topic)
        return lambda value: (topic, int(value))

    chunks = [KafkaChunk("a", 0, [0, 1], [b"1", b"2"]), KafkaChunk("b", 1, [0], [b"3"])]
    oks, _ = run(chunks, per_record(reader), "once", 1)
    assert asked == ["a", "b"]
    assert oks == [("a", 1), ("a", 2), ("b", 3)]


def test_a_chunk_decoder_may_refuse_with_a_reason_line() -> None:
    def keep_short(chunk: KafkaChunk) -> tuple[list[list[bytes | None]], list[Rejected]]:
        bad = [(i, f"{len(v or b'')} bytes: too long") for i, v in enumerate(chunk.values) if len(v or b"") > 3]
        drop = {i for i, _ in bad}
        return [[v for i, v in enumerate(chunk.values) if i not in drop]], bad

    oks, errs = run([KafkaChunk("t", 2, [40, 41, 42], [b"ab", b"abcdef", b"c"])], keep_short, "reason", 1)
    assert oks == [[b"ab", b"c"]]
    [dead] = [codec(DLQ).decode(e.value) for e in errs]
    assert (dead["error_class"], dead["reason"], dead["offset"], dead["raw"]) == (
        "Rejected", "6 bytes: too long", 41, b"abcdef",
    )  # fmt: skip


def test_an_error_outside_the_decode_errors_is_a_bug_and_stops_the_flow() -> None:
    def broken(_topic: str) -> Callable[[bytes], int]:
        def read(_value: bytes) -> int:
            raise RuntimeError("a bug, not bad input")

        return read

    assert issubclass(SchemaError, DECODE_ERRORS) and not issubclass(RuntimeError, DECODE_ERRORS)
    with pytest.raises(BytewaxRuntimeError, match=r"step \"decode_test\.decode\.decode\"") as raised:
        run([KafkaChunk("t", 0, [0], [b"1"])], per_record(broken), "bug", 1)
    cause = raised.value
    while cause.__cause__ is not None:
        cause = cause.__cause__
    assert isinstance(cause, RuntimeError) and str(cause) == "a bug, not bad input"
