"""Benchmark: how long ``pulsearb kill-switch on`` takes to stop every broadcast of a busy executor.

What it measures: anvil with the local market deployed (ops.simulator.chain.deploy) and automine off, so every
transaction
stays pending; the production :class:`flows.execution.executor.Executor` on a worker thread, submitting a fresh
opportunity every ``--interval-ms`` (simulate, sign, ledger fsync, send) and polling its transactions in flight,
whose replace-or-cancel policy (receipt timeout 50 ms) keeps sending fee-bumped replacements and cancellations.
For each sample the kill switch is turned on at a random moment by running the real command,
``.venv/bin/pulsearb kill-switch --state-dir DIR on``, as a process, and these times are taken from just before
it is started:

- ``stop``: to the last transaction the executor handed to the node (0 when none followed the command's start);
- ``ack``: to the executor's first refusal to broadcast (its kill-switch read returned true);
- ``baseline``: to the command's exit (interpreter start-up, the switch file written and fsynced);
- ``ack_after_write``: the executor side alone, from the time the command stamped into the switch file
  (``changed_ns``, taken before the temp file is written, fsynced and renamed into place) to the first refusal.

A sample also counts broadcasts after that stamp (the file becomes visible only at the rename, and the executor
reads the switch before its ledger write and again right before the send, so only a send already past that second
read can follow) and after the acknowledgement (must be 0). Between samples the switch goes off, the
node's pool is emptied (``anvil_dropAllTransactions``) and a fresh executor and ledger start.

    .venv/bin/python bench/kill_switch.py [--samples 20] [--interval-ms 10] [--budget-s 45]

Ends with one JSON line: {"stop": {"p50_ms", "p99_ms", "max_ms"}, "ack": {...}, "baseline": {...},
"ack_after_write": {...}, "samples", "broadcasts": {"total", "after_write", "after_ack"}, "limit_ms": 1000,
"within_limit"}.
Runs in about 40 s.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from web3 import Web3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.execution.chain import Chain  # noqa: E402
from flows.execution.config import ExecutionConfig  # noqa: E402
from flows.execution.executor import Executor  # noqa: E402
from flows.execution.ledger import Ledger  # noqa: E402
from flows.execution.signer import Signer  # noqa: E402
from flows.risk.kill_switch import KillSwitch  # noqa: E402
from flows.strategies import cross_dex  # noqa: E402
from flows.strategies.params import StrategyParams  # noqa: E402
from ops.simulator.chain.deploy import ANVIL_KEYS, deploy  # noqa: E402
from ops.simulator.chain.market import Trader  # noqa: E402
from ops.simulator.chain.pools import read_states  # noqa: E402
from ops.simulator.stack import process  # noqa: E402
from ops.simulator.stack.chain import chain_spec  # noqa: E402

LIMIT_MS = 1_000
CLI = ROOT / ".venv" / "bin" / "pulsearb"
CAP_WEI = 10**12  # gas price cap: high enough for many fee bumps


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (q in [0, 1])."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(quantile(values, 0.5), 3),
        "p99_ms": round(quantile(values, 0.99), 3),
        "max_ms": round(max(values), 3),
    }


class Recorder:
    """Wraps the executor's chain and kill switch to time every broadcast and the first refusal."""

    def __init__(self, switch: KillSwitch) -> None:
        self.switch = switch
        self.sends: list[int] = []
        self.first_refusal_ns: int | None = None

    def is_on(self) -> bool:
        on = self.switch.is_on()
        if on and self.first_refusal_ns is None:
            self.first_refusal_ns = time.time_ns()
        return on

    def wrap(self, chain: Chain) -> None:
        send = chain.send

        def timed(raw: bytes, tx_hash: str | None = None) -> str:
            self.sends.append(time.time_ns())
            return send(raw, tx_hash)

        chain.send = timed  # type: ignore[method-assign]


def worker(executor: Executor, make_opp, interval_s: float, stop: threading.Event, errors: list[BaseException]):
    """Submit a new opportunity every ``interval_s`` and poll in between, until ``stop``."""
    sequence = 0
    try:
        while not stop.is_set():
            sequence += 1
            executor.submit(make_opp(sequence), executor.chain.head(), 1, {})
            due = time.monotonic() + interval_s
            while time.monotonic() < due and not stop.is_set():
                executor.poll()
    except BaseException as exc:  # surfaced by the main thread
        errors.append(exc)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--interval-ms", type=float, default=10.0, help="time between new opportunities")
    p.add_argument("--budget-s", type=float, default=45.0, help="stop sampling after this long (60 s in all)")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="pulsearb-bench-kill-"))
    port = process.free_port()
    pid = process.start(chain_spec(port), work / "chain")
    try:
        return run(f"http://127.0.0.1:{port}", work, args.samples, args.interval_ms / 1000, args.budget_s)
    finally:
        process.stop_pid(pid)
        shutil.rmtree(work, ignore_errors=True)


