"""The base of every TLV value class, the raw ``UnknownTlv``, and the field kinds that drive JSON and checks.

Every TLV class is a frozen, slotted dataclass whose fields carry AlphaPulse's struct field names (padding
omitted) and whose class attributes say how it travels:

- ``TYPE``: the TLV type number; ``NAME``: the name used in JSON; ``SIZE``: exact value size in bytes, or
None for
  a variable-size type (then ``MIN_SIZE``/``MAX_SIZE`` bound it);
- ``KINDS``: field name -> kind (``"u8"`` ... ``"u128"``, ``"i32"``, ``"i64"``, ``"i128"``, ``"u256"``,
  ``"address"``, ``"hash"``, or a list kind such as ``"u128[8]"``, ``"address[6]"``, ``"levels[50]"``). JSON
  conversion, range checks and the property tests all derive from it, so a layout is described once.

Values are plain Python: integers of any width as ``int``, addresses as lower-case ``0x`` hex ``str``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

Buffer = bytes | bytearray | memoryview

_RANGES: dict[str, tuple[int, int]] = {
    "u8": (0, (1 << 8) - 1),
    "u16": (0, (1 << 16) - 1),
    "u32": (0, (1 << 32) - 1),
    "u64": (0, (1 << 64) - 1),
    "u96": (0, (1 << 96) - 1),  # an InstrumentId as its lossless cache key
    "u128": (0, (1 << 128) - 1),
    "u256": (0, (1 << 256) - 1),
    "i32": (-(1 << 31), (1 << 31) - 1),
    "i64": (-(1 << 63), (1 << 63) - 1),
    "i128": (-(1 << 127), (1 << 127) - 1),
}
_BYTE_KINDS = {"address": 20, "hash": 32}
_LIST_KIND = re.compile(r"^(\w+)\[(\d+)\]$")


def int_range(kind: str) -> tuple[int, int]:
    """Return the inclusive (min, max) of an integer kind such as ``"u128"``."""
    return _RANGES[kind]


def split_list_kind(kind: str) -> tuple[str, int] | None:
    """Return (element kind, capacity) for a list kind like ``"u128[8]"``, else None."""
    m = _LIST_KIND.match(kind)
    return (m.group(1), int(m.group(2))) if m else None


class Tlv:
    """Base of every TLV value (known layouts and :class:`UnknownTlv`)."""

    __slots__ = ()
    TYPE: ClassVar[int]
    NAME: ClassVar[str]
    SIZE: ClassVar[int | None]
    MIN_SIZE: ClassVar[int] = 0
    MAX_SIZE: ClassVar[int] = 65535
    KINDS: ClassVar[Mapping[str, str]] = {}

    @property
    def wire_type(self) -> int:
        """The TLV type number this value is written with (``TYPE``; for :class:`UnknownTlv`, its
        ``type``)."""
        return self.TYPE

    def encode(self) -> bytes:
        """Return the value bytes (no TLV header)."""
        raise NotImplementedError

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> Self:
        """Read a value at ``offset``; ``length`` matters only for variable-size types (default: to the
        end)."""
        raise NotImplementedError

    def problems(self) -> list[str]:
        """Return why this value cannot be encoded (out-of-range or mistyped fields); empty when it can."""
        found: list[str] = []
        for name, kind in self.KINDS.items():
            value = getattr(self, name)
            listed = split_list_kind(kind)
            if listed is None:
                problem = _check_scalar(kind, value)
                if problem:
                    found.append(f"{self.NAME}.{name}: {problem}")
                continue
            element, capacity = listed
            if not isinstance(value, tuple):
                found.append(f"{self.NAME}.{name}: expected a tuple, got {type(value).__name__}")
                continue
            if len(value) > capacity:
                found.append(f"{self.NAME}.{name}: {len(value)} items, at most {capacity}")
            if element != "levels":
                for i, item in enumerate(value):
                    problem = _check_scalar(element, item)
                    if problem:
                        found.append(f"{self.NAME}.{name}[{i}]: {problem}")
        return found


def _check_scalar(kind: str, value: Any) -> str | None:
    if kind in _BYTE_KINDS:
        size = _BYTE_KINDS[kind]
        if not isinstance(value, str) or not re.fullmatch(rf"0x[0-9a-fA-F]{{{2 * size}}}", value):
            return f"expected {size} bytes as 0x hex, got {value!r}"
        return None
    if kind == "levels":
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        return f"expected an integer, got {value!r}"
    lo, hi = _RANGES[kind]
    if not lo <= value <= hi:
        return f"{value} out of range for {kind}"
    return None


@dataclass(frozen=True, slots=True)
class UnknownTlv(Tlv):
    """A TLV whose type pulsearb does not decode (or any TLV of a frame with an unknown version), kept
    verbatim.

    Attributes:
        type: the TLV type number.
        raw: the value bytes exactly as received.
    """

    TYPE: ClassVar[int] = -1
    NAME: ClassVar[str] = "unknown"
    SIZE: ClassVar[int | None] = None

    type: int
    raw: bytes

    @property
    def wire_type(self) -> int:
        """The TLV type number found on the wire."""
        return self.type

    def encode(self) -> bytes:
        """Return the value bytes unchanged."""
        return self.raw

    @classmethod
    def decode(cls, buf: Buffer, offset: int = 0, length: int | None = None) -> UnknownTlv:
        """Not meaningful without a type number; use ``UnknownTlv(type, raw)``."""
        msg = "UnknownTlv has no layout to decode; build it as UnknownTlv(type, raw)"
        raise TypeError(msg)

    def problems(self) -> list[str]:
        """Return why this value cannot be encoded."""
        found = []
        if type(self.type) is not int or not 0 <= self.type <= 254:
            found.append(f"unknown.type: {self.type!r} is not a tlv type 0..254")
        if not isinstance(self.raw, bytes):
            found.append(f"unknown.raw: expected bytes, got {type(self.raw).__name__}")
        return found
