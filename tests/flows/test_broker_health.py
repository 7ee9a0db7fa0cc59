"""Broker reachability on real sockets: the start-up check, the stack's wait and the broker gauge."""

from __future__ import annotations

import socket
import time

import pytest
from prometheus_client import Gauge

from base.errors import ConfigError, StackError
from flows.connectors.broker_health import reachable, servers, wait_reachable, watch


def _closed_port() -> int:
    # A port that was just free: nothing listens on it.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_reachable_when_any_server_listens() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        dead = _closed_port()
        assert reachable(f"127.0.0.1:{port}")
        assert reachable(f"127.0.0.1:{dead},127.0.0.1:{port}")
    assert not reachable(f"127.0.0.1:{dead}")


def test_malformed_bootstrap_is_a_config_error() -> None:
    assert servers("a:1, b:2") == [("a", 1), ("b", 2)]
    with pytest.raises(ConfigError, match="host:port"):
        reachable("localhost")


def test_wait_gives_up_in_one_line_with_the_fix() -> None:
    dead = f"127.0.0.1:{_closed_port()}"
    with pytest.raises(StackError, match=f"Kafka broker {dead} is unreachable: check --bootstrap"):
        wait_reachable(dead, timeout_s=0.2)


def test_watch_sets_the_gauge_from_the_broker_state() -> None:
    gauge = Gauge("test_broker_up", "test", ["endpoint"]).labels("broker")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        bootstrap = f"127.0.0.1:{listener.getsockname()[1]}"
        stop = watch(gauge, bootstrap, interval_s=0.05)
        try:
            deadline = time.monotonic() + 10
            while gauge._value.get() != 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert gauge._value.get() == 1
            listener.close()
            while gauge._value.get() != 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert gauge._value.get() == 0
        finally:
            stop.set()
