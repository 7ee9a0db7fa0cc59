"""``pulsearb relay`` through the real console script: decode, encode, and serve/record/replay together."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from flows.relay.capture import read_capture, write_capture
from flows.relay.codec import encode_frame

from .conftest import wait_for
from .helpers import sample_tlvs
from .test_golden import WORKED_EXAMPLE

PULSEARB = str(Path(sys.executable).parent / "pulsearb")
S = sample_tlvs()


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([PULSEARB, "relay", *args], input=stdin, capture_output=True, timeout=60, check=False)


def lines(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.decode().splitlines()]


def test_decode_hex_prints_frames_and_error_lines() -> None:
    good = encode_frame(1, 4, [S["PoolSync"]], sequence=2, timestamp_ns=3)
    text = f"{WORKED_EXAMPLE.hex()}\nnot hex\n\n{good.hex()}\n{good[:40].hex()}\n".encode()
    proc = run("decode", "--hex", stdin=text)
    assert proc.returncode == 0, proc.stderr
    out = lines(proc.stdout)
    assert len(out) == 4
    assert out[0]["tlvs"][0]["name"] == "Trade" and out[0]["header"]["checksum"] == 0x150C0FCA
    assert out[1] == {"error": "invalid hex", "offset": 0, "line": 2}
    assert out[2]["tlvs"][0]["pool_address"] == S["PoolSync"].pool_address
    assert out[2]["tlvs"][0]["reserve0"] == S["PoolSync"].reserve0  # a u128 as a JSON integer
    assert out[3] == {"error": "truncated frame: 40 of 194 bytes", "offset": 0, "line": 5}


def test_decode_strict_stops_with_exit_code_1() -> None:
    text = f"{WORKED_EXAMPLE.hex()}\nabcd\n{WORKED_EXAMPLE.hex()}\n".encode()
    proc = run("decode", "--hex", "--strict", stdin=text)
    assert proc.returncode == 1
    out = lines(proc.stdout)
    assert len(out) == 2 and out[1]["error"] == "truncated header: 2 of 32 bytes"
    assert proc.stderr.decode().strip() == "pulsearb: error: truncated header: 2 of 32 bytes at offset 0"


def test_decode_binary_stream_with_garbage() -> None:
    a = encode_frame(1, 4, [S["PoolSync"]], sequence=1, timestamp_ns=1)
    b = encode_frame(3, 42, [S["ExecutionReport"]], sequence=2, timestamp_ns=2)
    bad_crc = bytearray(b)
    bad_crc[-1] ^= 1  # execution frames have their CRC verified by default
    hello = encode_frame(1, 2, [], sequence=0, timestamp_ns=0, checksum=False)
    stream = hello + a + b"junk!" + b + bytes(bad_crc) + a
    proc = run("decode", stdin=stream)
    assert proc.returncode == 0, proc.stderr
    out = lines(proc.stdout)
    assert [o.get("error") or o["tlvs"][0]["name"] for o in out] == [
        "PoolSync",
        "no magic",
        "ExecutionReport",
        out[3]["error"],
        "PoolSync",
    ]
    assert out[1]["offset"] == 32 + len(a)
    assert out[3]["error"].startswith("checksum mismatch") and out[3]["offset"] == 32 + len(a) + 5 + len(b)
    assert out[2]["header"]["checksum_ok"] is True
    assert run("decode", "--verify-checksum", "none", stdin=stream).stdout.count(b'"error"') == 1
    assert run("decode", "--strict", stdin=stream).returncode == 1


def test_encode_decode_round_trip_is_identity() -> None:
    stream = b"".join(
        encode_frame(d, 4, [t], sequence=i, timestamp_ns=i, checksum=i % 2 == 0)
        for i, (d, t) in enumerate(
            [(1, S["PoolSync"]), (1, S["OrderBook"]), (2, S["ArbitrageSignal"]), (3, S["ExecutionReport"]),
             (2, S["FlashLoanResult"]), (1, S["PoolInfo"])]
        )
    )
    decoded = run("decode", stdin=stream)
    assert decoded.returncode == 0 and b"error" not in decoded.stdout
    encoded = run("encode", stdin=decoded.stdout)
    assert encoded.returncode == 0, encoded.stderr
    assert encoded.stdout == stream  # canonical frames come back byte for byte
    again = run("decode", stdin=encoded.stdout)
    assert lines(again.stdout) == lines(decoded.stdout)
    as_hex = run("encode", "--hex", stdin=decoded.stdout)
    assert b"".join(bytes.fromhex(x) for x in as_hex.stdout.decode().split()) == stream


def test_encode_errors_are_one_line() -> None:
    obj = lines(run("decode", "--hex", stdin=WORKED_EXAMPLE.hex().encode()).stdout)[0]
    obj["tlvs"][0]["venue_id"] = 70000
    proc = run("encode", stdin=(json.dumps(obj) + "\n").encode())
    assert proc.returncode == 1
    err = proc.stderr.decode().strip()
    assert err == "pulsearb: error: line 1: tlv Trade (1): Trade.venue_id: 70000 out of range for u16"
    assert run("encode", stdin=b"{nope\n").returncode == 1


def test_serve_record_replay(sock_dir: Path, tmp_path: Path) -> None:
    sent = [encode_frame(1, 4, [S["PoolSync"]], sequence=i, timestamp_ns=i) for i in range(1, 31)]
    source = tmp_path / "in.parbcap"
    write_capture(source, [(i * 1_000_000, raw) for i, raw in enumerate(sent)])
    out = tmp_path / "out.parbcap"
    serve = subprocess.Popen(
        [PULSEARB, "relay", "serve", "--socket-dir", str(sock_dir), "--domains", "market_data", "--mode", "600"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        sock = sock_dir / "market_data.sock"
        assert wait_for(sock.exists, timeout=20)
        assert oct(sock.stat().st_mode & 0o777) == "0o600"
        recorder = subprocess.Popen(
            [PULSEARB, "relay", "record", "--socket", str(sock), "--out", str(out), "--duration", "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.2)
        replayed = subprocess.run(
            [PULSEARB, "relay", "replay", str(source), "--socket", str(sock), "--speed", "10"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert replayed.returncode == 0, replayed.stderr
        assert json.loads(replayed.stdout) == {"capture": str(source), "sent": 30}
        assert wait_for(lambda: out.exists() and len(read_capture(out)) == 30, timeout=20)
        recorder.send_signal(signal.SIGINT)  # ends cleanly, with a summary
        rec_out, rec_err = recorder.communicate(timeout=20)
        assert recorder.returncode == 0, rec_err
        assert json.loads(rec_out)["frames"] == 30
        assert [r.data for r in read_capture(out)] == sent
    finally:
        serve.send_signal(signal.SIGTERM)
        serve_out, serve_err = serve.communicate(timeout=20)
    assert serve.returncode == 0, serve_err
    assert json.loads(serve_out)["market_data"]["frames_in"] == 30
    assert not (sock_dir / "market_data.sock").exists()


def test_missing_capture_or_relay_is_one_clear_error(sock_dir: Path, tmp_path: Path) -> None:
    missing = run("replay", str(tmp_path / "none.parbcap"), "--socket", str(sock_dir / "x.sock"))
    assert missing.returncode == 1
    assert missing.stderr.decode().startswith("pulsearb: error: cannot open capture")
    write_capture(tmp_path / "one.parbcap", [(1, S["Trade"].encode())])
    for cmd in (
        ["replay", str(tmp_path / "one.parbcap")],
        ["record", "--out", str(tmp_path / "o.parbcap")],
    ):
        proc = run(*cmd, "--socket", str(sock_dir / "x.sock"), "--connect-timeout", "0.1")
        assert proc.returncode == 1
        err = proc.stderr.decode()
        assert err.count("\n") == 1 and "cannot connect to relay" in err and "is the relay running?" in err
