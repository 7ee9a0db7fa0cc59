"""The schema-compiled Avro encoder writes exactly what fastavro writes, and rejects what fastavro rejects.

For every topic schema in schemas/avro, hypothesis generates records (edge values included: 0, -1, the int and
long bounds, empty and non-ASCII strings, empty maps and arrays, nulls in unions) and the compiled encoder's
payload is compared byte for byte with the single-object header plus ``fastavro.schemaless_writer``'s body; the
compiled path must take every such record itself (no fallback). Records that do not match (a field of the wrong
type, a missing field, an int out of range, a fixed of the wrong size) must end as fastavro's verdict: the same
bytes when fastavro accepts them anyway, a SchemaError from ``TopicCodec.encode`` when it does not.
"""

from __future__ import annotations

import io
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from base.errors import SchemaError
from schemas import avro_encoder
from schemas.avro_encoder import (
    INT_MAX,
    INT_MIN,
    LONG_MAX,
    LONG_MIN,
    Unsupported,
    compile_encoder,
    encode_int,
    encode_long,
    encode_string,
)
from schemas.serde import TopicCodec, codec, topics_with_schemas

SCHEMAS = topics_with_schemas()
EDGE_INTS = [0, 1, -1, 63, 64, -64, -65, 8191, 8192, -8193, INT_MIN, INT_MAX]
EDGE_LONGS = [*EDGE_INTS, 2**27, 2**28 - 1, 2**28, 2**42, -(2**42), 2**56, -(2**56), LONG_MIN, LONG_MAX]
EDGE_STRINGS = ["", "a", "0x" + "ab" * 20, "é", "日本語", "\U0001f600", "x" * 64, "y" * 65, "z" * 300]


def _reference(schema: dict, record: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, record)
    return buf.getvalue()


def _strategy(schema: Any, named: dict[str, dict]) -> st.SearchStrategy[Any]:
    """Values of an Avro type, edge values drawn often."""
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    if isinstance(schema, list):
        return st.one_of(*[_strategy(branch, named) for branch in schema])
    kind = schema["type"] if isinstance(schema, dict) else schema
    if isinstance(kind, dict | list):
        return _strategy(kind, named)
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "int":
        return st.one_of(st.sampled_from(EDGE_INTS), st.integers(INT_MIN, INT_MAX))
    if kind == "long":
        return st.one_of(st.sampled_from(EDGE_LONGS), st.integers(LONG_MIN, LONG_MAX))
    if kind == "double":
        return st.floats(allow_nan=False)
    if kind == "string":
        return st.one_of(st.sampled_from(EDGE_STRINGS), st.text(max_size=80))
    if kind == "bytes":
        return st.binary(max_size=300)
    if kind == "fixed":
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(_strategy(schema["items"], named), max_size=5)
    if kind == "map":
        keys = st.one_of(st.sampled_from(EDGE_STRINGS), st.text(max_size=12))
        return st.dictionaries(keys, _strategy(schema["values"], named), max_size=5)
    if kind == "record":
        named.setdefault(schema["name"], schema)
        return st.fixed_dictionaries({f["name"]: _strategy(f["type"], named) for f in schema["fields"]})
    raise AssertionError(f"no strategy for {kind!r}")


def _named(schema: dict) -> dict[str, dict]:
    return dict(schema.get("__named_schemas") or {})


@pytest.mark.parametrize("name", SCHEMAS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_payload_equals_fastavro_for_every_schema(name: str, data: st.DataObject) -> None:
    c = codec(name)
    record = data.draw(_strategy(c.schema, _named(c.schema)))
    expected = c.header + _reference(c.schema, record)
    assert c.compiled is not None
    assert c.compiled(record) == expected  # the fast path takes it: Unsupported would fail the test
    assert c.encode(record) == expected
    assert c.decode(expected) == c.decode(c.encode(record))


BAD_VALUES = [None, "text", b"bytes", 1.5, True, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1, [], {}, {"k": "v"}, (1,)]


@pytest.mark.parametrize("name", SCHEMAS)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mismatched_records_end_as_fastavro_decides(name: str, data: st.DataObject) -> None:
    """One field replaced by a value of another type or range, or removed: fastavro's bytes or a SchemaError."""
    c = codec(name)
    record = dict(data.draw(_strategy(c.schema, _named(c.schema))))
    field = data.draw(st.sampled_from([f["name"] for f in c.schema["fields"]]))
    if data.draw(st.booleans()):
        del record[field]
    else:
        record[field] = data.draw(st.sampled_from(BAD_VALUES))
    try:
        expected = c.encode_reference(record)
    except SchemaError:
        with pytest.raises(SchemaError, match=f"record does not match schema {c.name}"):
            c.encode(record)
    else:
        assert c.encode(record) == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pool", 5),  # wrong type
        ("token0", b"0xabc"),  # bytes for a string
        ("sequence", 2**63),  # out of the long range
        ("block_number", -(2**63) - 1),
        ("reserve0", bytes(31)),  # fixed of the wrong size
        ("reserve1", bytes(33)),
        ("trace", {"relay_ns": "late"}),  # wrong map value type
        ("trace", {7: 1}),  # non-string map key
    ],
)
def test_a_record_that_does_not_match_raises_schema_error(field: str, value: Any) -> None:
    c = codec("market.pool_sync")
    record = _pool_sync_record()
    record[field] = value
    with pytest.raises(Unsupported):
        c.compiled(record)  # type: ignore[misc]
    with pytest.raises(SchemaError, match=r"record does not match schema market\.pool_sync"):
        c.encode(record)


