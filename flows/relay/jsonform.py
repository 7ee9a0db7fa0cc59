"""Frames as JSON objects (what ``pulsearb relay decode`` prints) and back to bytes (``relay encode``).

Shape::

    {"header": {"relay_domain", "version", "source", "flags", "sequence", "timestamp", "payload_size",
                "checksum", "checksum_ok"},
     "tlvs": [{"type": 16, "name": "PoolSync", "reserve0": ..., ...},
              {"type": 77, "name": "unknown", "raw": "<hex>"}]}

Integers stay JSON integers at any width (u128 included), addresses are lower-case ``0x`` hex, padding is omitted.
On the way back, ``payload_size`` and ``checksum_ok`` are ignored (recomputed), and ``checksum`` only says whether
to write a CRC (non-zero) or 0, so ``frame_to_json(decode_frame(frame_from_json(obj)))`` equals ``obj`` for any
``obj`` that ``frame_to_json`` produced from a canonical frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from base.errors import FrameError
from flows.relay.codec import Frame, encode_frame
from flows.relay.tlv import OrderLevel, Tlv, UnknownTlv, tlv_class
from flows.relay.tlv_base import split_list_kind

_HEADER_IN = ("relay_domain", "version", "source", "flags", "sequence", "timestamp")


def tlv_to_json(tlv: Tlv) -> dict[str, Any]:
    """Return one TLV as a JSON-ready dict: ``type``, ``name``, then its fields in wire order."""
    if isinstance(tlv, UnknownTlv):
        return {"type": tlv.type, "name": "unknown", "raw": tlv.raw.hex()}
    out: dict[str, Any] = {"type": tlv.TYPE, "name": tlv.NAME}
    for name in tlv.KINDS:
        value = getattr(tlv, name)
        if isinstance(value, tuple):
            value = [_level_to_json(v) if isinstance(v, OrderLevel) else v for v in value]
        out[name] = value
    return out


def _level_to_json(level: OrderLevel) -> dict[str, int]:
    return {f.name: getattr(level, f.name) for f in fields(level)}


def frame_to_json(frame: Frame) -> dict[str, Any]:
    """Return a decoded frame as a JSON-ready dict (see the module docstring for the shape)."""
    h = frame.header
    return {
        "header": {
            "relay_domain": h.relay_domain,
            "version": h.version,
            "source": h.source,
            "flags": h.flags,
            "sequence": h.sequence,
            "timestamp": h.timestamp,
            "payload_size": h.payload_size,
            "checksum": h.checksum,
            "checksum_ok": frame.checksum_ok,
        },
        "tlvs": [tlv_to_json(t) for t in frame.tlvs],
    }


def tlv_from_json(obj: Mapping[str, Any]) -> Tlv:
    """Build a TLV value from its JSON dict.

    Raises:
        FrameError: unknown type number, a missing or extra field, or a value of the wrong JSON type.
    """
    if not isinstance(obj, Mapping):
        msg = f"tlv: expected an object, got {type(obj).__name__}"
        raise FrameError(msg)
    tlv_type = obj.get("type")
    if type(tlv_type) is not int:
        msg = f"tlv: 'type' must be an integer, got {tlv_type!r}"
        raise FrameError(msg)
    cls = tlv_class(tlv_type)
    if cls is None or obj.get("name") == "unknown":
        return _unknown_from_json(tlv_type, obj)
    given = set(obj) - {"type", "name"}
    missing = [n for n in cls.KINDS if n not in given]
    extra = sorted(given - set(cls.KINDS))
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(extra)}"] if extra else []
        )
        msg = f"tlv {cls.NAME} ({tlv_type}): {'; '.join(parts)}"
        raise FrameError(msg)
    values: dict[str, Any] = {}
    for name, kind in cls.KINDS.items():
        value = obj[name]
        listed = split_list_kind(kind)
        if listed is not None:
            if not isinstance(value, list):
                msg = f"tlv {cls.NAME}.{name}: expected a list, got {value!r}"
                raise FrameError(msg)
            value = tuple(_level_from_json(cls.NAME, name, v) if listed[0] == "levels" else v for v in value)
        elif kind in ("address", "hash") and isinstance(value, str):
            value = value.lower()
        values[name] = value
    tlv = cls(**values)
    problems = tlv.problems()
    if problems:
        msg = f"tlv {cls.NAME} ({tlv_type}): {'; '.join(problems)}"
        raise FrameError(msg)
    return tlv


def _unknown_from_json(tlv_type: int, obj: Mapping[str, Any]) -> UnknownTlv:
    raw = obj.get("raw")
    try:
        value = bytes.fromhex(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        msg = f"tlv type {tlv_type}: 'raw' must be a hex string, got {raw!r}"
        raise FrameError(msg) from None
    if not 0 <= tlv_type <= 254:
        msg = f"tlv type {tlv_type}: types are 0..254"
        raise FrameError(msg)
    return UnknownTlv(tlv_type, value)


def _level_from_json(tlv_name: str, field_name: str, obj: Any) -> OrderLevel:
    try:
        return OrderLevel(**obj)
    except TypeError:
        msg = f"tlv {tlv_name}.{field_name}: a level is {{price, size, order_count, reserved}}, got {obj!r}"
        raise FrameError(msg) from None


def frame_from_json(obj: Mapping[str, Any]) -> bytes:
    """Encode a frame from its JSON dict (the shape :func:`frame_to_json` returns).

    Raises:
        FrameError: a missing or mistyped header field, or a TLV that cannot be built or encoded.
    """
    header = obj.get("header") if isinstance(obj, Mapping) else None
    tlvs = obj.get("tlvs") if isinstance(obj, Mapping) else None
    if not isinstance(header, Mapping) or not isinstance(tlvs, list):
        msg = "frame: expected an object with 'header' (object) and 'tlvs' (list)"
        raise FrameError(msg)
    for name in _HEADER_IN:
        if type(header.get(name)) is not int:
            msg = f"frame header: {name!r} must be an integer, got {header.get(name)!r}"
            raise FrameError(msg)
    return encode_frame(
        header["relay_domain"],
        header["source"],
        [tlv_from_json(t) for t in tlvs],
        sequence=header["sequence"],
        timestamp_ns=header["timestamp"],
        flags=header["flags"],
        version=header["version"],
        checksum=header.get("checksum", 1) != 0,
    )
