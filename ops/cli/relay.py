"""``pulsearb relay``: decode, encode, serve, record, replay.

decode reads frames (raw binary stream, or ``--hex`` one frame per line) and prints one JSON object per line per
frame; a bad frame prints ``{"error": "<reason>", "offset": N}`` and decoding goes on (``--strict`` stops with
exit code 1). encode reads those JSON lines back and writes frames. serve runs AlphaPulse-compatible relays;
record and replay move traffic between a relay socket and a capture file.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from base.errors import ConfigError, FrameError
from flows.relay.capture import iter_capture, read_capture_info
from flows.relay.codec import ChecksumPolicy, Frame, decode_frame
from flows.relay.framing import DeadFrame, Framer
from flows.relay.jsonform import frame_from_json, frame_to_json
from flows.relay.playback import record, replay
from flows.relay.protocol import RelayDomain
from flows.relay.server import DEFAULT_DOMAINS, RelayServer

_READ_SIZE = 65536
_DOMAIN_ALIASES = {"market_data": 1, "market": 1, "signal": 2, "signals": 2, "execution": 3, "system": 4}


def register(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    """Add the ``relay`` group and its commands."""
    group = sub.add_parser(name, help=help_text, description=help_text)
    cmds = group.add_subparsers(dest="relay_command", metavar="COMMAND", required=True)

    p = cmds.add_parser("decode", help="frames (binary stream or --hex lines) -> JSON lines on stdout")
    p.add_argument("file", nargs="?", help="input file (default stdin)")
    p.add_argument("--hex", action="store_true", help="input is hex, one frame per line")
    p.add_argument("--strict", action="store_true", help="exit with code 1 at the first bad frame")
    p.add_argument(
        "--verify-checksum",
        default="execution",
        metavar="DOMAINS",
        help="domains whose CRC32 is verified: all, none, or a comma list (default execution)",
    )
    p.set_defaults(func=_decode)

    p = cmds.add_parser("encode", help="JSON lines (the decode output) -> frames on stdout")
    p.add_argument("file", nargs="?", help="input file (default stdin)")
    p.add_argument("--hex", action="store_true", help="write hex, one frame per line, instead of binary")
    p.set_defaults(func=_encode)

    p = cmds.add_parser("serve", help="run relays, one Unix socket per domain, until interrupted")
    p.add_argument("--socket-dir", default="/tmp/torq", help="directory for the sockets (default /tmp/torq)")
    p.add_argument(
        "--domains",
        default=",".join(d.name.lower() for d in DEFAULT_DOMAINS),
        help="comma list of market_data, signal, execution, system (default the first three)",
    )
    p.add_argument("--mode", default="660", help="socket file mode, octal (default 660)")
    p.add_argument("--queue", type=int, default=10_000, help="reads a client may lag before it is dropped")
    p.set_defaults(func=_serve)

    p = cmds.add_parser("record", help="record a relay socket into a capture file")
    p.add_argument("--socket", required=True, help="relay socket to read")
    p.add_argument("--out", required=True, help="capture file to write")
    p.add_argument("--duration", type=float, help="seconds to record (default: until interrupted)")
    p.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to wait for the relay (default 10)")
    p.set_defaults(func=_record)

    p = cmds.add_parser("replay", help="send a capture file into a relay socket")
    p.add_argument("capture", help="capture file to replay")
    p.add_argument("--socket", required=True, help="relay socket to write")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0, help="time scale: 1 as recorded, 2 twice as fast")
    pace.add_argument("--as-fast-as-possible", action="store_true", help="no pacing")
    p.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to wait for the relay (default 10)")
    p.set_defaults(func=_replay)


def _emit(out: TextIO, obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj, separators=(",", ":")))
    out.write("\n")


def _open_in(path: str | None) -> BinaryIO:
    if path is None:
        return sys.stdin.buffer
    try:
        return Path(path).open("rb")
    except OSError as exc:
        msg = f"cannot read {path}: {exc.strerror or exc}"
        raise ConfigError(msg) from exc


def _decode(args: argparse.Namespace) -> int:
    try:
        policy = ChecksumPolicy.parse(args.verify_checksum)
    except ValueError as exc:
        msg = f"--verify-checksum: {exc}"
        raise ConfigError(msg) from None
    source = _open_in(args.file)
    items = _hex_items(source, policy) if args.hex else _stream_items(source, policy)
    out = sys.stdout
    try:
        for item in items:
            if isinstance(item, Frame):
                _emit(out, frame_to_json(item))
                continue
            error, offset, line = item
            problem: dict[str, Any] = {"error": error, "offset": offset}
            if line is not None:
                problem["line"] = line
            _emit(out, problem)
            if args.strict:
                out.flush()
                raise FrameError(error, offset)
        out.flush()
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


_Error = tuple[str, int, int | None]


def _stream_items(source: BinaryIO, policy: ChecksumPolicy) -> Iterator[Frame | _Error]:
    framer = Framer(policy)
    read = getattr(source, "read1", source.read)
    while True:
        chunk = read(_READ_SIZE)
        items = framer.feed(chunk) if chunk else framer.flush()
        for item in items:
            yield (item.reason, item.offset, None) if isinstance(item, DeadFrame) else item
        if not chunk:
            return
        sys.stdout.flush()  # frames arrive as a stream (a live relay): show them as they come


def _hex_items(source: BinaryIO, policy: ChecksumPolicy) -> Iterator[Frame | _Error]:
    for number, line in enumerate(source, start=1):
        text = line.decode("ascii", "replace").strip()
        if not text or text.startswith("#"):
            continue
        try:
            buf = bytes.fromhex(text)
        except ValueError:
            yield ("invalid hex", 0, number)
            continue
        try:
            frame = decode_frame(buf, policy=policy)
        except FrameError as exc:
            yield (exc.reason, exc.offset or 0, number)
            continue
        if len(buf) > len(frame.raw):
            yield (f"{len(buf) - len(frame.raw)} trailing bytes after the frame", len(frame.raw), number)
            continue
        yield frame


def _encode(args: argparse.Namespace) -> int:
    source = _open_in(args.file)
    out = sys.stdout.buffer
    for number, line in enumerate(source, start=1):
        text = line.decode("utf-8", "replace").strip()
        if not text:
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            msg = f"line {number}: not JSON ({exc.msg})"
            raise FrameError(msg) from None
        if isinstance(obj, dict) and "error" in obj:
            continue  # decode's error lines have no frame to re-encode
        try:
            frame = frame_from_json(obj)
        except FrameError as exc:
            msg = f"line {number}: {exc.reason}"
            raise FrameError(msg) from None
        out.write(frame.hex().encode() + b"\n" if args.hex else frame)
    out.flush()
    return 0


def _parse_domains(text: str) -> list[RelayDomain]:
    domains = []
    for item in text.split(","):
        key = item.strip().lower()
        try:
            domains.append(RelayDomain(int(key) if key.isdigit() else _DOMAIN_ALIASES[key]))
        except (KeyError, ValueError):
            msg = f"--domains: unknown domain {item!r} (use market_data, signal, execution, system)"
            raise ConfigError(msg) from None
    return domains


def _stop_on_signals() -> threading.Event:
    """Return an event set by SIGINT or SIGTERM, so long-running commands end cleanly."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _serve(args: argparse.Namespace) -> int:
    try:
        mode = int(args.mode, 8)
    except ValueError:
        msg = f"--mode: expected an octal mode like 660, got {args.mode!r}"
        raise ConfigError(msg) from None
    domains = _parse_domains(args.domains)
    stop = _stop_on_signals()
    server = RelayServer(args.socket_dir, domains, mode=mode, queue_chunks=args.queue).start()
    paths = ", ".join(f"{d.name.lower()}={server.socket_path(d)}" for d in domains)
    print(f"pulsearb relay: serving {paths} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    _emit(sys.stdout, {d.name.lower(): vars(server.stats(d)) for d in domains})
    return 0


def _record(args: argparse.Namespace) -> int:
    stop = _stop_on_signals()
    result = record(args.socket, args.out, duration_s=args.duration, stop=stop, connect_timeout_s=args.connect_timeout)
    _emit(sys.stdout, {"out": args.out, **{k: getattr(result, k) for k in result.__slots__}})
    return 0


def _replay(args: argparse.Namespace) -> int:
    if not args.as_fast_as_possible and args.speed <= 0:
        msg = f"--speed must be positive, got {args.speed}"
        raise ConfigError(msg)
    read_capture_info(args.capture)  # a bad file fails before anything is sent
    stop = _stop_on_signals()
    speed = None if args.as_fast_as_possible else args.speed
    records = iter_capture(args.capture)
    sent = replay(records, args.socket, speed=speed, stop=stop, connect_timeout_s=args.connect_timeout)
    _emit(sys.stdout, {"capture": args.capture, "sent": sent})
    return 0
