"""Is the Kafka broker reachable: the start-up check of every flow, the stack's wait, and the broker gauge.

A TCP connection to any bootstrap server is the test. It says nothing about topics or authentication (the clients
report those themselves), but it is what an operator needs first when nothing moves: the
``PulsearbBrokerUnreachable`` alert watches ``pulsearb_endpoint_up{endpoint="broker"}``, which :func:`watch` keeps
current in every flow process.
"""

from __future__ import annotations

import socket
import threading
import time

from base.errors import ConfigError, StackError

UNREACHABLE_HINT = "check --bootstrap, or start the local stack (`pulsearb stack up`)"


def servers(bootstrap: str) -> list[tuple[str, int]]:
    """``host:port[,host:port]`` as (host, port) pairs.

    Raises:
        ConfigError: a server without a numeric port.
    """
    out = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        if not port.isdigit():
            msg = f"--bootstrap: expected host:port[,host:port], got {bootstrap!r}"
            raise ConfigError(msg)
        out.append((host or "127.0.0.1", int(port)))
    return out


def reachable(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """True when one of the bootstrap servers accepts a TCP connection within ``timeout_s``.

    Raises:
        ConfigError: a malformed bootstrap string.
    """
    for host, port in servers(bootstrap):
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return True
        except OSError:
            continue
    return False


def wait_reachable(bootstrap: str, timeout_s: float = 10.0) -> None:
    """Return once the broker accepts connections; retry for up to ``timeout_s`` (a broker may be starting).

    Raises:
        ConfigError: a malformed bootstrap string.
        StackError: still unreachable after ``timeout_s``, in one line with the fix.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if reachable(bootstrap, timeout_s=max(0.05, min(2.0, left))):
            return
        if time.monotonic() >= deadline:
            msg = f"Kafka broker {bootstrap} is unreachable: {UNREACHABLE_HINT}"
            raise StackError(msg)
        time.sleep(0.05)


def watch(gauge: object, bootstrap: str, interval_s: float = 5.0) -> threading.Event:
    """Set ``gauge`` (a Prometheus gauge child) to 1 or 0 every ``interval_s`` from :func:`reachable`.

    Runs in a daemon thread; set the returned event to stop it.
    """
    stop = threading.Event()

    def loop() -> None:
        while True:
            gauge.set(1 if reachable(bootstrap) else 0)  # type: ignore[attr-defined]
            if stop.wait(interval_s):
                return

    threading.Thread(target=loop, name="pulsearb-broker-health", daemon=True).start()
    return stop
