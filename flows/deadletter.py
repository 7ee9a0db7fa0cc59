"""Dead letters: what a flow could not process, as a record for ``dlq.*`` topics (pure)."""

from __future__ import annotations

from typing import Any


def dead_letter(
    *,
    flow: str,
    stage: str,
    error: BaseException | str,
    raw: bytes,
    received_ns: int,
    source_topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> dict[str, Any]:
    """Build a ``dlq`` record: the raw bytes, a one-line reason and where they came from.

    Args:
        flow: flow name.
        stage: step that rejected the input (``decode``, ``route``, ...).
        error: the exception (its class and first line are kept) or a reason string.
        raw: the rejected bytes, unchanged.
        received_ns: when the input was received, ns since epoch.
        source_topic: Kafka topic of the input, or None for relay frames.
        partition: Kafka partition of the input.
        offset: Kafka offset, or the byte offset in the relay stream.
    """
    if isinstance(error, BaseException):
        error_class = type(error).__name__
        reason = (str(error).splitlines() or [error_class])[0]
    else:
        error_class, reason = "Rejected", error
    return {
        "flow": flow,
        "stage": stage,
        "error_class": error_class,
        "reason": reason[:1000],
        "source_topic": source_topic,
        "partition": partition,
        "offset": offset,
        "raw": bytes(raw),
        "received_ns": received_ns,
    }
