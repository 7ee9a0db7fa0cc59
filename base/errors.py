"""The error family of pulsearb.

Every error a user can cause is a :class:`PulsearbError` whose ``str`` is one line naming what went wrong, where,
and how to fix it; the CLI prints that line and exits non-zero (tracebacks only under ``--debug``).
"""

from __future__ import annotations


class PulsearbError(Exception):
    """Root of every pulsearb error."""


class ConfigError(PulsearbError):
    """A configuration value, file or environment variable is missing or invalid."""


class StackError(PulsearbError):
    """A local-stack component (broker, chain, store) is missing, failed to start, or is unreachable."""


class FrameError(PulsearbError):
    """A Protocol V2 frame or TLV could not be decoded.

    Args:
        reason: one-line, lower-case reason (for example ``"bad magic 0x00000000"``).
        offset: byte offset of the frame in its stream, when known.
    """

    def __init__(self, reason: str, offset: int | None = None) -> None:
        super().__init__(reason if offset is None else f"{reason} at offset {offset}")
        self.reason = reason
        self.offset = offset

    def __reduce__(self):  # survive pickling across Bytewax workers
        return (type(self), (self.reason, self.offset))


class AmmRevert(PulsearbError):
    """A pool computation failed the way the contract would revert (the contract's require string)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __reduce__(self):
        return (type(self), (self.reason,))


class SchemaError(PulsearbError):
    """An Avro record does not match its schema, or a payload names an unknown schema."""
