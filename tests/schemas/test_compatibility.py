"""Schema evolution: every kept version of every topic schema and the current one read each other's data.

For each schema in schemas/avro, the versions kept in schemas/avro/history/<name>/ and the current file must be
mutually backward and forward compatible: records generated for one version, written with it, are read with every
other version through Avro schema resolution (fastavro), and the fields both versions share come back unchanged.
The check is shown to fail on deliberately incompatible changes, and to pass the one evolution the rules allow (a
new field with a default, in a new history version).

Payloads self-identify: Avro single-object encoding, ``C3 01`` then the writer schema's CRC-64-AVRO fingerprint of
its Parsing Canonical Form, little-endian (Avro specification, "Single-object encoding"). The fingerprint is
computed here from the specification's algorithm, independently of fastavro.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import random
from pathlib import Path

import fastavro
import pytest
from fastavro.schema import to_parsing_canonical_form
from fastavro.utils import generate_many

from schemas.serde import AVRO_DIR, codec, history_paths, load_schema_file, topics_with_schemas

SAMPLES = 25


def _versions(name: str) -> list[tuple[str, Path]]:
    """Every kept version and the current schema, oldest first."""
    return [(p.stem, p) for p in history_paths(name)] + [("current", AVRO_DIR / f"{name}.avsc")]


def _samples(schema: dict, seed: int) -> list[dict]:
    random.seed(seed)  # generate_many draws from the module's generator
    return list(generate_many(schema, SAMPLES))


def _write(schema: dict, record: dict) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, record)
    return buf.getvalue()


def compatibility_problems(writer: dict, reader: dict, seed: int = 1) -> list[str]:
    """Problems reading ``writer``'s data with ``reader`` (empty when every sample resolves and keeps its values)."""
    problems = []
    shared = {f["name"] for f in writer["fields"]} & {f["name"] for f in reader["fields"]}
    same_type = {
        f["name"]
        for f in writer["fields"]
        if f["name"] in shared and f["type"] == next(g["type"] for g in reader["fields"] if g["name"] == f["name"])
    }
    for record in _samples(writer, seed):
        try:
            back = fastavro.schemaless_reader(io.BytesIO(_write(writer, record)), writer, reader)
        except Exception as exc:  # fastavro raises SchemaResolutionError, or KeyError/ValueError on odd schemas
            problems.append(f"{type(exc).__name__}: {exc}")
            break
        for name in same_type:
            if back[name] != record[name]:
                problems.append(f"field {name}: wrote {record[name]!r}, read {back[name]!r}")
        for f in reader["fields"]:
            if f["name"] not in shared and back[f["name"]] != f.get("default"):
                problems.append(f"field {f['name']}: not filled from its default")
    return problems


@pytest.mark.parametrize("name", topics_with_schemas())
def test_every_kept_version_and_the_current_schema_read_each_other(name: str) -> None:
    versions = [(label, load_schema_file(path)) for label, path in _versions(name)]
    assert len(versions) >= 2, f"{name}: the current schema must also be kept in schemas/avro/history/{name}/"
    for (wl, writer), (rl, reader) in itertools.permutations(versions, 2):
        problems = compatibility_problems(writer, reader)
        assert not problems, f"{name}: data written with {wl} cannot be read with {rl}: {problems[0]}"


@pytest.mark.parametrize("name", topics_with_schemas())
def test_the_current_schema_is_kept_as_the_newest_history_version(name: str) -> None:
    current = to_parsing_canonical_form(load_schema_file(AVRO_DIR / f"{name}.avsc"))
    newest = to_parsing_canonical_form(load_schema_file(history_paths(name)[-1]))
    assert current == newest, f"{name}: a changed schema needs a new schemas/avro/history/{name}/vN.avsc copy"
    prints = [_crc64_avro(to_parsing_canonical_form(load_schema_file(p)).encode()) for p in history_paths(name)]
    assert len(set(prints)) == len(prints), f"{name}: two kept versions have the same fingerprint"


def _evolve(name: str, change) -> dict:
    raw = json.loads((AVRO_DIR / f"{name}.avsc").read_text())
    change(raw["fields"])
    return fastavro.parse_schema(copy.deepcopy(raw))


def test_a_new_field_without_default_is_caught_backward() -> None:
    current = load_schema_file(AVRO_DIR / "market.pool_sync.avsc")
    v2 = _evolve("market.pool_sync", lambda fields: fields.append({"name": "fee_bps", "type": "int"}))
    assert compatibility_problems(current, v2), "old data read with the new schema must fail: no default"
    assert not compatibility_problems(v2, current)  # new data, old reader: the extra field is skipped


def test_removing_a_field_without_default_is_caught_forward() -> None:
    current = load_schema_file(AVRO_DIR / "market.pool_sync.avsc")
    v2 = _evolve("market.pool_sync", lambda fields: fields.remove(next(f for f in fields if f["name"] == "venue")))
    assert compatibility_problems(v2, current), "new data read with the old schema must fail: venue has no default"


def test_a_changed_type_is_caught_both_ways() -> None:
    current = load_schema_file(AVRO_DIR / "dlq.avsc")
    v2 = _evolve("dlq", lambda fields: next(f for f in fields if f["name"] == "received_ns").update(type="string"))
    assert compatibility_problems(current, v2) and compatibility_problems(v2, current)


def test_a_new_field_with_a_default_is_compatible_both_ways() -> None:
    current = load_schema_file(AVRO_DIR / "market.pool_sync.avsc")
    v2 = _evolve(
        "market.pool_sync", lambda fields: fields.append({"name": "fee_bps", "type": ["null", "int"], "default": None})
    )
    assert not compatibility_problems(current, v2)
    assert not compatibility_problems(v2, current)


# --- self-identifying payloads ---

_EMPTY = 0xC15D213AA4D7A795  # the specification's EMPTY fingerprint


def _table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_FP_TABLE = _table()


def _crc64_avro(data: bytes) -> int:
    """CRC-64-AVRO (Rabin) exactly as the Avro specification's reference code computes it."""
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _FP_TABLE[(fp ^ byte) & 0xFF]
    return fp


def test_crc64_avro_matches_the_specification_test_vector() -> None:
    assert _crc64_avro(b'"null"') == 7195948357588979594  # Avro's schema-tests: fingerprint of "null"


@pytest.mark.parametrize("name", topics_with_schemas())
def test_every_payload_carries_its_writer_schema_fingerprint(name: str) -> None:
    topic = "dlq.relay" if name == "dlq" else name
    schema = load_schema_file(AVRO_DIR / f"{name}.avsc")
    fingerprint = _crc64_avro(to_parsing_canonical_form(schema).encode()).to_bytes(8, "little")
    for record in _samples(schema, seed=3):
        payload = codec(topic).encode(record)
        assert payload[:2] == b"\xc3\x01"
        assert payload[2:10] == fingerprint
        assert fastavro.schemaless_reader(io.BytesIO(payload[10:]), schema, None) == record
        assert codec(topic).decode(payload) == record


@pytest.mark.parametrize("name", topics_with_schemas())
def test_payloads_of_kept_versions_decode_with_the_current_codec(name: str) -> None:
    topic = "dlq.relay" if name == "dlq" else name
    for old in history_paths(name):
        schema = load_schema_file(old)
        header = b"\xc3\x01" + _crc64_avro(to_parsing_canonical_form(schema).encode()).to_bytes(8, "little")
        for record in _samples(schema, seed=5)[:5]:
            decoded = codec(topic).decode(header + _write(schema, record))
            assert set(decoded) == {f["name"] for f in codec(topic).schema["fields"]}
