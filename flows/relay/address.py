"""EVM addresses and hashes as pulsearb carries them: lower-case ``0x`` hex strings in values, raw bytes on
the wire."""

from __future__ import annotations

_HEX = frozenset("0123456789abcdefABCDEF")


def to_hex(raw: bytes) -> str:
    """Return ``raw`` as a lower-case ``0x`` hex string."""
    return "0x" + raw.hex()


def to_bytes(value: str | bytes | bytearray, size: int = 20) -> bytes:
    """Return the ``size`` raw bytes of an address (or hash) given as ``0x`` hex (any case) or as bytes.

    Raises:
        ValueError: the value is not ``size`` bytes of hex.
    """
    if isinstance(value, str):
        digits = value[2:] if value[:2] in ("0x", "0X") else value
        if len(digits) != 2 * size or not _HEX.issuperset(digits):
            msg = f"expected {size} bytes as 0x hex, got {value!r}"
            raise ValueError(msg)
        return bytes.fromhex(digits)
    raw = bytes(value)
    if len(raw) != size:
        msg = f"expected {size} bytes, got {len(raw)}"
        raise ValueError(msg)
    return raw


def normalize(value: str | bytes | bytearray, size: int = 20) -> str:
    """Return an address (or hash) in pulsearb's canonical form, lower-case ``0x`` hex."""
    return to_hex(to_bytes(value, size))
