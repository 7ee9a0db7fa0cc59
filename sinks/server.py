"""ClickHouse's HTTP interface over the embedded store: one process owns chdb and serves it on loopback.

chdb allows one owner process per data directory, so while the archive writes, nothing else could open the
store. This process is that one owner; every client (the archive flow, ``pulsearb history``, clickhouse-connect,
curl, Grafana's ClickHouse data source) talks to it over ClickHouse's own HTTP protocol. Requests are passed to
the engine as they come: the query from ``?query=`` and/or the POST body, the output format the client asks for
(a ``FORMAT`` clause, else ``default_format``), ``param_<name>`` query parameters, ``database``, and every other
URL parameter as a setting of that request. Replies carry the engine's bytes and ClickHouse's headers
(``X-ClickHouse-Format``, ``-Summary``, ``-Query-Id``, ``-Timezone``; errors as ``Code: N. DB::Exception: ...``
with ``X-ClickHouse-Exception-Code``). There is no SQL of our own.

What differs from a ClickHouse server: one statement runs at a time (chdb has one connection per store; requests
queue on it), sessions are not kept (each request runs with the settings it carries; a ``SET`` statement changes
the store's defaults until the server stops), multipart requests (external data) are refused, and there is one
user whose password is ``$PULSEARB_STORE_PASSWORD`` or a random one written to the server record.

The record ``<store>/pulsearb-server.json`` (mode 0600: pid, URL, password) is how other pulsearb processes find
the server: :func:`sinks.clickhouse.connect` sends a ``chdb://`` DSN of a served store here instead of opening it.
Run it with ``python -m sinks.server PATH [--port N]`` (``pulsearb stack up`` and ``pulsearb db serve`` do).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import hmac
import json
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

log = logging.getLogger(__name__)

RECORD_NAME = "pulsearb-server.json"
HOST = "127.0.0.1"  # loopback only: the store holds trading history and the engine can read local files
USER = "default"
SERVER_NAME = "pulsearb-store"

# URL parameters that steer the HTTP exchange rather than the query (ClickHouse's HTTP handler reads them itself).
TRANSPORT = frozenset(
    {
        "query",
        "database",
        "default_format",
        "user",
        "password",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "close_session",
        "compress",
        "decompress",
        "enable_http_compression",
        "http_zlib_compression_level",
        "wait_end_of_query",
        "buffer_size",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "client_protocol_version",
        "quota_key",
        "stacktrace",
        "role",
    }
)

_FORMAT = re.compile(rb"\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)", re.IGNORECASE)
_FORMAT_AT_END = re.compile(rb"\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)\s*;?\s*$", re.IGNORECASE)
_INSERT = re.compile(rb"^\s*INSERT\b", re.IGNORECASE)
_CODE = re.compile(r"Code: (\d+)\.")
_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)\s*$")
_SPLIT_WINDOW = 1 << 20  # an INSERT statement is found within this many leading bytes of a request

# ClickHouse's HTTP status per exception (HTTPHandler's exceptionCodeToHTTPStatus, the common cases).
_NOT_FOUND = ("UNKNOWN_TABLE", "UNKNOWN_DATABASE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE")
_BAD_REQUEST = ("SYNTAX_ERROR", "TYPE_MISMATCH", "INCORRECT_DATA", "BAD_ARGUMENTS", "UNKNOWN_SETTING", "UNKNOWN_FORMAT")

_CONTENT_TYPES = (
    ("JSON", "application/json; charset=UTF-8"),
    ("CSV", "text/csv; charset=UTF-8"),
    ("TabSeparated", "text/tab-separated-values; charset=UTF-8"),
    ("TSV", "text/tab-separated-values; charset=UTF-8"),
    ("Pretty", "text/plain; charset=UTF-8"),
    ("Markdown", "text/markdown; charset=UTF-8"),
    ("Vertical", "text/plain; charset=UTF-8"),
    ("Values", "text/plain; charset=UTF-8"),
    ("XML", "application/xml; charset=UTF-8"),
)


class EngineError(Exception):
    """The engine rejected a statement; ``str`` is its ``Code: N. DB::Exception: ...`` text."""


@dataclass(frozen=True, slots=True)
class ServerRecord:
    """Where a running store server is: written by the server, read by :func:`sinks.clickhouse.connect`."""

    pid: int
    url: str
    path: str
    user: str
    password: str

    @classmethod
    def read(cls, store: Path) -> ServerRecord | None:
        """The record in ``store``, or None when there is none or it is unreadable."""
        try:
            data = json.loads((store / RECORD_NAME).read_text())
            return cls(int(data["pid"]), str(data["url"]), str(data["path"]), str(data["user"]), str(data["password"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, store: Path) -> None:
        """Write the record atomically, readable by its owner only (it holds the password)."""
        tmp = store / f".{RECORD_NAME}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(self), f)
        tmp.replace(store / RECORD_NAME)


@dataclass(slots=True)
class Outcome:
    """What one request produced."""

    body: bytes = b""
    fmt: str | None = None  # the output format, when the statement returns rows
    summary: dict[str, str] = field(default_factory=dict)


class Engine:
    """The one chdb connection of a store; statements run one at a time under a lock.

    Args:
        path: the store's data directory.
        config_file: a ClickHouse config for the engine (storage policies, backup paths), or None.
    """

    def __init__(self, path: Path, config_file: str | None = None) -> None:
        import chdb

        path.mkdir(parents=True, exist_ok=True)
        conn_str = f"{path}?config-file={config_file}" if config_file else str(path)
        try:
            self._conn = chdb.connect(conn_str)
        except Exception as exc:  # another process owns the directory, or the config is bad
            raise EngineError(_engine_text(exc)) from exc
        self._classify = getattr(getattr(self._conn, "_conn", None), "classify_query", None)
        self._lock = threading.Lock()
        self._settings: dict[str, str] = {}  # settings set on the connection by the last request
        self._database: str | None = None
        tz, version = self._run(b"SELECT timezone(), version()", "TabSeparated").bytes().decode().split()
        self.timezone, self.version = tz, version

    def close(self) -> None:
        """Release the store (flushes the engine)."""
        with self._lock:
            self._conn.close()

    def execute(
        self,
        text: bytes,
        fmt: str,
        params: Mapping[str, str],
        settings: Mapping[str, str],
        database: str | None,
        readonly: bool,
    ) -> Outcome:
        """Run one request's statement with its settings, database and query parameters.

        Raises:
            EngineError: the engine rejected it (a readonly request that writes is rejected as ClickHouse does).
        """
        with self._lock:  # chdb's parser and engine are used by one request at a time
            kind = self._kind(text)
            if readonly and kind not in (None, "READ_ONLY"):
                msg = "Code: 164. DB::Exception: Cannot execute query in readonly mode. (READONLY)"
                raise EngineError(msg)
            split = self._split_insert(text) if kind in (None, "MUTATING") else None
            self._apply(settings, database)
            if split is not None:
                statement, data_fmt, data = split
                done = self._insert(statement, data_fmt, data)
                return Outcome(summary=_summary(done.rows_written, done.bytes_written, 0, 0, done.elapsed))
            result = self._run(text, fmt, params)
            if text.lstrip()[:3].upper() == b"USE":
                self._database = None  # the statement moved the connection: set it again on the next request
        body = result.bytes() or b""
        produces = kind == "READ_ONLY" or (kind is None and bool(body))
        out_fmt = None
        if produces:
            m = _FORMAT_AT_END.search(text)
            out_fmt = m.group(1).decode() if m else fmt
        summary = _summary(result.rows_written(), result.bytes_written(), result.rows_read(), result.bytes_read(), 0)
        summary["elapsed_ns"] = str(int(result.elapsed() * 1e9))
        summary["result_bytes"] = str(len(body))
        return Outcome(body, out_fmt, summary)

    def _kind(self, text: bytes) -> str | None:
        """READ_ONLY, MUTATING, CONTROL, ... as the engine's parser sees it (None when chdb cannot say)."""
        if self._classify is None:
            return None
        head = text if len(text) <= _SPLIT_WINDOW else text[:_SPLIT_WINDOW]
        try:
            info = self._classify(head.decode(errors="replace"))
        except Exception:
            return None
        name = getattr(info.get("query_class"), "name", None)
        if name == "UNKNOWN" and _INSERT.match(head):
            return "MUTATING"  # an INSERT followed by its data does not parse as SQL, which is expected
        return name if name != "UNKNOWN" else None

    def _split_insert(self, text: bytes) -> tuple[str, str, bytes] | None:
        """Split ``INSERT ... FORMAT F <data>`` into (statement, F, data) as ClickHouse does, or None.

        The data starts after the first newline following the format name, or after the whitespace when there is
        no newline. The statement is accepted only if the engine parses it as one INSERT; anything else (VALUES,
        INSERT ... SELECT) runs as one query.
        """
        if not _INSERT.match(text):
            return None
        m = _FORMAT.search(text, 0, _SPLIT_WINDOW)
        if m is None:
            return None
        try:
            statement = text[: m.start()].decode().strip()
            info = self._classify(text[: m.end()].decode()) if self._classify is not None else None
        except Exception:  # not text before the format name, or the parser refused it: not a split point
            return None
        if info is not None and (info.get("statement_count") != 1 or info["query_class"].name != "MUTATING"):
            return None
        i = m.end()
        while i < len(text) and text[i] in b" \t":
            i += 1
        if text[i : i + 2] == b"\r\n":
            i += 2
        elif text[i : i + 1] == b"\n":
            i += 1
        else:
            while i < len(text) and text[i] in b" \t\r\n":
                i += 1
        return statement, m.group(1).decode(), text[i:]

    def _apply(self, settings: Mapping[str, str], database: str | None) -> None:
        """Bring the connection to this request's settings and database (only what differs from the last one)."""
        for name in [n for n in self._settings if n not in settings]:
            self._run(f"SET {_ident(name)} = DEFAULT".encode(), "TabSeparated")
            del self._settings[name]
        for name, value in settings.items():
            if self._settings.get(name) != value:
                self._run(f"SET {_ident(name)} = {_literal(value)}".encode(), "TabSeparated")
                self._settings[name] = value
        target = database or "default"
        if self._database != target:
            self._run(f"USE {_quote_name(target)}".encode(), "TabSeparated")
            self._database = target

    def _run(self, text: bytes, fmt: str, params: Mapping[str, str] | None = None) -> Any:
        try:
            return self._conn.query(text, fmt, params=dict(params or {}))
        except Exception as exc:  # chdb raises its own error type for every engine exception
            raise EngineError(_engine_text(exc)) from exc

    def _insert(self, statement: str, fmt: str, data: bytes) -> Any:
        try:
            with self._conn.send_insert(statement, fmt) as ins:
                if data:
                    ins.append(data)
                return ins.finish()
        except Exception as exc:
            raise EngineError(_engine_text(exc)) from exc


