"""What a running process exposes, read from /proc: its listening sockets and its environment."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

_TABLES = ("tcp", "tcp6", "udp", "udp6")
_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"  # bound and not connected: takes datagrams from anyone


@dataclass(frozen=True, slots=True)
class Listener:
    """A socket of a process that accepts traffic: a listening TCP socket or a bound UDP one."""

    pid: int
    proto: str
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int

    @property
    def loopback(self) -> bool:
        """True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z."""
        a = self.address
        if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
            a = a.ipv4_mapped
        return a.is_loopback

    def __str__(self) -> str:
        return f"pid {self.pid} {self.proto} {self.address}:{self.port}"


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets ``pid`` holds open (empty if it is gone)."""
    out = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(int(target[8:-1]))
    return out


def _address(hex_addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_addr)
    # The kernel prints each 32-bit word in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def listeners(pid: int) -> list[Listener]:
    """Every listening TCP and bound UDP socket of ``pid`` (IPv4 and IPv6)."""
    inodes = socket_inodes(pid)
    out = []
    for table in _TABLES:
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if inode not in inodes or state != (_TCP_LISTEN if table.startswith("tcp") else _UDP_UNCONNECTED):
                continue
            host, port = local.split(":")
            out.append(Listener(pid, table, _address(host), int(port, 16)))
    return out


def environment(pid: int) -> bytes:
    """The environment ``pid`` was started with (NUL-separated ``NAME=value``)."""
    return Path(f"/proc/{pid}/environ").read_bytes()
