"""A Protocol V2 relay with AlphaPulse's semantics, for local runs and tests.

Like AlphaPulse's generic relay (``libs/messaging/relays/core/src/common/``): one Unix stream socket per domain
(``market_data.sock``, ``signals.sock``, ``execution.sock``, optionally ``system.sock``); the parent directory is
created and a stale socket file removed; every connection is symmetric, with no handshake; every frame whose header
``relay_domain`` matches the socket's domain is broadcast, raw, to every client, the sender included; checksums
are not verified. Two deliberate differences, both invisible to a well-behaved client:

- input is re-framed (AlphaPulse treats each ``read()`` as one message and silently drops the second half of a
  split one); structurally broken frames are dropped and counted, as AlphaPulse drops bad chunks;
- a client too slow to keep up (its bounded queue full) is disconnected and counted, instead of silently losing
  messages, so a consumer can tell it missed data and reconnect.

Plus pulsearb's opt-in subscription extension (:mod:`flows.relay.subscription`): a client that sends a
System-domain Subscribe frame receives only matching frames (and no hello headers); others see no difference.

Threads: per domain one acceptor; per client one reader and one writer with a bounded queue.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import stat
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from base.errors import StackError
from flows.relay.codec import ChecksumPolicy, Frame
from flows.relay.framing import DeadFrame, Framer
from flows.relay.protocol import SOCKET_NAMES, RelayDomain
from flows.relay.subscription import Subscription, subscription_of

log = logging.getLogger(__name__)

DEFAULT_DOMAINS = (RelayDomain.MARKET_DATA, RelayDomain.SIGNAL, RelayDomain.EXECUTION)
_MAX_SOCKET_PATH = 107  # sun_path is 108 bytes with the terminating NUL
_RECV_SIZE = 65536
_STOP = object()


@dataclass
class RelayStats:
    """Counters of one domain's relay.

    Attributes:
        accepted: connections accepted.
        clients: connections open now.
        frames_in: frames received whose domain matched (forwarded).
        frames_out: frames queued to clients (one per client that gets it).
        foreign: frames received for another domain (not forwarded, like AlphaPulse).
        dead_in: dead byte ranges received (not forwarded).
        hellos: hello headers received.
        subscribes: subscription requests received.
        slow_dropped: clients disconnected because their queue was full.
    """

    accepted: int = 0
    clients: int = 0
    frames_in: int = 0
    frames_out: int = 0
    foreign: int = 0
    dead_in: int = 0
    hellos: int = 0
    subscribes: int = 0
    slow_dropped: int = 0


class _Client:
    """One connection: a reader thread framing its input, a writer thread draining its bounded queue."""

    def __init__(self, relay: _DomainRelay, sock: socket.socket, number: int) -> None:
        self.relay = relay
        self.sock = sock
        self.name = f"{relay.domain.name.lower()}#{number}"
        self.queue: queue.Queue[object] = queue.Queue(relay.queue_chunks)
        self.subscription: Subscription | None = None
        self.closed = False
        self.reader = threading.Thread(target=self._read, name=f"relay-read-{self.name}", daemon=True)
        self.writer = threading.Thread(target=self._write, name=f"relay-write-{self.name}", daemon=True)

    def start(self) -> None:
        self.writer.start()  # first: the reader joins the writer when it ends
        self.reader.start()

    def offer(self, data: bytes) -> bool:
        """Queue ``data`` without blocking; False when the queue is full."""
        try:
            self.queue.put_nowait(data)
        except queue.Full:
            return False
        return True

    def close(self) -> None:
        """Shut the socket (waking both threads) and stop the writer; idempotent."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(queue.Full):
            self.queue.put_nowait(_STOP)
        self.relay.forget(self)

    def _read(self) -> None:
        framer = Framer(ChecksumPolicy.none(), emit_hellos=True)
        try:
            while not self.closed:
                data = self.sock.recv(_RECV_SIZE)
                if not data:
                    break
                items = framer.feed(data)
                if items:
                    self.relay.handle(self, items)
        except OSError:
            pass
        finally:
            self.close()
            if self.writer.ident is not None:  # the reader can end before the writer thread ever started
                self.writer.join(timeout=2.0)
            self.sock.close()

    def _write(self) -> None:
        while True:
            item = self.queue.get()
            if item is _STOP:
                return
            batch = [item]
            # Coalesce what is already queued into one send: fewer syscalls under load.
            while len(batch) < 256:
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    self._send(batch)
                    return
                batch.append(nxt)
            if not self._send(batch):
                return

    def _send(self, batch: list[object]) -> bool:
        try:
            self.sock.sendall(b"".join(batch))  # type: ignore[arg-type]
        except OSError:
            # The client is gone for writing (it closed, its echoes unread): stop sending to it, but let the reader
            # drain what it wrote before closing. Shutting the read side too would discard those last frames.
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_WR)
            self.relay.forget(self)
            return False
        return True


