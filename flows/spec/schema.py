"""The spec schema, version 1: one table of fields that both validation and the JSON Schema export read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flows.spec.model import KINDS, SPEC_VERSION, SPECS_DIR
from flows.spec.problems import MISSING

SCHEMA_FILE = SPECS_DIR / "schema" / f"flow-spec.v{SPEC_VERSION}.json"


@dataclass(frozen=True, slots=True)
class Field:
    """One field of the spec schema; validation and the JSON Schema export both read it.

    Args:
        type: string, integer, number, boolean, array, object (fixed keys) or mapping (free keys).
        doc: one line for docs and the JSON Schema ``description``.
        default: value when absent (``MISSING``: none).
        required: the key must be present.
        enum: allowed values.
        minimum: smallest allowed number; ``exclusive`` makes it a strict bound.
        maximum: largest allowed number.
        pattern: regular expression a string must match; ``expect`` says it in words.
        items: schema of array items; ``min_items``/``max_items`` bound the length.
        fields: keys of an object.
        values: schema of a mapping's values (None: anything).
    """

    type: str
    doc: str
    default: Any = MISSING
    required: bool = False
    enum: tuple[Any, ...] = ()
    minimum: float | None = None
    exclusive: bool = False
    maximum: float | None = None
    pattern: str = ""
    expect: str = ""
    items: Field | None = None
    min_items: int = 0
    max_items: int | None = None
    fields: Mapping[str, Field] | None = None
    values: Field | None = None


def _obj(doc: str, **fields: Field) -> Field:
    return Field("object", doc, fields=fields)


TOPIC = Field("string", "a Kafka topic", pattern=r"^[A-Za-z0-9._-]{1,249}$", expect="a Kafka topic name")
TOKEN = Field("string", "a token address", pattern=r"^0x[0-9a-fA-F]{40}$", expect="a token address (0x + 40 hex)")

SCHEMA: dict[str, Field] = {
    "version": Field("integer", "spec schema version", required=True, enum=(SPEC_VERSION,)),
    "name": Field(
        "string",
        "flow name: unique; used in opportunity ids, dlq.<name>, metrics labels and directories",
        required=True,
        pattern=r"^[a-z][a-z0-9_]{0,47}$",
        expect="a name of lower-case letters, digits and _ (at most 48, starting with a letter)",
    ),
    "kind": Field("string", "which builder turns the spec into a dataflow", required=True, enum=KINDS),
    "description": Field("string", "one line shown by `pulsearb flows list`", default=""),
    "inputs": _obj(
        "where the flow reads",
        topics=Field("array", "Kafka topics read (every partition)", items=TOPIC, default=()),
        key=Field(
            "string",
            "record key of the input topics ('' = the kind's usual key)",
            enum=("", "pool", "instrument", "pair", "opportunity", "venue"),
            default="",
        ),
        start_offset=Field(
            "string", "where to start without a recovery snapshot", enum=("earliest", "latest"), default="earliest"
        ),
        relay_socket=Field("string", "bridge: AlphaPulse relay socket ('' = set at deploy)", default=""),
    ),
    "clock": _obj(
        "which time windows and staleness use",
        type=Field(
            "string", "event time (record timestamp_ns) or system time", enum=("event", "system"), default="event"
        ),
        wait_for_system_ms=Field("integer", "event clock: how long to wait for late records, ms", minimum=0, default=0),
        hold_ms=Field(
            "integer",
            "event clock: how long after its event time an update waits for earlier-stamped partners before the "
            "strategy runs on it, ms (0: on arrival)",
            minimum=0,
            default=0,
        ),
    ),
    "window": _obj(
        "how inputs are grouped in time",
        type=Field(
            "string",
            "latest: newest state per key; tumbling/sliding/session: time windows",
            enum=("latest", "tumbling", "sliding", "session"),
            default="latest",
        ),
        length_ms=Field("integer", "tumbling and sliding: window length, ms", minimum=1, default=0),
        slide_ms=Field("integer", "sliding: distance between window starts, ms", minimum=1, default=0),
        gap_ms=Field("integer", "session: inactivity gap that closes a window, ms", minimum=1, default=0),
    ),
    "join": _obj(
        "which states are evaluated together",
        by=Field(
            "string",
            "pair: states of one token pair together; graph: every state of the flow ('' = the strategy's)",
            enum=("", "pair", "graph"),
            default="",
        ),
        pairs=Field(
            "array",
            "only these token pairs (empty: every pair)",
            items=Field("array", "two token addresses", items=TOKEN, min_items=2, max_items=2),
            default=(),
        ),
        tokens=Field("array", "only pools whose two tokens are both in this set (empty: any)", items=TOKEN, default=()),
        venues=Field(
            "array",
            "only these venue ids (empty: every venue)",
            items=Field("integer", "a venue id", minimum=0),
            default=(),
        ),
    ),
    "strategy": _obj(
        "detector: the strategy and its parameters",
        name=Field(
            "string",
            "registered strategy name (built in or from the pulsearb.strategies entry points)",
            pattern=r"^[a-z][a-z0-9_]*$",
            expect="a strategy name (lower-case letters, digits, _)",
            default="",
        ),
        params=Field("mapping", "strategy parameters, checked by the builder", default={}),
    ),
    "risk": Field("mapping", "risk_execution: limits and kill switch, checked by the builder", default={}),
    "collector": Field("mapping", "collector: chain id, factories, pools, polling; checked by the builder", default={}),
    "outputs": _obj(
        "topics the flow writes",
        opportunities=Field("string", "detector: opportunities topic", pattern=TOPIC.pattern, expect=TOPIC.expect),
        decisions=Field("string", "risk_execution: decisions topic", pattern=TOPIC.pattern, expect=TOPIC.expect),
        executions=Field("string", "risk_execution: executions topic", pattern=TOPIC.pattern, expect=TOPIC.expect),
        states=Field("string", "collector: pool states topic", pattern=TOPIC.pattern, expect=TOPIC.expect),
        dlq=Field("string", "dead letters ('' = dlq.<name>)", pattern=TOPIC.pattern, expect=TOPIC.expect, default=""),
    ),
    "store": _obj(
        "archive: ClickHouse store",
        dsn=Field("string", "DSN without password ('' = set at deploy; secrets via PULSEARB_STORE_DSN)", default=""),
        database=Field(
            "string", "database", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", expect="a database name", default="pulsearb"
        ),
        batch_rows=Field("integer", "rows per INSERT at most", minimum=1, default=50_000),
        batch_age_s=Field("number", "seconds a row may wait for its batch", minimum=0, exclusive=True, default=0.5),
        max_backoff_s=Field(
            "number", "cap of the retry backoff while the store is down", minimum=0, exclusive=True, default=10.0
        ),
        aliases=Field(
            "mapping", "topic -> topic whose schema and table it uses", values=Field("string", "topic"), default={}
        ),
    ),
    "resources": _obj(
        "processes and threads",
        processes=Field("integer", "Bytewax processes (a cluster when > 1)", minimum=1, maximum=64, default=1),
        workers_per_process=Field("integer", "worker threads per process", minimum=1, maximum=64, default=1),
    ),
    "recovery": _obj(
        "Bytewax snapshots",
        directory=Field("string", "recovery directory ('' = none, or the deploy manager's)", default=""),
        snapshot_interval_s=Field(
            "number", "seconds between snapshots (the epoch length)", minimum=0, exclusive=True, default=1.0
        ),
        backup_interval_s=Field("number", "seconds old snapshots are kept", minimum=0, default=0.0),
    ),
    "observability": _obj(
        "metrics and logs",
        metrics_port=Field(
            "integer",
            "Prometheus port on 127.0.0.1 (0 = none, or assigned at deploy)",
            minimum=0,
            maximum=65535,
            default=0,
        ),
        log_level=Field(
            "string", "log level", enum=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), default="WARNING"
        ),
    ),
}
TOP = Field("object", "a pulsearb flow spec", fields=SCHEMA)


def _schema_of(f: Field) -> dict[str, Any]:
    kind = "object" if f.type == "mapping" else f.type
    out: dict[str, Any] = {"type": kind, "description": f.doc}
    if f.enum:
        out["enum"] = list(f.enum)
    if f.minimum is not None:
        out["exclusiveMinimum" if f.exclusive else "minimum"] = f.minimum
    if f.maximum is not None:
        out["maximum"] = f.maximum
    if f.pattern:
        out["pattern"] = f.pattern
    if f.items is not None:
        out["items"] = _schema_of(f.items)
    if f.type == "array" and f.min_items:
        out["minItems"] = f.min_items
    if f.max_items is not None:
        out["maxItems"] = f.max_items
    if f.fields is not None:
        out["properties"] = {k: _schema_of(v) for k, v in f.fields.items()}
        out["additionalProperties"] = False
        required = [k for k, v in f.fields.items() if v.required]
        if required:
            out["required"] = required
    if f.type == "mapping":
        out["additionalProperties"] = _schema_of(f.values) if f.values is not None else True
    if f.default is not MISSING:
        out["default"] = list(f.default) if isinstance(f.default, tuple) else f.default
    return out


def json_schema() -> dict[str, Any]:
    """The spec schema as JSON Schema (draft 2020-12); the committed copy lives at :data:`SCHEMA_FILE`."""
    body = _schema_of(TOP)
    body.pop("default", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://pulsearb.dev/schemas/flow-spec.v{SPEC_VERSION}.json",
        "title": f"pulsearb flow spec, version {SPEC_VERSION}",
        **body,
    }
