"""A thin JSON-RPC client over HTTP(S): single calls and batches (one request, many calls), keep-alive.

The chain collector (:mod:`flows.collector`) reads through it: batched ``eth_call`` pinned to a block hash,
``eth_getLogs`` by block range and address set, ``eth_getBlockByNumber`` for hashes. It is plain ``http.client``
and ``json`` (no web3): a batch of a thousand calls is one POST, and the connection is reused between polls.

Errors are translated here and nowhere else: a transport failure (refused, reset, timeout, HTTP 5xx, a body that
is not JSON-RPC) is :class:`RpcUnavailable`; an error object the node returns for one call is an
:class:`RpcError` value in the batch result (the other calls of the batch are still good). The endpoint is shown
as ``scheme://host:port`` only: RPC URLs often carry an API key in their path or query.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from base.errors import ConfigError, PulsearbError


class RpcError(PulsearbError):
    """The node answered one call with an error object (a revert, an unknown block, a range too large)."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method}: node error {code}: {message}")
        self.method = method
        self.code = code
        self.message = message

    def __reduce__(self):
        return (type(self), (self.method, self.code, self.message))


class RpcUnavailable(PulsearbError):
    """The endpoint could not be reached or did not answer JSON-RPC (retry later)."""


def redact(url: str) -> str:
    """``scheme://host:port`` of an endpoint URL: never its path, query or credentials (API keys live there)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}:{parts.port}" if parts.port else f"{parts.scheme}://{host}"


class JsonRpc:
    """A JSON-RPC endpoint over HTTP(S) with one kept-alive connection (not thread-safe: one per thread).

    Args:
        url: ``http(s)://host[:port][/path]``.
        timeout_s: socket timeout of one request, seconds.

    Raises:
        ConfigError: the URL is not an http(s) URL.
    """

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            msg = f"RPC URL {redact(url)!r}: expected http(s)://host[:port][/path] (--rpc-url or PULSEARB_RPC_URL)"
            raise ConfigError(msg)
        self.where = redact(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout_s
        self._conn: http.client.HTTPConnection | None = None
        self._id = 0
        self.requests = 0  # HTTP requests made (benchmarks)
        self.calls = 0  # JSON-RPC calls made

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _post(self, body: bytes) -> Any:
        """POST a body and return the decoded JSON; one reconnect when a kept-alive connection went stale."""
        attempt = 0
        while True:
            conn = self._connection()
            try:
                conn.request("POST", self._path, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt == 0 and isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError):
                    attempt += 1
                    continue  # the server closed an idle kept-alive connection: try once on a fresh one
                msg = f"RPC endpoint {self.where} unreachable: {exc or type(exc).__name__}"
                raise RpcUnavailable(msg) from exc
            self.requests += 1
            if resp.status >= 500 or (resp.status != 200 and not data.startswith((b"{", b"["))):
                msg = f"RPC endpoint {self.where} answered HTTP {resp.status}"
                raise RpcUnavailable(msg)
            try:
                return json.loads(data)
            except ValueError as exc:
                msg = f"RPC endpoint {self.where} answered something that is not JSON ({len(data)} bytes)"
                raise RpcUnavailable(msg) from exc

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One call; returns its result.

        Raises:
            RpcError: the node returned an error object.
            RpcUnavailable: transport failure or a reply that is not JSON-RPC.
        """
        result = self.batch([(method, params)])[0]
        if isinstance(result, RpcError):
            raise result
        return result

    def batch(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Send every ``(method, params)`` in one HTTP request; return the results in order, an :class:`RpcError`
        for each call the node refused.

        Raises:
            RpcUnavailable: transport failure, or a reply that does not answer every call.
        """
        if not requests:
            return []
        first = self._id
        body = json.dumps(
            [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": list(p)} for i, (m, p) in enumerate(requests)]
        ).encode()
        self._id += len(requests)
        self.calls += len(requests)
        reply = self._post(body)
        if isinstance(reply, dict):  # some nodes answer a whole batch with one error object
            err = reply.get("error") or {}
            msg = f"RPC endpoint {self.where} refused a batch of {len(requests)}: {err.get('message', reply)}"
            raise RpcUnavailable(msg)
        if not isinstance(reply, list):
            msg = f"RPC endpoint {self.where} answered a batch with {type(reply).__name__}"
            raise RpcUnavailable(msg)
        by_id = {item.get("id"): item for item in reply if isinstance(item, dict)}
        out: list[Any] = []
        for i, (method, _) in enumerate(requests):
            item = by_id.get(first + i)
            if item is None:
                msg = f"RPC endpoint {self.where} left call {method} of a batch of {len(requests)} unanswered"
                raise RpcUnavailable(msg)
            if "error" in item and item["error"] is not None:
                err = item["error"]
                code = err.get("code", 0) if isinstance(err, dict) else 0
                text = err.get("message", str(err)) if isinstance(err, dict) else str(err)
                out.append(RpcError(method, int(code), str(text)))
            else:
                out.append(item.get("result"))
        return out
