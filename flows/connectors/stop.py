"""Cooperative shutdown: SIGTERM/SIGINT ask sources to finish, so every sink flushes and the flow ends cleanly.

Kafka sources drain on stop: they keep reading until they have been idle for 250 ms at the end offset that fetch
responses report, then end (upstream flows stop first, so nothing new arrives). The relay source ends at once
(a relay has nothing to drain).
"""

from __future__ import annotations

import signal
import threading

STOP = threading.Event()


def request_stop(*_args: object) -> None:
    """Ask every source in this process to finish."""
    STOP.set()


def install_signal_handlers() -> None:
    """Turn SIGTERM and SIGINT into a cooperative stop instead of a KeyboardInterrupt mid-write."""
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
