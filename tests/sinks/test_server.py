"""The store server speaks ClickHouse's HTTP protocol: clickhouse-connect, plain HTTP clients, errors, auth."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pytest

from ops.cli import main
from sinks.backup import backup, restore
from sinks.clickhouse import connect, query_rows, served, session
from sinks.server import RECORD_NAME, ServerRecord
from sinks.writer import ArchiveWriter
from tests.sinks.records import encode, execution, pool_sync
from tests.sinks.served import served_store


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ServerRecord]]:
    with served_store(tmp_path_factory.mktemp("served")) as found:
        yield found


def _http(record: ServerRecord, query: str = "", body: bytes | None = None, password: str | None = None,
          headers: dict[str, str] | None = None, **params: str) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    """One raw HTTP request as curl would send it; returns (status, headers, body)."""
    args = {"query": query, **params} if query else dict(params)
    url = f"{record.url}/?{urllib.parse.urlencode(args)}"
    auth = base64.b64encode(f"default:{record.password if password is None else password}".encode()).decode()
    req = urllib.request.Request(url, data=body, headers={"Authorization": f"Basic {auth}", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_a_chdb_dsn_of_a_served_store_goes_through_the_server(server: tuple[str, ServerRecord]) -> None:
    dsn, record = server
    assert served(dsn) == record
    with session(dsn) as client:  # would raise StoreBusy if this process tried to open the directory itself
        assert type(client).__name__ == "HttpClient"
        _, rows = query_rows(client, "SELECT count() FROM system.tables WHERE database = 'pulsearb'")
    assert rows[0][0] > 10
    assert (Path(record.path) / RECORD_NAME).stat().st_mode & 0o077 == 0, "the record holds the password"


def test_clickhouse_connect_reads_writes_and_deduplicates(server: tuple[str, ServerRecord]) -> None:
    dsn, record = server
    host, port = record.url.removeprefix("http://").split(":")
    client = clickhouse_connect.get_client(host=host, port=int(port), username="default", password=record.password)
    try:
        assert client.server_version and client.query("SELECT 1 AS one").result_rows == [(1,)]
        bound = client.query("SELECT {a:Int64} + 1 AS b, {s:String} AS s", parameters={"a": 41, "s": "it's"})
        assert bound.result_rows == [(42, "it's")]
        client.command("CREATE TABLE IF NOT EXISTS default.cc (a UInt64, b String) ENGINE = MergeTree ORDER BY a")
        client.insert("default.cc", [[1, "one"], [2, "two"]], column_names=["a", "b"])  # lz4-compressed body
        assert client.query("SELECT * FROM default.cc ORDER BY a").result_rows == [(1, "one"), (2, "two")]
        assert list(client.query_df("SELECT a FROM default.cc ORDER BY a")["a"]) == [1, 2]
        with pytest.raises(Exception, match="UNKNOWN_TABLE"):
            client.query("SELECT * FROM default.no_such_table")
    finally:
        client.close()
    # The archive path: Avro containers through the writer, a replayed batch (same dedup token) stored once.
    recs = [execution(f"srv{i}", 1_760_000_000_000_000_000 + i, i) for i in range(50)]
    for _ in range(2):
        w = ArchiveWriter(lambda: connect(dsn))
        w.add_many("arb.execution", 0, list(enumerate(encode("arb.execution", recs))))
        w.close()
    with session(dsn) as c:
        _, rows = query_rows(c, "SELECT count() FROM pulsearb.arb_execution WHERE opportunity_id LIKE 'srv%'")
    assert rows[0][0] == 50


def test_plain_http_formats_inserts_errors_and_auth(server: tuple[str, ServerRecord]) -> None:
    _, record = server
    assert urllib.request.urlopen(f"{record.url}/ping", timeout=5).read() == b"Ok." + b"\n"
    status, headers, body = _http(record, "SELECT 1 AS x FORMAT JSONEachRow")
    assert (status, body, headers["X-ClickHouse-Format"]) == (200, b'{"x":1}\n', "JSONEachRow")
    assert json.loads(headers["X-ClickHouse-Summary"])["read_rows"] == "1"
    status, headers, body = _http(record, body=b"SELECT 2 AS y", default_format="CSVWithNames")
    assert (status, body, headers["X-ClickHouse-Format"]) == (200, b'"y"\n2\n', "CSVWithNames")
    # INSERT: the statement in ?query=, the data in the body (gzip-compressed as curl --compressed would send it).
    _http(record, body=b"CREATE TABLE IF NOT EXISTS default.h (a UInt8, b String) ENGINE = MergeTree ORDER BY a")
    data = gzip.compress(b"1,one\n2,two\n")
    status, headers, _ = _http(record, "INSERT INTO default.h FORMAT CSV", data, headers={"Content-Encoding": "gzip"})
    assert status == 200 and json.loads(headers["X-ClickHouse-Summary"])["written_rows"] == "2"
    # The statement and its data in one body, sent chunked.
    conn = http.client.HTTPConnection(record.url.removeprefix("http://"), timeout=30)
    conn.putrequest("POST", f"/?password={record.password}")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for chunk in (b"INSERT INTO default.h FORMAT TSV\n", b"3\tthree\n"):
        conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    conn.send(b"0\r\n\r\n")
    assert conn.getresponse().status == 200
    conn.close()
    assert _http(record, "SELECT count() FROM default.h")[2] == b"3\n"
    # Errors: ClickHouse's text and code; GET is read-only; a wrong password is refused.
    status, headers, body = _http(record, "SELEC 1")
    assert status == 400 and headers["X-ClickHouse-Exception-Code"] == "62" and body.startswith(b"Code: 62.")
    status, _, body = _http(record, "INSERT INTO default.h VALUES (9, 'x')")
    assert status == 403 and b"READONLY" in body
    status, headers, _ = _http(record, "SELECT 1", password="wrong")
    assert status == 401 and headers["X-ClickHouse-Exception-Code"] == "516"
    # Settings travel as URL parameters and hold for that request only.
    assert _http(record, "SELECT getSetting('max_threads')", max_threads="3")[2] == b"3\n"
    assert _http(record, "SELECT getSetting('max_threads')")[2] != b"3\n"


def test_db_commands_run_through_the_server(server: tuple[str, ServerRecord], tmp_path: Path, capsys) -> None:
    dsn, _ = server
    w = ArchiveWriter(lambda: connect(dsn))
    w.add_many("market.pool_sync", 0, list(enumerate(encode("market.pool_sync", [pool_sync(i) for i in range(30)]))))
    w.close()
    assert main(["db", "migrate", "--dsn", dsn]) == 0
    assert main(["db", "status", "--dsn", dsn]) == 0
    sums = backup(dsn, tmp_path / "bk")
    assert sums["market_pool_sync"].rows >= 30
    assert main(["db", "backup", str(tmp_path / "bk2"), "--dsn", dsn]) == 0
    restored = restore(f"chdb://{tmp_path / 'copy'}", tmp_path / "bk")  # an embedded store no server owns
    assert restored["market_pool_sync"] == sums["market_pool_sync"]
    capsys.readouterr()


def test_serving_a_store_another_process_owns_is_one_line(tmp_path: Path) -> None:
    store = tmp_path / "store"
    holder = subprocess.Popen([sys.executable, "-m", "tests.sinks.holder", str(store), "30"], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"holding"
        done = subprocess.run(
            [sys.executable, "-m", "ops", "db", "serve", "--dsn", f"chdb://{store}", "--port", "0"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert f"process {holder.pid}" in lines[0] and "Traceback" not in done.stderr


def test_a_stopped_server_leaves_the_store_to_its_next_owner(tmp_path: Path) -> None:
    with served_store(tmp_path) as (dsn, record):
        pass
    deadline = time.monotonic() + 10
    while served(dsn) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (Path(record.path) / RECORD_NAME).exists()
    with session(dsn) as client:  # the directory again, embedded
        assert type(client).__name__ != "HttpClient"