def test_a_missing_field_raises_schema_error() -> None:
    c = codec("market.pool_sync")
    record = _pool_sync_record()
    del record["token1"]
    with pytest.raises(SchemaError, match="no value and no default for token1"):
        c.encode(record)


def test_a_missing_field_with_a_default_is_written_with_it() -> None:
    c = codec("market.pool_sync")
    record = _pool_sync_record()
    del record["trace"]
    assert c.encode(record) == c.header + _reference(c.schema, record)
    assert c.decode(c.encode(record))["trace"] == {}


def test_values_fastavro_accepts_leniently_keep_fastavro_bytes() -> None:
    """fastavro writes a bool as an int and a 2**40 int field as a long: the fallback keeps those bytes."""
    c = codec("market.pool_sync")
    for field, value in [("source", True), ("venue", 2**40), ("sequence", 7.9)]:
        record = _pool_sync_record()
        record[field] = value
        assert c.encode(record) == c.header + _reference(c.schema, record)


@given(st.integers(LONG_MIN, LONG_MAX))
@settings(max_examples=500, deadline=None)
def test_encode_long_is_the_avro_varint(value: int) -> None:
    schema = fastavro.parse_schema({"type": "record", "name": "L", "fields": [{"name": "v", "type": "long"}]})
    assert encode_long(value) == _reference(schema, {"v": value})


def test_encode_long_and_int_edges() -> None:
    long_schema = fastavro.parse_schema({"type": "record", "name": "L", "fields": [{"name": "v", "type": "long"}]})
    for bits in range(64):
        for value in (2**bits - 1, 2**bits, -(2**bits), -(2**bits) - 1):
            if LONG_MIN <= value <= LONG_MAX:
                assert encode_long(value) == _reference(long_schema, {"v": value}), value
            if INT_MIN <= value <= INT_MAX:
                assert encode_int(value) == encode_long(value), value
    for bad in (2**63, LONG_MIN - 1, True, 1.0, "1", None):
        with pytest.raises(Unsupported):
            encode_long(bad)  # type: ignore[arg-type]
    for bad in (2**31, INT_MIN - 1, False):
        with pytest.raises(Unsupported):
            encode_int(bad)  # type: ignore[arg-type]


def test_string_cache_is_bounded_and_keeps_encodings_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(avro_encoder, "STRING_CACHE_SIZE", 4)
    cache = avro_encoder._STRINGS
    for i in range(20):
        text = f"addr-{i}-é"
        raw = text.encode()
        assert encode_string(text) == bytes([len(raw) * 2]) + raw
        assert len(cache) <= 4
    with pytest.raises(Unsupported):
        encode_string("\ud800")  # a lone surrogate is not UTF-8


def test_every_type_the_compiler_leaves_to_fastavro_still_encodes_through_the_codec() -> None:
    """float, logical types and wider unions are not compiled; TopicCodec then writes fastavro's bytes."""
    schema = fastavro.parse_schema(
        {
            "type": "record",
            "name": "Other",
            "fields": [
                {"name": "f", "type": "float"},
                {"name": "d", "type": {"type": "long", "logicalType": "timestamp-micros"}},
                {"name": "u", "type": ["null", "int", "string"]},
            ],
        }
    )
    record = {"f": 1.5, "d": 5, "u": "x"}
    with pytest.raises(Unsupported):
        compile_encoder(schema)(record)
    c = TopicCodec(name="other", schema=schema, fp=b"\x00" * 8, header=b"\xc3\x01" + b"\x00" * 8)
    assert c.encode(record) == c.header + _reference(schema, record)


