"""A loopback JSON-RPC proxy that can make a healthy node look down, slow or forgetful: a named fake.

It stands between the executor and anvil, the one place where the faults of a remote node (refused connections,
answers that never come back, a node that took a transaction but whose reply was lost, slow replies) cannot be
caused with the real node alone. Every request is counted by JSON-RPC method and outcome, so a drill can assert
how often the client tried.

Faults apply to the methods given (None: every method):

- :meth:`drop`: answer nothing and close the connection (the node is down; the request does not reach it);
- :meth:`lose_reply`: forward the request, then close without the reply (the node acted; the client cannot know);
- :meth:`hold`: forward the request and keep the reply until :meth:`release` (the client waits in the call);
- :meth:`delay`: forward, and reply ``seconds`` late (a slow node);
- :meth:`refuse`: stop listening (connection refused, not counted); :meth:`restore` undoes any of them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Seen:
    """One request the proxy received: when (monotonic s), its JSON-RPC method(s), and what the proxy did."""

    at: float
    methods: tuple[str, ...]
    outcome: str  # passed, dropped, reply_lost, held, delayed


class _Fault:
    def __init__(self, kind: str, methods: Iterable[str] | None, seconds: float = 0.0) -> None:
        self.kind = kind
        self.methods = frozenset(methods) if methods is not None else None
        self.seconds = seconds

    def applies(self, methods: tuple[str, ...]) -> bool:
        return self.methods is None or any(m in self.methods for m in methods)


class RpcProxy:
    """Forward ``http://127.0.0.1:<port>`` to the JSON-RPC node at ``target`` (an ``http://host:port`` URL)."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._fault: _Fault | None = None
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.held = threading.Event()
        """Set when a request was forwarded and its reply is being held."""
        self.seen: list[Seen] = []
        self._server: ThreadingHTTPServer | None = None
        self._conns: set[socket.socket] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """The proxy's URL: give it to the client instead of the node's."""
        return f"http://127.0.0.1:{self.port}"

    # lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> RpcProxy:
        """Listen on a free loopback port (the same port again after :meth:`refuse`)."""
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a node

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy._conns.add(self.connection)

            def finish(self) -> None:
                with proxy._lock:
                    proxy._conns.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def do_POST(self) -> None:
                proxy._handle(self)

            def log_message(self, *args: object) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.handle_error = lambda *_: None  # a client that went away mid-reply is part of the drill
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening, drop open connections and release anything held."""
        self._released.set()
        self.refuse()

    # faults -------------------------------------------------------------------------------------------------
    def _set(self, fault: _Fault | None) -> None:
        with self._lock:
            self._fault = fault
            self.held.clear()
            self._released.clear()

    def drop(self, methods: Iterable[str] | None = None) -> None:
        """Close the connection on these requests without forwarding them (the node is down)."""
        self._set(_Fault("drop", methods))

    def lose_reply(self, methods: Iterable[str] | None = None) -> None:
        """Forward these requests but close the connection instead of replying."""
        self._set(_Fault("lose_reply", methods))

    def hold(self, methods: Iterable[str] | None = None) -> None:
        """Forward these requests and keep their replies until :meth:`release` (or :meth:`restore`)."""
        self._set(_Fault("hold", methods))

    def delay(self, seconds: float, methods: Iterable[str] | None = None) -> None:
        """Reply to these requests ``seconds`` late."""
        self._set(_Fault("delay", methods, seconds))

    def release(self) -> None:
        """Let held replies go."""
        self._released.set()

    def refuse(self) -> None:
        """Stop listening and drop the open (keep-alive) connections: new ones are refused, and not counted."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        """Healthy again: every request is forwarded and answered at once."""
        self._released.set()
        with self._lock:
            self._fault = None
        if self._server is None:
            self.start()

    # counting -----------------------------------------------------------------------------------------------
    def count(self, since: float = 0.0, method: str | None = None, outcome: str | None = None) -> int:
        """Requests seen at or after ``since`` (monotonic s), of ``method`` and ``outcome`` if given."""
        with self._lock:
            seen = list(self.seen)
        return sum(
            1
            for s in seen
            if s.at >= since and (method is None or method in s.methods) and (outcome is None or s.outcome == outcome)
        )

    def methods(self, since: float = 0.0) -> Counter[str]:
        """Requests per method seen at or after ``since``."""
        with self._lock:
            seen = list(self.seen)
        return Counter(m for s in seen if s.at >= since for m in s.methods)

    # the work -----------------------------------------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        body = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        methods = _methods(body)
        with self._lock:
            fault = self._fault if self._fault is not None and self._fault.applies(methods) else None
        kind = fault.kind if fault else "passed"
        outcome = {"drop": "dropped", "lose_reply": "reply_lost", "hold": "held", "delay": "delayed"}.get(kind, kind)
        with self._lock:
            self.seen.append(Seen(time.monotonic(), methods, outcome))
        if kind == "drop":
            req.close_connection = True
            return
        try:
            status, reply = self._forward(body)
        except OSError:
            req.close_connection = True  # the node itself is unreachable: so is the proxy
            return
        if kind == "lose_reply":
            req.close_connection = True
            return
        if kind == "hold":
            self.held.set()
            self._released.wait()
        elif kind == "delay":
            time.sleep(fault.seconds if fault else 0.0)
        with contextlib.suppress(OSError):
            req.send_response(status)
            req.send_header("Content-Type", "application/json")
            req.send_header("Content-Length", str(len(reply)))
            req.end_headers()
            req.wfile.write(reply)
            req.wfile.flush()

    def _forward(self, body: bytes) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(*self._target, timeout=30)
        try:
            conn.request("POST", "/", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


def _methods(body: bytes) -> tuple[str, ...]:
    try:
        data = json.loads(body)
    except ValueError:
        return ("?",)
    items = data if isinstance(data, list) else [data]
    return tuple(str(i.get("method", "?")) if isinstance(i, dict) else "?" for i in items)
