"""Chain watcher: pair ``Sync`` logs -> Protocol V2 PoolSync frames on a relay socket.

This plays the AlphaPulse Polygon adapter's role for the local chain: it polls the node for new blocks, reads
the ``Sync(uint112 reserve0, uint112 reserve1)`` logs of the watched pairs in block and log order, and writes one
PoolSync TLV frame per log to the market-data relay (domain 1, source POLYGON_COLLECTOR, checksum 0, a sequence
that increases by one per frame). On start it first sends every pair's current reserves, so the detector knows
the pools before anything trades. The header and TLV timestamps are the time the frame was built, i.e. when the
event entered the relay (the trace's ``relay_ns``).

    python -m ops.chain.watcher --rpc-url http://127.0.0.1:8545 --deployment FILE --relay-socket SOCK
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eth_utils import keccak
from web3 import Web3

from flows.errors import PulsearbError, StackError
from flows.relay.client import RelayProducer
from flows.relay.codec import encode_frame
from flows.relay.protocol import RelayDomain, SourceType
from flows.relay.tlv import PoolSync
from ops.chain.deploy import Deployment, PairInfo
from ops.chain.tx import contract

log = logging.getLogger(__name__)

SYNC_TOPIC = "0x" + keccak(text="Sync(uint112,uint112)").hex()
MAX_BLOCK_RANGE = 2_000


@dataclass(frozen=True, slots=True)
class SyncEvent:
    """One Sync log (or a start-up snapshot of reserves) as sent to the relay."""

    pair: str
    block_number: int
    log_index: int
    reserve0: int
    reserve1: int
    sent_ns: int
    sequence: int


def sync_frame(pair: PairInfo, reserve0: int, reserve1: int, block_number: int, sequence: int, now_ns: int) -> bytes:
    """A PoolSync frame for ``pair``'s reserves."""
    tlv = PoolSync(
        reserve0=reserve0,
        reserve1=reserve1,
        timestamp_ns=now_ns,
        block_number=block_number,
        venue=pair.venue,
        token0_decimals=pair.token0_decimals,
        token1_decimals=pair.token1_decimals,
        pool_address=pair.address,
        token0_addr=pair.token0,
        token1_addr=pair.token1,
    )
    return encode_frame(
        RelayDomain.MARKET_DATA, SourceType.POLYGON_COLLECTOR, [tlv], sequence=sequence, timestamp_ns=now_ns
    )


class ChainWatcher:
    """Polls a node for pair Sync logs and writes them to a relay, in a background thread.

    Args:
        rpc_url: JSON-RPC endpoint.
        pairs: the pairs to watch.
        relay_socket: the market-data relay socket.
        poll_s: pause between polls when nothing is new, seconds.
        on_sent: called with each event after its frame was written (benchmarks and tests).
    """

    def __init__(
        self,
        rpc_url: str,
        pairs: Sequence[PairInfo],
        relay_socket: str | Path,
        poll_s: float = 0.005,
        on_sent: Callable[[SyncEvent], None] | None = None,
    ) -> None:
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
        self.pairs = {p.address.lower(): p for p in pairs}
        self.relay_socket = Path(relay_socket)
        self.poll_s = poll_s
        self.on_sent = on_sent
        self.sequence = 0
        self.last_block = -1
        self.frames = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: RelayProducer | None = None

    def start(self) -> ChainWatcher:
        """Connect to the relay, send the current reserves of every pair, and start following new blocks."""
        self._producer = RelayProducer(self.relay_socket).open()
        head = self.w3.eth.block_number
        for pair in self.pairs.values():
            r0, r1, _ = contract(self.w3, "PulsePair", pair.address).functions.getReserves().call(block_identifier=head)
            self._send(pair, int(r0), int(r1), head, -1)
        self.last_block = head
        self._thread = threading.Thread(target=self._run, name="chain-watcher", daemon=True)
        self._thread.start()
        return self

    def pause(self) -> None:
        """Stop reading new blocks (they are read, in order, after :meth:`resume`)."""
        self._paused.set()

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self._paused.clear()

    def stop(self) -> None:
        """Stop the thread and close the relay connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._producer is not None:
            self._producer.close()

    def _send(self, pair: PairInfo, r0: int, r1: int, block: int, log_index: int) -> None:
        assert self._producer is not None
        self.sequence += 1
        now = time.time_ns()
        self._producer.send(sync_frame(pair, r0, r1, block, self.sequence, now))
        self.frames += 1
        if self.on_sent is not None:
            self.on_sent(SyncEvent(pair.address, block, log_index, r0, r1, now, self.sequence))

    def poll_once(self) -> int:
        """Read the Sync logs of the blocks after the last one read; returns how many frames were sent."""
        head = self.w3.eth.block_number
        if head <= self.last_block:
            return 0
        start = self.last_block + 1
        end = min(head, start + MAX_BLOCK_RANGE - 1)
        logs = self.w3.eth.get_logs(
            {
                "fromBlock": start,
                "toBlock": end,
                "address": [Web3.to_checksum_address(a) for a in self.pairs],
                "topics": [SYNC_TOPIC],
            }
        )
        sent = 0
        for entry in sorted(logs, key=lambda e: (e["blockNumber"], e["logIndex"])):
            pair = self.pairs.get(str(entry["address"]).lower())
            if pair is None:
                continue
            data = bytes(entry["data"])
            r0, r1 = int.from_bytes(data[:32], "big"), int.from_bytes(data[32:64], "big")
            self._send(pair, r0, r1, int(entry["blockNumber"]), int(entry["logIndex"]))
            sent += 1
        self.last_block = end
        return sent

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._paused.is_set():
                time.sleep(self.poll_s)
                continue
            try:
                if self.poll_once() == 0:
                    time.sleep(self.poll_s)
            except (PulsearbError, OSError, ValueError) as exc:
                self.error = exc
                log.warning("chain watcher: %s", exc)
                time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    """Command line: watch the deployment's pairs until SIGTERM/SIGINT."""
    p = argparse.ArgumentParser(prog="python -m ops.chain.watcher", description=__doc__.split("\n\n")[0])
    p.add_argument("--rpc-url", required=True)
    p.add_argument("--deployment", required=True, type=Path)
    p.add_argument("--relay-socket", required=True)
    p.add_argument("--poll-ms", type=float, default=5.0)
    args = p.parse_args(argv)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    try:
        deployment = Deployment.read(args.deployment)
        watcher = ChainWatcher(args.rpc_url, deployment.pairs, args.relay_socket, poll_s=args.poll_ms / 1000).start()
    except (PulsearbError, OSError, ValueError, KeyError) as exc:
        print(f"watcher: error: {exc}", file=sys.stderr)
        return 2
    try:
        done.wait()
    finally:
        watcher.stop()
    return 0 if watcher.error is None or isinstance(watcher.error, StackError) else 1


if __name__ == "__main__":
    sys.exit(main())