def run(url: str, work: Path, samples: int, interval_s: float, budget_s: float) -> int:
    logging.getLogger("flows.execution").setLevel(logging.ERROR)  # one refusal line per attempt: noise here
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))
    owner, trader_signer = Signer.from_key(ANVIL_KEYS[0]), Signer.from_key(ANVIL_KEYS[1])
    log("deploying the market on anvil ...")
    d = deploy(w3, owner, trader=trader_signer.address)
    trader = Trader(w3, trader_signer, d)
    trader.swap(d.pair(300), d.tokens["USDC"].address, 50_000 * 10**6)  # a dislocation every sample trades
    pools = [d.pair(300), d.pair(302)]
    params = StrategyParams(
        flow="bench",
        chain_id=d.chain_id,
        native_token=d.native_token,
        base_tokens=(d.tokens["USDC"].address,),
        gas_units=150_000,
        gas_price_wei=10**9,
        max_age_ms=10**9,
        max_age_blocks=10**9,
        validity_ms=600_000,
    )
    config = ExecutionConfig(
        executor=d.executor,
        chain_id=d.chain_id,
        receipt_timeout_s=0.05,
        receipt_poll_ms=1,
        abandon_after_s=600,
    )
    state = work / "state"
    switch = KillSwitch(state)
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    rng = random.Random(11)
    stops: list[float] = []
    acks: list[float] = []
    floors: list[float] = []
    after_write: list[float] = []
    total = after_ack = after_write_sends = 0
    log(f"{samples} samples: opportunity every {interval_s * 1000:g} ms, receipt timeout 50 ms, automine off")
    log("times from the start of `pulsearb kill-switch on` (a new process, as a user runs it)")
    started = time.monotonic()
    for i in range(samples):
        if time.monotonic() - started > budget_s:
            log(f"  time budget of {budget_s:g} s used up after {i} samples (a busy machine): stopping")
            break
        switch.set(False)
        w3.provider.make_request("anvil_dropAllTransactions", [])  # type: ignore[arg-type]
        ledger = Ledger(work / f"ledger-{i}.sqlite")
        recorder = Recorder(switch)
        chain = Chain(w3)
        recorder.wrap(chain)
        executor = Executor(chain, owner, ledger, config, CAP_WEI, recorder.is_on)
        executor.check()
        states = read_states(w3, pools)

        def make_opp(sequence: int, states=states):
            [opp] = cross_dex.evaluate([replace(s, sequence=sequence) for s in states], params, time.time_ns())
            return opp  # a new id per sequence, on the same (unmined) pools: every one simulates and is sent

        stop, errors = threading.Event(), []
        thread = threading.Thread(target=worker, args=(executor, make_opp, interval_s, stop, errors), daemon=True)
        thread.start()
        time.sleep(rng.uniform(0.15, 0.4))  # replacements and cancellations are flowing by now
        t0 = time.time_ns()
        done = subprocess.run(
            [str(CLI), "kill-switch", "--state-dir", str(state), "on", "--reason", "bench"],
            capture_output=True,
            check=False,
        )
        floor_ns = time.time_ns()
        if done.returncode != 0:
            log(f"kill-switch on failed: {done.stderr.decode().strip()}")
            return 1
        written_ns = switch.read().changed_ns
        deadline = time.monotonic() + 3
        while recorder.first_refusal_ns is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # long enough for several more receipt timeouts: nothing may go out
        stop.set()
        thread.join(timeout=10)
        ledger.close()
        if errors:
            raise errors[0]
        if recorder.first_refusal_ns is None:
            log(f"  sample {i + 1}: the executor never tried to broadcast after the switch; skipped")
            continue
        later = [t for t in recorder.sends if t >= t0]
        last = max(later, default=t0)
        stops.append((last - t0) / 1e6)
        acks.append((recorder.first_refusal_ns - t0) / 1e6)
        floors.append((floor_ns - t0) / 1e6)
        after_write.append((recorder.first_refusal_ns - written_ns) / 1e6)
        total += len(recorder.sends)
        after_ack += sum(t > recorder.first_refusal_ns for t in recorder.sends)
        after_write_sends += sum(t > written_ns for t in recorder.sends)
        log(
            f"  sample {i + 1:2d}: {len(recorder.sends):3d} broadcasts, last {stops[-1]:7.3f} ms after the command, "
            f"acknowledged after {acks[-1]:7.3f} ms ({after_write[-1]:.3f} ms after the write; the command took "
            f"{floors[-1]:.0f} ms)"
        )
    w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    if not stops:
        log("no sample: the executor never broadcast")
        return 1
    result = {
        "stop": summary(stops),
        "ack": summary(acks),
        "baseline": summary(floors),
        "ack_after_write": summary(after_write),
        "samples": len(stops),
        "broadcasts": {"total": total, "after_write": after_write_sends, "after_ack": after_ack},
        "limit_ms": LIMIT_MS,
        "within_limit": max(stops) < LIMIT_MS and max(acks) < LIMIT_MS and after_ack == 0,
    }
    log("")
    log(f"{'':28s}{'p50 ms':>10s}{'p99 ms':>10s}{'max ms':>10s}   ({len(stops)} samples, machine may be shared)")
    rows = (
        ("stop", "last broadcast"),
        ("ack", "executor acknowledged"),
        ("baseline", "command exited"),
        ("ack_after_write", "ack after the file write"),
    )
    for name, label in rows:
        s = result[name]
        log(f"{label:28s}{s['p50_ms']:10.3f}{s['p99_ms']:10.3f}{s['max_ms']:10.3f}")
    log(
        f"broadcasts: {total} in all, {after_write_sends} after the time the command stamped into the file, "
        f"{after_ack} after an acknowledgement"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