class _DomainRelay:
    """The socket, clients and counters of one domain."""

    def __init__(self, domain: RelayDomain, path: Path, mode: int, queue_chunks: int) -> None:
        self.domain = domain
        self.path = path
        self.mode = mode
        self.queue_chunks = queue_chunks
        self.stats = RelayStats()
        self._clients: set[_Client] = set()
        self._lock = threading.RLock()  # RLock: a client dropped while broadcasting forgets itself
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._stopping = False
        self._numbers = 0

    def start(self) -> None:
        _prepare_socket_path(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.path))
            os.chmod(self.path, self.mode)
            listener.listen(128)
        except OSError as exc:
            listener.close()
            msg = f"cannot serve relay socket {self.path}: {exc.strerror or exc}"
            raise StackError(msg) from exc
        listener.settimeout(0.5)  # lets the acceptor notice stop() even where shutdown() does not wake accept()
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, name=f"relay-accept-{self.domain.name}", daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping:
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            with self._lock:
                if self._stopping:
                    sock.close()
                    return
                self._numbers += 1
                client = _Client(self, sock, self._numbers)
                self._clients.add(client)
                self.stats.accepted += 1
                self.stats.clients = len(self._clients)
                client.start()  # under the lock: stop() sees either no client or a started one

    def handle(self, sender: _Client, items: list[Frame | DeadFrame]) -> None:
        """Route what one read from ``sender`` framed: subscriptions, broadcast, or count and drop.

        Each client gets one queue entry per read (the frames it should see, concatenated), as AlphaPulse queues
        one message per read. Runs under the relay lock, so concurrent senders are serialised and every client
        sees the same order.
        """
        with self._lock:
            forward: list[tuple[Frame, bool]] = []
            for item in items:
                if isinstance(item, DeadFrame):
                    self.stats.dead_in += 1
                    continue
                sub = subscription_of(item)
                if sub is not None:
                    sender.subscription = None if sub.everything else sub
                    self.stats.subscribes += 1
                    continue
                if item.header.relay_domain != self.domain:
                    self.stats.foreign += 1
                    continue
                hello = item.header.payload_size == 0 and item.header.sequence == 0
                if hello:
                    self.stats.hellos += 1
                else:
                    self.stats.frames_in += 1
                forward.append((item, hello))
            if not forward:
                return
            everything = b"".join(frame.raw for frame, _ in forward)
            for client in list(self._clients):
                sub = client.subscription
                if sub is None:
                    data, count = everything, len(forward)
                else:
                    wanted = [f.raw for f, hello in forward if not hello and sub.matches(f)]
                    data, count = b"".join(wanted), len(wanted)
                if not count:
                    continue
                if client.offer(data):
                    self.stats.frames_out += count
                elif not client.closed:
                    log.warning("relay %s: client %s too slow (queue full), dropped", self.domain.name, client.name)
                    self.stats.slow_dropped += 1
                    client.close()

    def forget(self, client: _Client) -> None:
        with self._lock:
            self._clients.discard(client)
            self.stats.clients = len(self._clients)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            clients = list(self._clients)
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        if self._acceptor is not None:
            self._acceptor.join(timeout=2.0)
        for client in clients:
            client.close()
        for client in clients:
            client.reader.join(timeout=2.0)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _prepare_socket_path(path: Path) -> None:
    """Create the parent directory and remove a stale socket; refuse a live one or a non-socket file."""
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        msg = f"relay socket path {path} is longer than {_MAX_SOCKET_PATH} bytes: choose a shorter --socket-dir"
        raise StackError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        msg = f"{path} exists and is not a socket: remove it or choose another --socket-dir"
        raise StackError(msg)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()  # nobody listening: stale, as AlphaPulse's relays assume
        return
    finally:
        probe.close()
    msg = f"{path} is served by a running relay: stop it or choose another --socket-dir"
    raise StackError(msg)


class RelayServer:
    """AlphaPulse-compatible relays, one Unix socket per domain, startable in-process.

    Args:
        socket_dir: directory for the socket files (created if missing).
        domains: domains to serve (default market data, signal, execution, as AlphaPulse).
        mode: socket file permissions (default 0o660).
        queue_chunks: reads a client may lag behind before it is dropped (AlphaPulse's channel holds 10,000).

    Example:
        >>> import tempfile
        >>> with RelayServer(tempfile.mkdtemp()) as relay:
        ...     relay.socket_path(RelayDomain.MARKET_DATA).name
        'market_data.sock'
    """

    def __init__(
        self,
        socket_dir: str | Path,
        domains: Iterable[RelayDomain | int] = DEFAULT_DOMAINS,
        *,
        mode: int = 0o660,
        queue_chunks: int = 10_000,
    ) -> None:
        self.socket_dir = Path(socket_dir)
        self.mode = mode
        self._relays = {
            RelayDomain(d): _DomainRelay(
                RelayDomain(d), self.socket_dir / SOCKET_NAMES[RelayDomain(d)], mode, queue_chunks
            )
            for d in domains
        }
        self._started = False

    def socket_path(self, domain: RelayDomain | int) -> Path:
        """Return the socket file of a served domain."""
        return self._relays[RelayDomain(domain)].path

    def stats(self, domain: RelayDomain | int) -> RelayStats:
        """Return the live counters of a served domain."""
        return self._relays[RelayDomain(domain)].stats

    def start(self) -> RelayServer:
        """Bind every socket and start accepting; returns self.

        Raises:
            StackError: a socket path is too long, held by a running relay, or not a socket.
        """
        started: list[_DomainRelay] = []
        try:
            for relay in self._relays.values():
                relay.start()
                started.append(relay)
        except BaseException:
            for relay in started:
                relay.stop()
            raise
        self._started = True
        log.info("relay serving %s", ", ".join(str(r.path) for r in self._relays.values()))
        return self

    def stop(self) -> None:
        """Disconnect every client, close and remove the sockets."""
        if not self._started:
            return
        self._started = False
        for relay in self._relays.values():
            relay.stop()

    def wait_clients(self, domain: RelayDomain | int, count: int, timeout: float = 5.0) -> bool:
        """Wait until ``count`` clients are connected to a domain; return whether they are."""
        deadline = time.monotonic() + timeout
        stats = self.stats(domain)
        while stats.clients < count:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def __enter__(self) -> RelayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