def _engine_text(exc: BaseException) -> str:
    text = str(exc)
    at = text.find("Code: ")
    return (text[at:] if at >= 0 else text).strip() or type(exc).__name__


def _summary(written_rows: int, written_bytes: int, read_rows: int, read_bytes: int, elapsed_s: float) -> dict:
    return {
        "read_rows": str(read_rows),
        "read_bytes": str(read_bytes),
        "written_rows": str(written_rows),
        "written_bytes": str(written_bytes),
        "total_rows_to_read": str(read_rows),
        "elapsed_ns": str(int(elapsed_s * 1e9)),
    }


def _ident(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        msg = f"Code: 115. DB::Exception: Unknown setting '{name[:100]}'. (UNKNOWN_SETTING)"
        raise EngineError(msg)
    return name


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quote_name(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _status(message: str) -> tuple[int, str]:
    """HTTP status and ClickHouse error code of an engine error message."""
    m = _CODE.search(message)
    code = m.group(1) if m else "1002"
    n = _NAME.search(message)
    name = n.group(1) if n else ""
    if name == "READONLY":
        return 403, code
    if name in _NOT_FOUND:
        return 404, code
    if name in _BAD_REQUEST or name.startswith(("CANNOT_PARSE", "ILLEGAL_")):
        return 400, code
    return 500, code


def _content_type(fmt: str) -> str:
    for prefix, ctype in _CONTENT_TYPES:
        if fmt.startswith(prefix):
            return ctype
    return "application/octet-stream"


def decode_body(data: bytes, encoding: str) -> bytes:
    """Undo the request's ``Content-Encoding`` (gzip, deflate, lz4 frames, zstd, br; several, comma-separated).

    Raises:
        EngineError: an encoding this process cannot decode.
    """
    for enc in reversed([e.strip().lower() for e in encoding.split(",") if e.strip()]):
        if enc in ("", "identity"):
            continue
        if enc in ("gzip", "x-gzip"):
            data = gzip.decompress(data)
        elif enc == "deflate":
            data = zlib.decompress(data)
        elif enc == "lz4":
            import lz4.frame

            data = lz4.frame.decompress(data)
        elif enc == "zstd":
            data = _optional("zstandard", enc).ZstdDecompressor().decompressobj().decompress(data)
        elif enc == "br":
            data = _optional("brotli", enc).decompress(data)
        else:
            msg = f"Code: 36. DB::Exception: Unknown Content-Encoding {enc!r}. (BAD_ARGUMENTS)"
            raise EngineError(msg)
    return data


def _optional(module: str, enc: str) -> Any:
    try:
        return __import__(module)
    except ImportError as exc:
        msg = f"Code: 36. DB::Exception: Content-Encoding {enc} needs the {module} package here. (BAD_ARGUMENTS)"
        raise EngineError(msg) from exc


class StoreServer(ThreadingHTTPServer):
    """The HTTP server: one :class:`Engine`, loopback only, one password."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, engine: Engine, port: int, password: str) -> None:
        super().__init__((HOST, port), _Handler)
        self.engine = engine
        self.password = password

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StoreServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines carry query text and may carry a password parameter: never logged

    def do_GET(self) -> None:
        self._handle(post=False)

    def do_POST(self) -> None:
        self._handle(post=True)

    def _handle(self, post: bool) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        query_id = params.get("query_id") or str(uuid.uuid4())
        try:
            body = self._body() if post else b""
        except (ValueError, OSError, EOFError, EngineError) as exc:
            self._error(
                exc if isinstance(exc, EngineError) else EngineError(f"Code: 27. DB::Exception: {exc}."), query_id
            )
            return
        if url.path in ("/ping", "/replicas_status") or (url.path == "/" and not post and "query" not in params):
            self._reply(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
            return
        if url.path != "/":
            self._reply(404, f"There is no handle {url.path}\n".encode(), {"Content-Type": "text/plain"})
            return
        if not self._authorized(params):
            msg = (
                f"Code: 516. DB::Exception: {self._user(params)}: Authentication failed: password is incorrect, or "
                "there is no user with such name (the password is in the store's pulsearb-server.json, or "
                "$PULSEARB_STORE_PASSWORD). (AUTHENTICATION_FAILED)"
            )
            self._reply(401, msg.encode() + b"\n", {"X-ClickHouse-Exception-Code": "516"})
            return
        if self.headers.get("Content-Type", "").startswith("multipart/form-data"):
            msg = "Code: 48. DB::Exception: multipart requests (external data) are not served here. (NOT_IMPLEMENTED)"
            self._error(EngineError(msg), query_id)
            return
        text = params.get("query", "").encode()
        if body:
            text = text + b"\n" + body if text else body
        if not text.strip():
            self._error(EngineError("Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)"), query_id)
            return
        fmt = params.get("default_format") or self.headers.get("X-ClickHouse-Format") or "TabSeparated"
        database = params.get("database") or self.headers.get("X-ClickHouse-Database")
        bind = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        settings = {k: v for k, v in params.items() if k not in TRANSPORT and not k.startswith("param_")}
        try:
            out = self.server.engine.execute(text, fmt, bind, settings, database, readonly=not post)
        except EngineError as exc:
            self._error(exc, query_id)
            return
        headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": self.server.engine.timezone,
            "X-ClickHouse-Summary": json.dumps(out.summary, separators=(",", ":")),
            "Content-Type": _content_type(out.fmt) if out.fmt else "text/plain; charset=UTF-8",
        }
        if out.fmt:
            headers["X-ClickHouse-Format"] = out.fmt
        self._reply(200, out.body, headers)

    def _user(self, params: Mapping[str, str]) -> str:
        return params.get("user") or self.headers.get("X-ClickHouse-User") or USER

    def _authorized(self, params: Mapping[str, str]) -> bool:
        given = params.get("password") or self.headers.get("X-ClickHouse-Key")
        auth = self.headers.get("Authorization", "")
        if given is None and auth.startswith("Basic "):
            with contextlib.suppress(ValueError):
                given = base64.b64decode(auth[6:]).decode().partition(":")[2]
        return given is not None and hmac.compare_digest(given.encode(), self.server.password.encode())

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            data = b"".join(parts)
        else:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return decode_body(data, self.headers.get("Content-Encoding", ""))

    def _error(self, exc: EngineError, query_id: str) -> None:
        message = str(exc)
        status, code = _status(message)
        if "(version " not in message:
            message = f"{message} (version {self.server.engine.version} (chdb))"
        headers = {"X-ClickHouse-Exception-Code": code, "X-ClickHouse-Query-Id": query_id}
        self._reply(status, message.encode() + b"\n", headers | {"Content-Type": "text/plain; charset=UTF-8"})

    def _reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        self.send_header("X-ClickHouse-Server-Display-Name", SERVER_NAME)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


def served_password() -> str:
    """The password clients must send: ``$PULSEARB_STORE_PASSWORD``, else a new random one."""
    return os.environ.get("PULSEARB_STORE_PASSWORD") or secrets.token_urlsafe(24)


def engine_config(directory: Path, allowed_backups: Path, user_config: str | None = None) -> Path:
    """Write a ClickHouse config into ``directory`` that allows backups under ``allowed_backups`` and merges the
    store's own config (through ``config.d/``); return its path.

    ClickHouse writes and reads backups only under ``backups.allowed_path``, which is set when the engine starts.
    """
    config = directory / "config.xml"
    allowed = escape(str(allowed_backups).rstrip("/") + "/")
    config.write_text(f"<clickhouse><backups><allowed_path>{allowed}</allowed_path></backups></clickhouse>\n")
    if user_config:
        (directory / "config.d").mkdir(exist_ok=True)
        shutil.copy(user_config, directory / "config.d" / Path(user_config).name)
    return config


@contextlib.contextmanager
def serving(path: Path, port: int = 0, config_file: str | None = None) -> Iterator[StoreServer]:
    """Own the store at ``path`` and serve it on 127.0.0.1:``port`` (0: any free port) in a background thread.

    The record is written once the server accepts connections and removed when it stops.

    Raises:
        EngineError: chdb could not open the store (another process owns it).
        OSError: the port is taken.
    """
    path = path.resolve()
    with tempfile.TemporaryDirectory(prefix="pulsearb-store-config-") as tmp:
        # Backups may go anywhere this process can write: `pulsearb db backup DIR` runs through the server.
        engine = Engine(path, str(engine_config(Path(tmp), Path("/"), config_file)))
        try:
            server = StoreServer(engine, port, served_password())
        except OSError:
            engine.close()
            raise
        with _served(path, engine, server):
            yield server


@contextlib.contextmanager
def _served(path: Path, engine: Engine, server: StoreServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, name="store-http", daemon=True)
    thread.start()
    record = ServerRecord(os.getpid(), server.url, str(path), USER, server.password)
    try:
        record.write(path)
        yield
    finally:
        with contextlib.suppress(OSError):
            if ServerRecord.read(path) == record:
                (path / RECORD_NAME).unlink()
        server.shutdown()
        server.server_close()
        engine.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m sinks.server PATH [--port N] [--config-file FILE]``: serve until SIGTERM or Ctrl-C."""
    p = argparse.ArgumentParser(prog="python -m sinks.server", description=__doc__.splitlines()[0])
    p.add_argument("path", type=Path, help="the embedded store's data directory")
    p.add_argument("--port", type=int, default=0, help="loopback port (default: any free port)")
    p.add_argument("--config-file", default=None, help="ClickHouse config for the engine")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with serving(args.path, args.port, args.config_file) as server:
            log.info("serving %s at %s (chdb %s), pid %d", args.path, server.url, server.engine.version, os.getpid())
            while not stop.wait(1.0):
                pass
    except EngineError as exc:
        print(f"cannot open the store {args.path}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot serve the store on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    log.info("stopped serving %s", args.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
