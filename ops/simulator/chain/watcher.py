"""Chain watcher: the pools' ``Swap`` logs -> Protocol V2 PoolSwap frames on a relay socket (a swaps-only feed).

This plays the AlphaPulse Polygon adapter's role for the local chain, and sends what that adapter really sends:
swaps, not pool state. It polls the node for new blocks, reads the ``Swap`` logs of the watched pools in block
and log order, and writes one PoolSwap TLV frame per log to the market-data relay (domain 1, source
POLYGON_COLLECTOR, checksum 0, a sequence that increases by one per frame):

- a V2 pair's ``Swap(sender, amount0In, amount1In, amount0Out, amount1Out, to)`` becomes the net amounts in and
  out (the pair's reserves after it are the reserves before plus ``amount_in`` less ``amount_out``, exactly);
- a V3 pool's ``Swap(sender, recipient, amount0, amount1, sqrtPriceX96, liquidity, tick)`` (decoded by the
  collector's :func:`flows.collector.abi.decode_log`) also carries the price, active liquidity and tick after it.

Pool state comes from the chain collector (``market.pool_state``, end of block): the detectors' fold applies a
swap only when it is newer than the collector's state it holds, so a swap of a block the collector already
published is not counted twice, and a swap of a newer block moves the pool until the collector's state of that
block arrives. The header and TLV timestamps are the time the frame was built, i.e. when the event entered the
relay (the trace's ``relay_ns``).

    python -m ops.simulator.chain.watcher --rpc-url http://127.0.0.1:8545 --deployment FILE --relay-socket SOCK
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

from web3 import Web3

from base.errors import PulsearbError, StackError
from flows.collector.abi import SWAP as V3_SWAP_TOPIC
from flows.collector.abi import RawLog, Swap, decode_log, raw_log, topic, word
from flows.relay.client import RelayProducer
from flows.relay.codec import encode_frame
from flows.relay.protocol import RelayDomain, SourceType
from flows.relay.tlv import PoolSwap
from ops.simulator.chain.deploy import Deployment, PairInfo

log = logging.getLogger(__name__)

V2_SWAP_TOPIC = topic("Swap(address,uint256,uint256,uint256,uint256,address)")
MAX_BLOCK_RANGE = 2_000
_U128 = 1 << 128


@dataclass(frozen=True, slots=True)
class SwapSeen:
    """One Swap log as sent to the relay."""

    pool: str
    block_number: int
    log_index: int
    sent_ns: int
    sequence: int


def swap_tlv(pool: PairInfo, entry: RawLog, now_ns: int) -> PoolSwap | None:
    """The PoolSwap TLV of a pool's ``Swap`` log, or None when the log is not one (or cannot be one TLV).

    A V2 swap that pays both tokens in (a donation riding on a swap) has no single input token: it is left out,
    and the collector's state of its block corrects the pool.
    """
    if pool.kind == "v3":
        event = decode_log(entry)
        if not isinstance(event, Swap):
            return None
        zero_in = event.amount0 > 0
        amount_in, amount_out = (event.amount0, -event.amount1) if zero_in else (event.amount1, -event.amount0)
        price, liquidity, tick = event.sqrt_price_x96, event.liquidity, event.tick
    else:
        if entry.topics[:1] != (V2_SWAP_TOPIC,) or len(entry.data) != 128:
            return None
        in0, in1, out0, out1 = (word(entry.data, i) for i in range(4))
        d0, d1 = in0 - out0, in1 - out1  # what the pair's reserves gained
        if (d0 > 0) == (d1 > 0):
            return None
        zero_in = d0 > 0
        amount_in, amount_out = (d0, -d1) if zero_in else (d1, -d0)
        price = liquidity = tick = 0
    if not (0 <= amount_in < _U128 and 0 <= amount_out < _U128):
        return None
    tokens = (pool.token0, pool.token1) if zero_in else (pool.token1, pool.token0)
    decimals = (pool.token0_decimals, pool.token1_decimals)
    return PoolSwap(
        amount_in=amount_in,
        amount_out=amount_out,
        liquidity_after=liquidity,
        timestamp_ns=now_ns,
        block_number=entry.block_number,
        tick_after=tick,
        venue=pool.venue,
        amount_in_decimals=decimals[0] if zero_in else decimals[1],
        amount_out_decimals=decimals[1] if zero_in else decimals[0],
        pool_address=pool.address,
        token_in_addr=tokens[0],
        token_out_addr=tokens[1],
        sqrt_price_x96_after=price,
    )


class ChainWatcher:
    """Polls a node for the pools' Swap logs and writes them to a relay, in a background thread.

    Args:
        rpc_url: JSON-RPC endpoint.
        pools: the pools to watch (V2 pairs and V3 pools).
        relay_socket: the market-data relay socket.
        poll_s: pause between polls when nothing is new, seconds.
        on_sent: called with each swap after its frame was written (benchmarks and tests).
    """

    def __init__(
        self,
        rpc_url: str,
        pools: Sequence[PairInfo],
        relay_socket: str | Path,
        poll_s: float = 0.005,
        on_sent: Callable[[SwapSeen], None] | None = None,
    ) -> None:
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
        self.pools = {p.address.lower(): p for p in pools}
        self.relay_socket = Path(relay_socket)
        self.poll_s = poll_s
        self.on_sent = on_sent
        self.sequence = 0
        self.last_block = -1
        self.frames = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: RelayProducer | None = None

    def start(self) -> ChainWatcher:
        """Connect to the relay and start following the blocks after the current head."""
        self._producer = RelayProducer(self.relay_socket).open()
        self.last_block = self.w3.eth.block_number
        self._thread = threading.Thread(target=self._run, name="chain-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the relay connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._producer is not None:
            self._producer.close()

    def _rpc(self, method: str, params: list) -> object:
        reply = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in reply:
            msg = f"{method}: {reply['error']}"
            raise StackError(msg)
        return reply["result"]

    def poll_once(self) -> int:
        """Read the Swap logs of the blocks after the last one read; returns how many frames were sent."""
        head = int(str(self._rpc("eth_blockNumber", [])), 16)
        if head <= self.last_block:
            return 0
        start = self.last_block + 1
        end = min(head, start + MAX_BLOCK_RANGE - 1)
        found = self._rpc(
            "eth_getLogs",
            [
                {
                    "fromBlock": hex(start),
                    "toBlock": hex(end),
                    "address": [Web3.to_checksum_address(a) for a in self.pools],
                    "topics": [[V2_SWAP_TOPIC, V3_SWAP_TOPIC]],
                }
            ],
        )
        assert self._producer is not None
        sent = 0
        for entry in sorted((raw_log(e) for e in found), key=lambda e: (e.block_number, e.log_index)):  # type: ignore[union-attr]
            pool = self.pools.get(entry.address)
            now = time.time_ns()
            tlv = swap_tlv(pool, entry, now) if pool is not None and not entry.removed else None
            if tlv is None:
                continue
            self.sequence += 1
            frame = encode_frame(
                RelayDomain.MARKET_DATA, SourceType.POLYGON_COLLECTOR, [tlv], sequence=self.sequence, timestamp_ns=now
            )
            self._producer.send(frame)
            self.frames += 1
            sent += 1
            if self.on_sent is not None:
                self.on_sent(SwapSeen(entry.address, entry.block_number, entry.log_index, now, self.sequence))
        self.last_block = end
        return sent

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.poll_once() == 0:
                    time.sleep(self.poll_s)
            except (PulsearbError, OSError, ValueError, KeyError) as exc:
                self.error = exc
                log.warning("chain watcher: %s", exc)
                time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    """Command line: watch the deployment's pools until SIGTERM/SIGINT."""
    p = argparse.ArgumentParser(prog="python -m ops.simulator.chain.watcher", description=__doc__.split("\n\n")[0])
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
        watcher = ChainWatcher(args.rpc_url, deployment.pools, args.relay_socket, poll_s=args.poll_ms / 1000).start()
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
