"""Schema-compiled Avro binary encoders: one generated Python function per schema, byte-identical to fastavro.

``fastavro.schemaless_writer`` interprets the schema for every record: it walks the field list, dispatches on each
type name and writes through a buffer object, which costs more than the relay decode and the Kafka produce
together on the bridge's hot path. :func:`compile_encoder` does that walk once per schema and per process: it
generates the source of a function specialised to the schema's fields (inline zig-zag varints for int and long,
length-prefixed UTF-8 for string, raw bytes for fixed, the branch index for ``["null", X]`` unions, maps and arrays
as one Avro block, records inline or as their own function for named records), compiles it with :func:`exec`, and
returns it.

The compiled function takes only what it is sure of: values of the exact Python types the schema names (``int``
but not ``bool`` for int and long, ``str``, ``bytes``, ``float`` for double, ``dict`` for records and maps,
``list`` for arrays) and within range. Anything else (a missing field left to its default, a bool in an int field,
an int out of range, a fixed of the wrong size, a type this compiler leaves to fastavro: float, logical types,
other unions) raises :class:`Unsupported`, and the caller then encodes the record with fastavro, which writes it or
says why not. Output and errors therefore stay fastavro's for every record; ``tests/schemas/test_avro_encoder.py``
checks the compiled path against fastavro over generated records of every topic schema.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import numpy as np

INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1
#: Strings up to this many characters are cached with their encoding (addresses, venues, kinds, map keys).
STRING_CACHE_MAX_LEN = 64
#: Cached strings per process before the cache is emptied and refilled (bounds memory on unique strings).
STRING_CACHE_SIZE = 8192

#: An encoder: record -> Avro binary body (with the prefix it was compiled with).
Encoder = Callable[[dict[str, Any]], bytes]


class Unsupported(Exception):
    """The compiled encoder does not take this record as is; encode it with fastavro instead."""


def _varint(z: int) -> bytes:
    """Avro varint of an already zig-zagged, non-negative int (used to build tables; the hot path is ``_long``)."""
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _zigzag(v: int) -> int:
    return (v << 1) ^ (v >> 63)


# _SMALL[v] for -64 <= v < 64 is the one-byte encoding of v: a list indexed by v itself (negative indexes wrap).
_SMALL = [b""] * 128
for _v in range(-64, 64):
    _SMALL[_v] = _varint(_zigzag(_v))
# Varints are assembled from 14-bit groups of the zig-zagged value: _V14[z] is the whole varint of z < 2**14,
# _T14[z] the two bytes of a 14-bit group followed by more (continuation bit set on both).
_V14 = [_varint(z) for z in range(1 << 14)]
_T14 = [bytes(((z & 0x7F) | 0x80, (z >> 7) | 0x80)) for z in range(1 << 14)]
# Varints of the bits above the low 28: for timestamps (ns since epoch) they change every 2**27 ns, so they are
# cached; the cache is emptied when it fills up (random longs would otherwise grow it without bound).
_HIGH: dict[int, bytes] = {}
HIGH_CACHE_SIZE = 4096


def _high(h: int) -> bytes:
    """Varint of ``h = z >> 28`` (below 2**36 for a 64-bit ``z``) from the 14-bit tables, cached.

    A miss is common where consecutive timestamps are seconds apart (replayed or synthetic data), so it is built
    from the tables too rather than by a loop over 7-bit groups.
    """
    if h < 0x4000:
        out = _V14[h]
    elif h < 0x10000000:
        out = _T14[h & 0x3FFF] + _V14[h >> 14]
    else:
        out = _T14[h & 0x3FFF] + _T14[h >> 14 & 0x3FFF] + _V14[h >> 28]
    if len(_HIGH) >= HIGH_CACHE_SIZE:
        _HIGH.clear()
    _HIGH[h] = out
    return out


def encode_long(v: int) -> bytes:
    """Avro long: zig-zag, then a varint of 7-bit groups, low group first, high bit set on all but the last.

    Built from tables of 14-bit groups, so a 64-bit timestamp costs three lookups instead of nine rounds of a
    loop.

    Raises:
        Unsupported: ``v`` is not an int (bool excluded) within the long range.
    """
    if type(v) is not int or not LONG_MIN <= v <= LONG_MAX:
        raise Unsupported
    z = (v << 1) ^ (v >> 63)
    if z < 0x4000:
        return _V14[z]
    if z < 0x10000000:
        return _T14[z & 0x3FFF] + _V14[z >> 14]
    return _T14[z & 0x3FFF] + _T14[z >> 14 & 0x3FFF] + (_HIGH.get(z >> 28) or _high(z >> 28))


def encode_int(v: int) -> bytes:
    """Avro int (as :func:`encode_long`, within the 32-bit range).

    Raises:
        Unsupported: ``v`` is not an int (bool excluded) within the int range.
    """
    if type(v) is not int or not INT_MIN <= v <= INT_MAX:
        raise Unsupported
    z = (v << 1) ^ (v >> 63)
    if z < 0x4000:
        return _V14[z]
    if z < 0x10000000:
        return _T14[z & 0x3FFF] + _V14[z >> 14]
    return _T14[z & 0x3FFF] + _T14[z >> 14 & 0x3FFF] + _V14[z >> 28]


#: Shifts of the ten 7-bit groups of a 64-bit varint.
_GROUP_SHIFTS = np.arange(10, dtype=np.uint64) * np.uint64(7)
_GROUP_INDEX = np.arange(10)


def encode_longs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Avro longs of many non-negative values at once: what :func:`encode_long` returns for each, as a matrix.

    For whole batches (the bridge's PoolSync frames of one relay read): numpy does the loop over values.

    Args:
        values: a 1-d array of integers in ``0 .. 2**63 - 1`` (any unsigned or signed integer dtype); the caller
            checks the range (a value outside it is not an Avro long, see :func:`encode_long`).

    Returns:
        ``(encoded, lengths)``: a ``(len(values), 10)`` uint8 matrix whose row ``i`` begins with the ``lengths[i]``
        bytes of ``encode_long(values[i])`` (the rest of the row is zeros), and those lengths (1..10).
    """
    z = values.astype(np.uint64) << np.uint64(1)  # zig-zag of a non-negative value
    encoded = np.zeros((len(z), 10), np.uint8)
    if not len(z):
        return encoded, np.zeros(0, np.intp)
    used = max(1, -(-int(z.max()).bit_length() // 7))  # groups the largest value needs: no work on the others
    shifts = _GROUP_SHIFTS[:used]
    lengths = 1 + np.count_nonzero(z[:, None] >> shifts[1:], axis=1)
    more = (lengths[:, None] - 1) > _GROUP_INDEX[:used]  # every group but the last has the continuation bit
    encoded[:, :used] = ((z[:, None] >> shifts) & np.uint64(0x7F)) | (more * np.uint64(0x80))
    return encoded, lengths


_STRINGS: dict[str, bytes] = {}


def encode_string(v: str) -> bytes:
    """Avro string: varint byte length, then UTF-8. Short strings are cached (they repeat: addresses, keys).

    Raises:
        Unsupported: ``v`` is not a str, or holds a lone surrogate (not UTF-8 encodable).
    """
    if type(v) is not str:
        raise Unsupported
    try:
        raw = v.encode()
    except UnicodeEncodeError:
        raise Unsupported from None
    n = len(raw)
    out = (_SMALL[n] if n < 64 else encode_long(n)) + raw
    if len(v) <= STRING_CACHE_MAX_LEN:
        if len(_STRINGS) >= STRING_CACHE_SIZE:
            _STRINGS.clear()
        _STRINGS[v] = out
    return out


def encode_bytes(v: bytes) -> bytes:
    """Avro bytes: varint length, then the bytes.

    Raises:
        Unsupported: ``v`` is not bytes.
    """
    if type(v) is not bytes:
        raise Unsupported
    n = len(v)
    return (_SMALL[n] if n < 64 else encode_long(n)) + v


def _count(n: int) -> bytes:
    """A block's item count (positive long)."""
    return _SMALL[n] if n < 64 else encode_long(n)


_RUNTIME: dict[str, Any] = {
    "_U": Unsupported,
    "_SM": _SMALL,
    "_long": encode_long,
    "_int": encode_int,
    "_S": _STRINGS,
    "_str": encode_string,
    "_bytes": encode_bytes,
    "_count": _count,
    "_pack_d": struct.Struct("<d").pack,
    "_INT_MIN": INT_MIN,
    "_INT_MAX": INT_MAX,
}

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


class _Generator:
    """Builds the source of one schema's encoder: a function per named record, map and array, plus the entry."""

    def __init__(self, named: dict[str, dict]) -> None:
        self.named = named
        self.functions: dict[str, str] = {}  # record full name -> generated function name
        self.blocks: list[str] = []  # generated function sources
        self.consts: dict[str, Any] = {}
        self._n = 0

    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"_{prefix}{self._n}"

    def const(self, value: Any) -> str:
        """A module-level name holding ``value`` in the generated namespace."""
        name = self._name("c")
        self.consts[name] = value
        return name

    def resolve(self, schema: Any) -> Any:
        """Follow a named reference (``"pulsearb.types.UInt256"``) to its definition."""
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            if schema not in self.named:
                raise Unsupported
            return self.named[schema]
        return schema

    def record_function(self, schema: dict, prefix: bytes | None = None) -> str:
        """Name of the function encoding records of ``schema`` (generated on first use; recursion allowed).

        With ``prefix`` (the entry point) the function puts those bytes first and turns whatever a value it does
        not take raises (KeyError for a missing field, TypeError for an unhashable string) into Unsupported.
        """
        entry = prefix is not None
        full = schema.get("name", "")
        if not entry and full in self.functions:
            return self.functions[full]
        fn = self._name("rec")
        if not entry:
            self.functions[full] = fn
        ind = "        " if entry else "    "
        lines = [f"{ind}if type(r) is not dict: raise _U"]
        parts = [self.const(prefix)] if prefix else []
        for i, field in enumerate(schema["fields"]):
            var = f"p{i}"
            lines.append(f"{ind}v = r[{field['name']!r}]")
            lines += self.emit(field["type"], "v", var, ind)
            parts.append(var)
        if not parts:
            lines.append(f"{ind}return b''")
        elif len(parts) == 1:
            lines.append(f"{ind}return {parts[0]}")
        else:
            lines.append(f"{ind}return b''.join(({', '.join(parts)},))")
        if entry:
            lines = ["    try:", *lines, "    except _U:", "        raise", "    except Exception as exc:"]
            lines.append("        raise _U from exc")
        self.blocks.append("\n".join([f"def {fn}(r):", *lines]))
        return fn

    def values_function(self, schema: dict, names: tuple[str, ...], prefix: bytes, encoded: frozenset[str]) -> str:
        """Name of the entry function encoding a record of ``schema`` given as positional values.

        The function takes one argument per name of ``names`` (every field of the schema, in any order) and
        returns ``prefix`` + the body with the fields in schema order: the same bytes the record entry returns for
        the dict of those values. Fields named in ``encoded`` are passed already Avro-encoded (bytes) and are
        copied as they are. As in the record entry, whatever a value it does not take raises becomes Unsupported.
        """
        fields = [f["name"] for f in schema["fields"]]
        if sorted(names) != sorted(fields) or len(set(names)) != len(names):
            msg = f"values encoder of {schema.get('name', '?')}: names {names} are not the fields {fields}"
            raise ValueError(msg)
        if not encoded <= set(fields):
            msg = f"values encoder of {schema.get('name', '?')}: encoded {sorted(encoded)} are not all fields"
            raise ValueError(msg)
        fn = self._name("val")
        arg = {name: f"a{i}" for i, name in enumerate(names)}
        ind = "        "
        lines: list[str] = []
        parts = [self.const(prefix)] if prefix else []
        for i, field in enumerate(schema["fields"]):
            name = field["name"]
            if name in encoded:
                parts.append(arg[name])  # a non-bytes value makes the join below raise TypeError: Unsupported
                continue
            lines += self.emit(field["type"], arg[name], f"p{i}", ind)
            parts.append(f"p{i}")
        result = parts[0] if len(parts) == 1 else f"b''.join(({', '.join(parts)},))" if parts else "b''"
        lines = ["    try:", *lines, f"{ind}return {result}", "    except _U:", "        raise"]
        lines += ["    except Exception as exc:", "        raise _U from exc"]
        self.blocks.append("\n".join([f"def {fn}({', '.join(arg[n] for n in names)}):", *lines]))
        return fn

    def emit(self, schema: Any, v: str, out: str, ind: str) -> list[str]:
        """Statements that set ``out`` to the encoding of the value in local ``v`` (raise _U when unsure)."""
        schema = self.resolve(schema)
        if isinstance(schema, list):
            return self._union(schema, v, out, ind)
        if isinstance(schema, dict):
            if "logicalType" in schema:
                return [f"{ind}raise _U"]  # fastavro converts logical types first: leave them to it
            kind = schema["type"]
            if kind in _PRIMITIVES:
                return self.emit(kind, v, out, ind)
        else:
            kind = schema
        if kind == "null":
            return [f"{ind}if {v} is not None: raise _U", f"{ind}{out} = b''"]
        if kind == "boolean":
            return [
                f"{ind}if {v} is True: {out} = b'\\x01'",
                f"{ind}elif {v} is False: {out} = b'\\x00'",
                f"{ind}else: raise _U",
            ]
        if kind == "long":
            return [f"{ind}{out} = _SM[{v}] if type({v}) is int and -64 <= {v} < 64 else _long({v})"]
        if kind == "int":
            return [f"{ind}{out} = _SM[{v}] if type({v}) is int and -64 <= {v} < 64 else _int({v})"]
        if kind == "string":
            return [f"{ind}{out} = _S.get({v}) or _str({v})"]
        if kind == "bytes":
            return [f"{ind}{out} = _bytes({v})"]
        if kind == "double":
            return [f"{ind}if type({v}) is not float: raise _U", f"{ind}{out} = _pack_d({v})"]
        if kind == "fixed":
            size = int(schema["size"])
            return [f"{ind}if type({v}) is not bytes or len({v}) != {size}: raise _U", f"{ind}{out} = {v}"]
        if kind == "enum":
            table = self.const({s: _SMALL[i] if i < 64 else encode_long(i) for i, s in enumerate(schema["symbols"])})
            return [
                f"{ind}if type({v}) is not str: raise _U",
                f"{ind}{out} = {table}.get({v})",
                f"{ind}if {out} is None: raise _U",
            ]
        if kind in ("record", "error"):
            return [f"{ind}{out} = {self.record_function(schema)}({v})"]
        if kind == "map":
            return [f"{ind}{out} = {self._map(schema['values'])}({v})"]
        if kind == "array":
            return [f"{ind}{out} = {self._array(schema['items'])}({v})"]
        return [f"{ind}raise _U"]  # float and anything unknown: fastavro decides

    def _union(self, branches: list, v: str, out: str, ind: str) -> list[str]:
        """``["null", X]`` in either order, X a primitive, fixed or enum; other values of unions go to fastavro.

        For these fastavro's branch choice (the first branch whose validator accepts the value) is: None -> null,
        anything the X code accepts -> X, so the index is known from the value's type.
        """
        kinds = [self.resolve(b) for b in branches]
        names = [k if isinstance(k, str) else k.get("type") if isinstance(k, dict) else "union" for k in kinds]
        if len(kinds) != 2 or names.count("null") != 1:
            return [f"{ind}raise _U"]
        null_index = names.index("null")
        other = kinds[1 - null_index]
        lines = [f"{ind}if {v} is None: {out} = {_SMALL[null_index]!r}", f"{ind}else:"]
        if names[1 - null_index] not in _PRIMITIVES | {"fixed", "enum"} or (
            isinstance(other, dict) and "logicalType" in other
        ):
            return [*lines, f"{ind}    raise _U"]  # a record, map or array branch: fastavro validates and picks
        index = _SMALL[1 - null_index]
        lines += self.emit(other, v, out, ind + "    ")
        lines.append(f"{ind}    {out} = {index!r} + {out}")
        return lines

    def _map(self, values: Any) -> str:
        fn = self._name("map")
        lines = [
            f"def {fn}(m):",
            "    if type(m) is not dict: raise _U",
            "    if not m: return b'\\x00'",
            "    parts = [_count(len(m))]",
            "    add = parts.append",
            "    for k, v in m.items():",
            "        if type(k) is not str: raise _U",
            "        add(_S.get(k) or _str(k))",
        ]
        lines += self.emit(values, "v", "p", "        ")
        lines += ["        add(p)", "    add(b'\\x00')", "    return b''.join(parts)"]
        self.blocks.append("\n".join(lines))
        return fn

    def _array(self, items: Any) -> str:
        fn = self._name("arr")
        lines = [
            f"def {fn}(a):",
            "    if type(a) is not list: raise _U",
            "    if not a: return b'\\x00'",
            "    parts = [_count(len(a))]",
            "    add = parts.append",
            "    for v in a:",
        ]
        lines += self.emit(items, "v", "p", "        ")
        lines += ["        add(p)", "    add(b'\\x00')", "    return b''.join(parts)"]
        self.blocks.append("\n".join(lines))
        return fn


def _named_types(schema: Any, named: dict[str, dict]) -> dict[str, dict]:
    """Every named type defined in a parsed schema, by full name."""
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, named)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "error", "enum", "fixed") and "name" in schema:
            named.setdefault(schema["name"], schema)
        for field in schema.get("fields", ()):
            _named_types(field["type"], named)
        for key in ("items", "values"):
            if key in schema:
                _named_types(schema[key], named)
    return named


