"""The chain collector: pools discovered, seeded at one pinned block, followed log by log, repaired (no web3).

:class:`Collector` owns the exact state of every followed pool and reads the chain through a
:class:`ChainReader` (batched JSON-RPC; :class:`flows.connectors.rpc.JsonRpc` in production). Every poll:

1. **Blocks**: the node's head less ``confirmations`` is the target; the blocks after the last one processed are
   read (at most ``max_block_range``) and must extend it hash by hash (:mod:`flows.collector.window`). A block
   that does not is a reorg: the newest block the node still agrees on is the fork point, the blocks above it are
   dropped, and every pool they touched is re-seeded. A reorg deeper than the window, or a poller more than
   ``catch_up_blocks`` behind, re-seeds every pool at the target (a gap).
2. **Logs**: ``eth_getLogs`` of those blocks for the followed pools and the discovering factories; every log must
   carry the hash of the block it claims (else the chain moved between the calls and the poll is retried). A range
   the node refuses is halved; a block whose logs cannot be read at all is a gap: every pool is re-seeded.
3. **Seeds**: pools announced by ``PairCreated``/``PoolCreated`` in those blocks, and pools to repair (reorg,
   gap, a ``StateInvalidation``, a log the held state could not follow), are read at the last block of the poll,
   every call pinned to that block's hash (:mod:`flows.collector.seed`).
4. **Apply** (no I/O, so a failed read above leaves the state untouched): logs in (block, logIndex) order
   (:func:`flows.collector.state.apply_event`), skipping the pools being seeded; after each block, one
   ``market.pool_state`` record per pool it touched; then the seeded pools are installed and published.

A record is never published for a block below one already published for the same pool: after a reorg to a
shorter chain, the repaired state waits until the new chain reaches that height (the detector's fold keeps the
newest block, so a lower one would be ignored anyway).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from base.errors import PulsearbError
from flows.collector.abi import (
    EVENT_TOPICS,
    PAIR_CREATED,
    POOL_CREATED,
    Call,
    PairCreated,
    PoolCreated,
    RawLog,
    decode_log,
    raw_log,
)
from flows.collector.config import CollectorConfig
from flows.collector.records import pool_state_record
from flows.collector.seed import (
    Probe,
    Refusal,
    Result,
    add_ticks,
    classify,
    decimals_call,
    probe_calls,
    read_decimals,
    read_state,
    state_calls,
    tick_calls,
    verified,
    verify_call,
)
from flows.collector.state import V3, Inconsistent, PoolChainState, PoolInfo, V3State, apply_event
from flows.collector.window import BlockRef, BlockWindow, chain_breaks, fork_point

#: Addresses per ``eth_getLogs`` request (nodes limit the filter's size).
MAX_LOG_ADDRESSES = 1_000
#: ``eth_getLogs`` requests per JSON-RPC batch during discovery.
LOG_BATCH = 20


class CollectorError(PulsearbError):
    """The chain is not the one configured, or a configured factory is not there (one line, with the fix)."""


class LogsUnavailable(PulsearbError):
    """The node refused ``eth_getLogs`` for a range of one block."""


class ChainReader(Protocol):
    """A JSON-RPC endpoint: ``batch([(method, params), ...])`` returns each call's result, or an Exception instance
    for a call the node refused; it raises (a :class:`~base.errors.PulsearbError`) when the endpoint cannot be
    reached at all."""

    where: str

    def batch(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]: ...


@dataclass(slots=True)
class Stats:
    """Counters since start (the builder exports them as metrics; the benchmark reads them)."""

    polls: int = 0
    blocks: int = 0
    logs_applied: int = 0
    records: int = 0
    seeded: int = 0
    reorgs: int = 0
    reorged_blocks: int = 0
    gaps: int = 0
    refused: int = 0
    inconsistent: int = 0
    retried: int = 0
    invalidated: int = 0


@dataclass(slots=True)
class Output:
    """What one start or poll produced: records to publish (in order) and pools refused."""

    records: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)


@dataclass(slots=True)
class _Seeded:
    infos: dict[str, PoolInfo] = field(default_factory=dict)
    states: dict[str, PoolChainState] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _hex_bytes(value: Any) -> Result:
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            return None
    return None


def call_batches(rpc: ChainReader, requests: Sequence[tuple[str, Sequence[Any]]], batch_size: int) -> list[Any]:
    """Every request's result (or the node's error), sent ``batch_size`` to a JSON-RPC batch."""
    out: list[Any] = []
    for i in range(0, len(requests), batch_size):
        out += rpc.batch(requests[i : i + batch_size])
    return out


def eth_calls(rpc: ChainReader, calls: Sequence[Call], block: object, batch_size: int) -> list[Result]:
    """``eth_call`` each call at ``block`` (a JSON-RPC block parameter); the return data, None where a call failed."""
    reqs = [("eth_call", [{"to": c.to, "data": "0x" + c.data.hex()}, block]) for c in calls]
    return [_hex_bytes(r) for r in call_batches(rpc, reqs, batch_size)]


def read_pool_states(
    rpc: ChainReader, pools: Sequence[PoolInfo], block: object, batch_size: int = 500
) -> tuple[dict[str, PoolChainState], dict[str, str]]:
    """Read pools' exact state at one block, as the collector seeds them: seeding rounds 2 and 3.

    A V2 pair is its ``getReserves()``; a V3 pool its ``slot0()``, ``liquidity()``, every ``tickBitmap`` word of
    its spacing and ``ticks(t)`` of every bit set in them, so the state holds the pool's whole tick map (no log
    is read: it works on nodes that cap ``eth_getLogs``). The pools are known (:class:`PoolInfo`); checking that an
    address is a pool of a configured factory is the collector's round 1 (:mod:`flows.collector.seed`).

    Args:
        rpc: the chain endpoint (:class:`flows.connectors.rpc.JsonRpc`).
        pools: what is known of each pool.
        block: the JSON-RPC block parameter every call is pinned to: ``{"blockHash": hash}`` (what the collector
            pins, safe across reorgs) or a hex block number.
        batch_size: calls per JSON-RPC batch.

    Returns:
        ``(states, failed)``: the state of every pool that could be read, and pool -> why another could not (a
        failed call, a result out of range), round 2's failures first, each round in ``pools`` order.

    Raises:
        PulsearbError: the endpoint could not be reached.
    """
    states: dict[str, PoolChainState] = {}
    failed: dict[str, str] = {}
    plans = [state_calls(info) for info in pools]
    results = eth_calls(rpc, [c for plan in plans for c in plan], block, batch_size)
    wanted: dict[str, tuple[PoolInfo, list[int]]] = {}
    i = 0
    for info, plan in zip(pools, plans, strict=True):
        read = read_state(info, results[i : i + len(plan)])
        i += len(plan)
        if isinstance(read, str):
            failed[info.address] = read
            continue
        states[info.address], ticks = read
        if ticks:
            wanted[info.address] = (info, ticks)
    results = eth_calls(rpc, [c for info, ticks in wanted.values() for c in tick_calls(info, ticks)], block, batch_size)
    i = 0
    for pool, (_info, ticks) in wanted.items():
        state = states[pool]
        assert isinstance(state, V3State)
        problem = add_ticks(state, ticks, results[i : i + len(ticks)])
        i += len(ticks)
        if problem:
            del states[pool]
            failed[pool] = problem
    return states, failed


def _block_ref(obj: Any) -> BlockRef | None:
    if not isinstance(obj, dict):
        return None
    try:
        return BlockRef(
            int(obj["number"], 16), obj["hash"].lower(), obj["parentHash"].lower(), int(obj["timestamp"], 16)
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


class Collector:
    """Follows pools on one chain and keeps their exact state.

    Args:
        config: validated settings.
        rpc: the chain endpoint.
        clock: ns since epoch (record timestamps).
        sequence_start: sequence of the first record (then +1 per record); defaults to the clock at start, so
            sequences keep increasing across restarts.
        published: pool -> last block published, from an earlier run (records never go below it).
    """

    def __init__(
        self,
        config: CollectorConfig,
        rpc: ChainReader,
        clock: Callable[[], int] = time.time_ns,
        sequence_start: int | None = None,
        published: Mapping[str, int] | None = None,
    ) -> None:
        self.config = config
        self.rpc = rpc
        self.clock = clock
        self.sequence = clock() if sequence_start is None else sequence_start
        self.factories = config.by_factory
        self.discovering = [f.address for f in config.factories if f.discover]
        self.pools: dict[str, PoolInfo] = {}
        self.states: dict[str, PoolChainState] = {}
        self.refused: set[str] = set()
        self.decimals: dict[str, int] = {}
        self.window = BlockWindow(config.reorg_window)
        self.head: BlockRef | None = None
        self.published: dict[str, int] = dict(published or {})
        self.pending: set[str] = set()  # followed pools to re-seed at the next poll
        self.dirty: set[str] = set()  # pools changed since last published
        self.ticks_changed: set[str] = set()  # V3 pools whose tick map changed since last published
        self.stats = Stats()
        self.chain_head = 0  # the node's head at the last poll
        self.undiscovered: list[tuple[int, int]] = []  # block ranges whose factory logs could not be read yet

    # --- reading the chain ---------------------------------------------------------------------------------

    def _batch(self, requests: list[tuple[str, Sequence[Any]]]) -> list[Any]:
        return call_batches(self.rpc, requests, self.config.batch_size)

    def _calls(self, calls: Sequence[Call], tag: object) -> list[Result]:
        return eth_calls(self.rpc, calls, tag, self.config.batch_size)

    def _blocks(self, numbers: Iterable[int]) -> dict[int, BlockRef | None]:
        nums = list(numbers)
        found = self._batch([("eth_getBlockByNumber", [hex(n), False]) for n in nums])
        return {n: _block_ref(b) for n, b in zip(nums, found, strict=True)}

    def _head_number(self) -> int:
        [head] = self.rpc.batch([("eth_blockNumber", [])])
        try:
            self.chain_head = int(head, 16)
        except (TypeError, ValueError):
            msg = f"eth_blockNumber failed at {self.rpc.where}: {head}"
            raise LogsUnavailable(msg) from None
        return self.chain_head

    def _logs(self, start: int, end: int, addresses: Sequence[str], topics: Sequence[str]) -> list[RawLog]:
        """Logs of ``addresses`` with ``topics`` in ``[start, end]``, ranges split as the node demands.

        Raises:
            LogsUnavailable: the node refuses even a one-block range.
        """
        out: list[RawLog] = []
        ranges = [
            (a, min(a + self.config.max_block_range - 1, end))
            for a in range(start, end + 1, self.config.max_block_range)
        ]
        chunks = [list(addresses[i : i + MAX_LOG_ADDRESSES]) for i in range(0, len(addresses), MAX_LOG_ADDRESSES)]
        while ranges:
            todo, ranges = ranges[:LOG_BATCH], ranges[LOG_BATCH:]
            reqs = [
                ("eth_getLogs", [{"fromBlock": hex(a), "toBlock": hex(b), "address": ch, "topics": [list(topics)]}])
                for a, b in todo
                for ch in chunks
            ]
            results = self._batch(reqs)
            retry: list[tuple[int, int]] = []
            for i, (a, b) in enumerate(todo):
                got = results[i * len(chunks) : (i + 1) * len(chunks)]
                if any(not isinstance(r, list) for r in got):
                    if a == b:
                        why = next(r for r in got if not isinstance(r, list))
                        msg = f"eth_getLogs refused block {a} at {self.rpc.where}: {why}"
                        raise LogsUnavailable(msg)
                    mid = (a + b) // 2
                    retry += [(a, mid), (mid + 1, b)]
                    continue
                try:
                    out += [raw_log(x) for r in got for x in r]
                except (KeyError, ValueError, TypeError, AttributeError) as exc:
                    msg = f"eth_getLogs at {self.rpc.where} returned a malformed log ({type(exc).__name__}: {exc})"
                    raise LogsUnavailable(msg) from exc
            ranges = retry + ranges
        return out

    def _block(self, number: int) -> BlockRef:
        ref = self._blocks([number])[number]
        if ref is None:
            msg = f"block {number} is not available at {self.rpc.where}"
            raise LogsUnavailable(msg)
        return ref

    # --- seeding ---------------------------------------------------------------------------------------------

    def _seed(self, candidates: Mapping[str, int], known: Iterable[str], block: BlockRef) -> _Seeded:
        """Read candidates (probe, verify, state) and known pools (state) at ``block``; mutates only ``decimals``."""
        tag = {"blockHash": block.hash}
        out = _Seeded()
        cands = [p for p in candidates if p not in self.pools and p not in self.refused]
        infos: dict[str, PoolInfo] = {p: self.pools[p] for p in known if p in self.pools}
        if cands:
            codes = self._batch([("eth_getCode", [p, tag]) for p in cands])
            probed = self._calls([c for p in cands for c in probe_calls(p)], tag)
            n = len(probe_calls(cands[0]))
            probes: list[Probe] = []
            for i, p in enumerate(cands):
                found = classify(p, _hex_bytes(codes[i]), probed[i * n : (i + 1) * n], self.factories)
                if isinstance(found, Refusal):
                    out.refusals.append(found)
                else:
                    probes.append(found)
            tokens = sorted({t for pr in probes for t in (pr.token0, pr.token1)} - set(self.decimals))
            results = self._calls([verify_call(pr) for pr in probes] + [decimals_call(t) for t in tokens], tag)
            for t, raw in zip(tokens, results[len(probes) :], strict=True):
                value = read_decimals(raw)
                if value is not None:
                    self.decimals[t] = value
            for pr, registered in zip(probes, results, strict=False):
                info = verified(pr, registered, self.decimals, candidates[pr.pool])
                if isinstance(info, Refusal):
                    out.refusals.append(info)
                else:
                    infos[pr.pool] = info
                    out.infos[pr.pool] = info
        out.states, failed = read_pool_states(self.rpc, list(infos.values()), tag, self.config.batch_size)
        for p, reason in failed.items():
            self._fail(out, p, reason)
        return out

    def _fail(self, out: _Seeded, pool: str, reason: str) -> None:
        if pool in self.pools:
            out.failed[pool] = reason  # a followed pool: retried at the next poll
        else:
            out.infos.pop(pool, None)
            out.refusals.append(Refusal(pool, reason))

    def _install(self, seeded: _Seeded, block: BlockRef, output: Output) -> None:
        """Take seeded pools in (no I/O) and publish them at ``block``."""
        for r in seeded.refusals:
            self.refused.add(r.pool)
            output.refusals.append(r)
        self.stats.refused += len(seeded.refusals)
        self.pools.update(seeded.infos)
        for p, state in seeded.states.items():
            self.states[p] = state
            self.dirty.add(p)
            if isinstance(state, V3State):
                self.ticks_changed.add(p)
        self.stats.seeded += len(seeded.states)
        self.pending -= set(seeded.states)
        self.pending |= set(seeded.failed)
        self.window.touch(block.number, seeded.states)

    # --- publishing ----------------------------------------------------------------------------------------

    def _publish(self, block: BlockRef, output: Output) -> None:
        """Records of every changed pool whose last published block is at or below ``block``."""
        now = self.clock()
        for p in sorted(self.dirty - self.pending):
            if self.published.get(p, -1) > block.number:
                continue  # a shorter chain after a reorg: wait until it reaches the published height
            output.records.append(
                pool_state_record(
                    self.pools[p],
                    self.states[p],
                    block_number=block.number,
                    block_timestamp_s=block.timestamp,
                    with_ticks=p in self.ticks_changed,
                    source=self.config.source,
                    sequence=self.sequence,
                    now_ns=now,
                )
            )
            self.sequence += 1
            self.published[p] = block.number
            self.dirty.discard(p)
            self.ticks_changed.discard(p)

    # --- lifecycle -----------------------------------------------------------------------------------------

    def check_chain(self) -> int:
        """Check the node's chain id and that every configured factory has code; return the chain id.

        Raises:
            CollectorError: another chain, or a factory with no code (one line each, with the fix).
        """
        reqs: list[tuple[str, Sequence[Any]]] = [("eth_chainId", [])]
        reqs += [("eth_getCode", [f.address, "latest"]) for f in self.config.factories]
        found = self.rpc.batch(reqs)
        chain = found[0]
        try:
            chain_id = int(chain, 16)
        except (TypeError, ValueError):
            msg = f"collector: {self.rpc.where} does not answer eth_chainId ({chain}): is it an Ethereum JSON-RPC node?"
            raise CollectorError(msg) from None
        if chain_id != self.config.chain_id:
            msg = (
                f"collector: {self.rpc.where} is chain {chain_id}, the spec says collector.chain_id "
                f"{self.config.chain_id}: point --rpc-url (PULSEARB_RPC_URL) at chain {self.config.chain_id} "
                "or fix the spec"
            )
            raise CollectorError(msg)
        for f, code in zip(self.config.factories, found[1:], strict=True):
            if _hex_bytes(code) in (None, b""):
                msg = (
                    f"collector: factory {f.address} has no code on chain {chain_id} ({self.rpc.where}): "
                    "fix collector.factories"
                )
                raise CollectorError(msg)
        return chain_id

    def start(self) -> Output:
        """Check the chain, discover pools up to the target block, seed them all there and publish every one.

        Raises:
            CollectorError: wrong chain or a missing factory.
            PulsearbError: the endpoint failed (retry the start).
        """
        self.check_chain()
        target = self._block(max(0, self._head_number() - self.config.confirmations))
        candidates = dict.fromkeys(self.config.pools, 0)
        candidates |= self._discover(0, target.number)
        output = Output()
        seeded = self._seed(candidates, (), target)
        self.window.reset(target)
        self.head = target
        self._install(seeded, target, output)
        self._publish(target, output)
        self.stats.records += len(output.records)
        return output

    def _discover(self, start: int, end: int) -> dict[str, int]:
        """Pools created by the discovering factories in ``[start, end]`` (each factory from its start block)."""
        found: dict[str, int] = {}
        if not self.discovering:
            return found
        first = max(start, min(self.factories[f].start_block for f in self.discovering))
        if first > end:
            return found
        for log in self._logs(first, end, self.discovering, (PAIR_CREATED, POOL_CREATED)):
            pool = self._created(log)
            if pool is not None and log.block_number >= self.factories[log.address].start_block:
                found.setdefault(pool, log.block_number)
        return found

    def _created(self, log: RawLog) -> str | None:
        """The pool a discovering factory's log announces (a pool of the factory's own kind), else None."""
        config = self.factories.get(log.address)
        if config is None or not config.discover:
            return None
        event = decode_log(log)
        if isinstance(event, PairCreated) and config.kind != V3:
            return event.pair
        if isinstance(event, PoolCreated) and config.kind == V3:
            return event.pool
        return None

    def invalidate(self, pools: Iterable[str]) -> int:
        """Re-seed these followed pools at the next poll; return how many are followed."""
        hit = {p for p in pools if p in self.pools}
        self.pending |= hit
        self.stats.invalidated += len(hit)
        return len(hit)

    def poll(self) -> Output:
        """Process the blocks up to the target (at most ``max_block_range`` of them) and repair what needs it.

        Raises:
            PulsearbError: the endpoint failed; nothing was changed (call again).
        """
        self.stats.polls += 1
        output = Output()
        for _ in range(4):  # a reorg found on the way re-reads from the fork point
            if self._step(output):
                break
        self.stats.records += len(output.records)
        return output

    def _step(self, output: Output) -> bool:
        """One pass; False when it found a reorg and rolled back (the caller passes again)."""
        target = max(0, self._head_number() - self.config.confirmations)
        last, last_hash = self.window.head
        if target < last:
            self._reorg(target)
            return False
        if target - last > self.config.catch_up_blocks:
            self._reseed_all(target, output)
            return True
        end = min(target, last + self.config.max_block_range)
        blocks = self._blocks(range(last + 1 if end > last else last, end + 1))
        refs = [b for b in blocks.values() if b is not None]
        if len(refs) != len(blocks):
            self.stats.retried += 1  # the node's head moved back between calls: look again next poll
            return True
        if end == last:
            if refs[0].hash != last_hash:
                self._reorg(target)
                return False
            if self.pending:
                head = self.head if self.head is not None and self.head.hash == last_hash else refs[0]
                self._install(self._seed({}, set(self.pending), head), head, output)
                self._publish(head, output)
            return True
        if chain_breaks((last, last_hash), refs):
            if refs[0].parent_hash != last_hash:
                self._reorg(target)
                return False
            self.stats.retried += 1  # the chain changed while we read it
            return True
        by_number = {b.number: b for b in refs}
        addresses = sorted(set(self.pools) | set(self.discovering))
        try:
            logs = self._logs(last + 1, end, addresses, EVENT_TOPICS) if addresses else []
        except LogsUnavailable:
            self._reseed_all(end, output)  # a gap: the logs of some block cannot be had
            return True
        for log in logs:
            ref = by_number.get(log.block_number)
            if log.removed or ref is None or log.block_hash != ref.hash:
                self.stats.retried += 1  # a log of a block we did not read: the chain moved, read again
                return True
        logs.sort(key=lambda x: (x.block_number, x.log_index))
        candidates = self._discover_owed()
        for log in logs:
            pool = self._created(log)
            if pool is not None and pool not in self.pools and pool not in self.refused:
                candidates.setdefault(pool, log.block_number)
        end_ref = by_number[end]
        seeded = self._seed(candidates, set(self.pending), end_ref)
        # --- no I/O below: the state changes only once everything was read ---
        skip = set(self.pending)
        i = 0
        for ref in refs:
            touched: set[str] = set()
            while i < len(logs) and logs[i].block_number == ref.number:
                log = logs[i]
                i += 1
                pool = log.address
                if pool in skip or pool not in self.states:
                    continue
                event = decode_log(log)
                if event is None:
                    continue
                try:
                    if apply_event(self.states[pool], event):
                        self.ticks_changed.add(pool)
                except Inconsistent:
                    self.stats.inconsistent += 1
                    skip.add(pool)
                    self.pending.add(pool)
                    continue
                self.stats.logs_applied += 1
                touched.add(pool)
            self.window.push(ref, touched)
            self.dirty |= touched
            self._publish(ref, output)
        self.stats.blocks += len(refs)
        self.head = end_ref
        self._install(seeded, end_ref, output)
        self._publish(end_ref, output)
        return True

    def _reorg(self, target: int) -> None:
        """Roll back to the fork point; the pools the dropped blocks touched are re-seeded by the next pass."""
        numbers = [n for n in self.window.numbers() if n <= target]
        canonical = {n: (b.hash if b else None) for n, b in self._blocks(numbers).items()} if numbers else {}
        fork = fork_point(self.window, canonical)
        last, _ = self.window.head
        self.stats.reorgs += 1
        if fork is None:  # deeper than the window: every pool is repaired at the target
            self.stats.reorged_blocks += last - min(self.window.numbers())
            self.window.reset(self._block(target))
            self.head = None
            self.pending |= set(self.pools)
            return
        self.stats.reorged_blocks += last - fork
        dropped = self.window.rollback(fork)
        for p in [p for p, info in self.pools.items() if info.created_block > fork]:
            # created in a dropped block: forget it; the new chain's PairCreated/PoolCreated rediscovers it
            del self.pools[p]
            self.states.pop(p, None)
            dropped.discard(p)
            self.dirty.discard(p)
            self.ticks_changed.discard(p)
            self.pending.discard(p)
        self.pending |= dropped & set(self.pools)
        self.head = None

    def _discover_owed(self) -> dict[str, int]:
        """Pools created in ranges whose factory logs could not be read before (kept owed while the node refuses)."""
        found: dict[str, int] = {}
        owed, self.undiscovered = self.undiscovered, []
        for start, end in owed:
            try:
                found |= self._discover(start, end)
            except LogsUnavailable:
                self.undiscovered.append((start, end))
        return {p: b for p, b in found.items() if p not in self.pools and p not in self.refused}

    def _reseed_all(self, target: int, output: Output) -> None:
        """A gap: discover what the skipped blocks created, re-seed every pool at ``target``, restart the window.

        When even the factories' logs cannot be read, their range is owed: discovered at a later poll.
        """
        self.stats.gaps += 1
        ref = self._block(target)
        last, _ = self.window.head
        if last < target:
            self.undiscovered.append((last + 1, target))
        candidates = self._discover_owed()
        seeded = self._seed(candidates, set(self.pools), ref)
        self.window.reset(ref)
        self.head = ref
        self.pending.clear()
        self._install(seeded, ref, output)
        self._publish(ref, output)