def test_recursive_named_records_compile() -> None:
    schema = fastavro.parse_schema(
        {
            "type": "record",
            "name": "Node",
            "fields": [
                {"name": "v", "type": "long"},
                {"name": "children", "type": {"type": "array", "items": "Node"}},
                {"name": "next", "type": ["null", "Node"]},
            ],
        }
    )
    encoder = compile_encoder(schema)
    record = {"v": 1, "children": [{"v": -2, "children": [], "next": None}], "next": None}
    assert encoder(record) == _reference(schema, record)
    with pytest.raises(Unsupported):  # a union with a record branch is left to fastavro
        encoder({"v": 1, "children": [], "next": {"v": 2, "children": [], "next": None}})


def test_compile_encoder_takes_record_schemas_only() -> None:
    with pytest.raises(ValueError, match="record schema"):
        compile_encoder({"type": "map", "values": "long"})


def _pool_sync_record() -> dict[str, Any]:
    return {
        "source": 4,
        "sequence": 17,
        "timestamp_ns": 1_754_524_800_000_000_000,
        "pool": "0x" + "ab" * 20,
        "venue": 400,
        "token0": "0x" + "01" * 20,
        "token1": "0x" + "02" * 20,
        "token0_decimals": 6,
        "token1_decimals": 18,
        "reserve0": (10**12).to_bytes(32, "big"),
        "reserve1": (10**21).to_bytes(32, "big"),
        "block_number": 50_000_000,
        "event_timestamp_ns": 1_754_524_800_000_000_123,
        "trace": {"relay_ns": 1, "bridge_in_ns": 1_795_673_904_724_997_267, "bridge_out_ns": 2**62},
    }


def _field_encoder(field: dict, named: dict[str, dict]) -> Any:
    """The compiled encoder of one field alone: a record of that one field has exactly the field's encoding."""
    return compile_encoder({"type": "record", "name": "One", "fields": [field], "__named_schemas": named})


@pytest.mark.parametrize("name", SCHEMAS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_values_encoder_equals_the_record_encoder(name: str, data: st.DataObject) -> None:
    """Positional values, in any order and with any fields passed pre-encoded, give the record encoder's bytes.

    Records are drawn valid and with one field of another type or range; where the record encoder does not take
    the record, the values encoder raises Unsupported too.
    """
    c = codec(name)
    named = {**_named(c.schema)}
    record = dict(data.draw(_strategy(c.schema, named)))
    fields = {f["name"]: f for f in c.schema["fields"]}
    if data.draw(st.booleans()):
        record[data.draw(st.sampled_from(sorted(fields)))] = data.draw(st.sampled_from(BAD_VALUES))
    names = tuple(data.draw(st.permutations(sorted(fields))))
    encoded = frozenset(data.draw(st.lists(st.sampled_from(sorted(fields)), unique=True)))
    values = []
    try:
        expected: bytes | None = c.compiled(record)  # type: ignore[misc]
    except Unsupported:
        expected = None
    try:
        for n in names:
            values.append(_field_encoder(fields[n], named)({n: record[n]}) if n in encoded else record[n])
    except Unsupported:
        assert expected is None  # a field the record encoder does not take either
        return
    encoder = c.values_encoder(names, encoded)
    if expected is None:
        with pytest.raises(Unsupported):
            encoder(*values)
    else:
        assert encoder(*values) == expected


def test_values_encoder_takes_exactly_the_schemas_fields() -> None:
    c = codec("market.pool_sync")
    names = tuple(f["name"] for f in c.schema["fields"])
    with pytest.raises(ValueError, match="are not the fields"):
        c.values_encoder(names[:-1])
    with pytest.raises(ValueError, match="are not all fields"):
        c.values_encoder(names, frozenset({"nope"}))
    record = _pool_sync_record()
    assert c.values_encoder(names)(*(record[n] for n in names)) == c.encode(record)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.integers(0, 130), st.integers(0, 2**63 - 1), st.sampled_from([0, 63, 64, 2**62, 2**63 - 1])),
        min_size=1,
        max_size=50,
    )
)
def test_encode_longs_is_encode_long_of_each_value(values: list[int]) -> None:
    import numpy as np

    encoded, lengths = avro_encoder.encode_longs(np.array(values, dtype=np.uint64))
    for row, n, value in zip(encoded, lengths, values, strict=True):
        assert bytes(row[:n]) == encode_long(value)
        assert not row[n:].any()