def generate_source(schema: dict, prefix: bytes = b"") -> tuple[str, dict[str, Any]]:
    """Return (source, constants) of the encoder of a parsed record schema; its entry function is ``encode``.

    Args:
        schema: a record schema as ``fastavro.parse_schema`` returns it (names are full names).
        prefix: bytes the encoder puts before the body (the single-object header).
    """
    named = dict(schema.get("__named_schemas") or {})
    _named_types(schema, named)
    gen = _Generator(named)
    if schema.get("type") not in ("record", "error"):
        msg = f"compile_encoder takes a record schema, got {schema.get('type')!r}"
        raise ValueError(msg)
    entry = gen.record_function(schema, prefix or b"")
    source = "\n\n".join([*gen.blocks, f"encode = {entry}"]) + "\n"
    return source, gen.consts


def generate_values_source(
    schema: dict, names: tuple[str, ...], prefix: bytes = b"", encoded: frozenset[str] = frozenset()
) -> tuple[str, dict[str, Any]]:
    """Return (source, constants) of the positional-values encoder of a record schema; its entry is ``encode``.

    See :func:`compile_values_encoder` for the arguments.
    """
    if schema.get("type") not in ("record", "error"):
        msg = f"compile_values_encoder takes a record schema, got {schema.get('type')!r}"
        raise ValueError(msg)
    named = dict(schema.get("__named_schemas") or {})
    _named_types(schema, named)
    gen = _Generator(named)
    entry = gen.values_function(schema, tuple(names), prefix, frozenset(encoded))
    source = "\n\n".join([*gen.blocks, f"encode = {entry}"]) + "\n"
    return source, gen.consts


def _build(source: str, consts: dict[str, Any], label: str) -> Callable[..., bytes]:
    namespace: dict[str, Any] = {**_RUNTIME, **consts}
    exec(compile(source, label, "exec"), namespace)
    return namespace["encode"]


def compile_values_encoder(
    schema: dict, names: tuple[str, ...], prefix: bytes = b"", encoded: frozenset[str] = frozenset()
) -> Callable[..., bytes]:
    """Compile an encoder taking a record's field values positionally instead of a dict (the bridge's hot path).

    ``encode(*values)`` equals what :func:`compile_encoder`'s encoder returns for ``dict(zip(names, values))``,
    and raises :class:`Unsupported` where that encoder would; fields named in ``encoded`` are passed as their
    Avro encoding (bytes computed once and shared, such as a frame's trace map) and copied verbatim.

    Args:
        schema: a record schema as ``fastavro.parse_schema`` returns it.
        names: every field name of the schema, in the order the encoder takes them.
        prefix: bytes put before the body (the single-object header).
        encoded: fields passed already encoded.

    Raises:
        ValueError: not a record schema, ``names`` not exactly its fields, or ``encoded`` not among them.
    """
    source, consts = generate_values_source(schema, names, prefix, encoded)
    encoder = _build(source, consts, f"<avro values encoder {schema.get('name', '?')}>")
    encoder.__doc__ = f"Encode {schema.get('name', '?')} values {names} (generated by schemas/avro_encoder.py)."
    return encoder


def compile_encoder(schema: dict, prefix: bytes = b"") -> Encoder:
    """Compile an encoder for a parsed record schema: ``prefix`` + the record's Avro binary body.

    The result equals ``prefix`` + what ``fastavro.schemaless_writer`` writes for every record it accepts, and
    raises :class:`Unsupported` for every record it does not take itself (then use fastavro).

    Raises:
        ValueError: ``schema`` is not a record schema.
    """
    source, consts = generate_source(schema, prefix)
    encoder: Encoder = _build(source, consts, f"<avro encoder {schema.get('name', '?')}>")
    encoder.__doc__ = f"Encode a {schema.get('name', '?')} record (generated by schemas/avro_encoder.py)."
    return encoder
