"""Benchmark: dislocating swap -> arbitrage transaction accepted by the node, end to end on the local stack,
with a competing searcher on the chain.

What it measures: a local Tansu broker, anvil with the market deployed on the genuine Uniswap contracts (two V2
venues and a V3 venue: USDC/WETH on each), the chain collector (exact pool states -> ``market.pool_state``), the
chain watcher feeding the pools' Swap logs as PoolSwap frames into a relay, and the flows bridge -> detector
(cross_dex) -> risk_execution as processes, on one-partition topics; and a competing searcher
(:mod:`ops.simulator.chain.compete`: its own ArbExecutor, pulsearb's own sizing) that back-runs a dislocation it finds
with probability ``--competition`` (default 0.3). The chain mines each transaction as it arrives, so whoever sends first
takes a dislocation. After 2 warm-up rounds, a trader makes 50 dislocating swaps, one at a time, alternating V2
venues and direction; for each, the latency is from the dislocation entering the pipeline (the swap's frame
entering the relay, trace ``relay_ns``, or the collector's state of its block, ``collector_ns``, whichever the
detector acted on) to the node accepting pulsearb's arbitrage transaction (``exec_accepted_ns``, the hash returned
by ``eth_sendRawTransaction``). The baseline is the bare time to sign and send a pre-built transaction to the
same node, 50 times. ``exact_profit_ratio`` is the share of pulsearb's mined arbitrages whose realized profit
equals the predicted one to the wei.

    .venv/bin/python bench/execute.py [--competition 0.3]

Ends with one JSON line: {"latency": {"p50_ms", "p99_ms", "samples"}, "baseline": {"p50_ms", "p99_ms",
"samples"}, "exact_profit_ratio", "dislocations", "mined", "skipped", "failed", "statuses", "outcomes",
"competition": {"probability", "competitor_mined", "pulsearb_mined", "capture_rate", "capture_rate_profit"}}.
``samples`` counts the latencies behind the quantiles (pulsearb's transactions the node accepted); a dislocation
is ``skipped`` when its first opportunity was rejected by risk (another of the pair in flight) or no opportunity,
decision or execution record came within 20 s (the bench goes on to the next one),
``failed`` when its execution record is not ``mined``; ``statuses`` counts every execution status, ``outcomes``
splits them (:func:`flows.execution.outcome.classify`: mined exactly or below the prediction, reverted by
``minProfit``, skipped after simulation). ``capture_rate`` is pulsearb's share of the arbitrages mined by either
searcher during the measured dislocations, ``capture_rate_profit`` its share of their realized profit (USDC).
Goal: p99 <= 250 ms.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from base.errors import StackError  # noqa: E402
from base.trace import STAGES  # noqa: E402
from flows.amm.v2 import get_amount_out  # noqa: E402
from flows.execution.outcome import classify  # noqa: E402
from flows.execution.signer import Signer  # noqa: E402
from ops.control.topics import apply, load_topics  # noqa: E402
from ops.simulator.chain.compete import Competitor, detector_params  # noqa: E402
from ops.simulator.chain.deploy import PairInfo  # noqa: E402
from ops.simulator.chain.loop import ChainLoop, TopicReader  # noqa: E402
from ops.simulator.chain.traders import COMPETITOR_KEY  # noqa: E402
from ops.simulator.stack import stack  # noqa: E402
from schemas.serde import from_i256  # noqa: E402

DISLOCATIONS = 50
HOPS = tuple((f"{a} -> {b}", a, b) for a, b in itertools.pairwise(STAGES[:9]))
SWAP_USDC = 40_000 * 10**6
DISLOCATION_TIP_WEI = 5 * 10**9
SPECS = Path(__file__).resolve().parent / "specs"
WARMUP = 2
LOOP_TOPICS = ("market.pool_swap", "market.pool_state", "arb.opportunity", "arb.decision", "arb.execution")
DLQ_TOPICS = ("dlq.relay", "dlq.bench_cross_dex", "dlq.bench_risk_execution", "dlq.collector")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (q in [0, 1])."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def dislocate(loop: ChainLoop, pair: PairInfo, token_in: str, amount: int) -> int:
    """Swap on one pair in a block of its own making; returns the block.

    The trader's transfer and swap are mined together, first in their block (a tip above every searcher's), on
    the reserves read once nothing else is mined: a back-run still arriving cannot land between them (and take the
    transfer as its own input) or before them (and move the reserves the swap was sized on).
    """
    assert loop.trader is not None and loop.w3 is not None
    loop.rpc("evm_setAutomine", [False])
    try:
        r0, r1 = loop.trader.reserves(pair)
        reserves = (r0, r1) if token_in == pair.token0 else (r1, r0)
        out = get_amount_out(amount, *reserves, pair.fee_bps)
        sent = loop.trader.send_swap(pair, token_in, amount, tip_wei=DISLOCATION_TIP_WEI, amount_out=out)
        loop.rpc("evm_mine")
    finally:
        loop.rpc("evm_setAutomine", [True])
    loop.trader.tx.wait([sent])
    return int(loop.w3.eth.get_transaction_receipt(sent.tx_hash)["blockNumber"])


def baseline(loop: ChainLoop, count: int) -> list[float]:
    """ms to sign and send a pre-built transaction (a 0-value self transfer by a third account)."""
    assert loop.w3 is not None
    signer = Signer.from_key("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")  # anvil #2
    nonce = loop.w3.eth.get_transaction_count(signer.address)
    base = loop.w3.eth.get_block("latest")["baseFeePerGas"]
    txs = [
        {
            "type": 2,
            "chainId": loop.deployment.chain_id,
            "nonce": nonce + i,
            "to": signer.address,
            "value": 0,
            "data": b"",
            "gas": 21_000,
            "maxFeePerGas": 4 * base + 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
        for i in range(count)
    ]
    out = []
    for tx in txs:
        t0 = time.perf_counter_ns()
        loop.w3.eth.send_raw_transaction(signer.sign(tx).raw)
        out.append((time.perf_counter_ns() - t0) / 1e6)
        time.sleep(0.01)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--competition", type=float, default=0.3, help="probability the competitor back-runs")
    parser.add_argument(
        "--hold-ms", type=int, default=0, help="the detector's clock.hold_ms (0, as flows/specs; up binds 250)"
    )
    args = parser.parse_args()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="pulsearb-bench-execute-"))
    latencies: list[float] = []
    hops: dict[str, list[float]] = {}
    exact = mined = 0
    realized = 0  # pulsearb's realized profit over the measured dislocations, raw USDC
    skipped: list[str] = []
    statuses: collections.Counter[str] = collections.Counter()
    outcomes: collections.Counter[str] = collections.Counter()
    competitor: Competitor | None = None
    theirs = (0, 0)  # the competitor's (mined, realized USDC) when the measured dislocations began
    try:
        log("starting broker ...")
        info = stack.up(work / "stack", chain=False)
        admin = AdminClient({"bootstrap.servers": info.bootstrap})
        # One partition per loop topic (one token pair: more partitions add no parallelism). The Kafka source polls
        # each partition with a blocking 50 ms consume, so 4 partitions would add up to ~200 ms per hop.
        for f in admin.create_topics([NewTopic(t, 1, 1) for t in (*LOOP_TOPICS, *DLQ_TOPICS)]).values():
            f.result()
        apply(info.bootstrap, load_topics())
        log("starting anvil, deploying, starting relay, watcher and flows ...")
        detector = SPECS / "cross_dex.yaml"
        if args.hold_ms:  # the same spec with a hold: what event order costs in latency
            detector = work / "cross_dex.yaml"
            detector.write_text((SPECS / "cross_dex.yaml").read_text() + f"clock: {{hold_ms: {args.hold_ms}}}\n")
        loop = ChainLoop(info.bootstrap, work / "loop", detector, SPECS / "risk_execution.yaml").start()
        executions = TopicReader(info.bootstrap, "arb.execution")
        decisions = TopicReader(info.bootstrap, "arb.decision")
        opportunities = TopicReader(info.bootstrap, "arb.opportunity")
        try:
            assert loop.deployment is not None and loop.trader is not None and loop.w3 is not None
            usdc = loop.deployment.tokens["USDC"].address
            weth = loop.deployment.tokens["WETH"].address
            competitor = Competitor(
                loop.w3,
                Signer.from_key(COMPETITOR_KEY),
                loop.deployment,
                detector_params([loop.specs["detector"]]),
                probability=args.competition,
                seed=11,
            ).start()
            log(
                f"ready after {time.monotonic() - started:.1f} s; {DISLOCATIONS} dislocations, a competitor "
                f"back-running with probability {args.competition:g} ..."
            )
            for i in range(WARMUP + DISLOCATIONS):
                measured = i >= WARMUP
                if i == WARMUP:
                    theirs = (competitor.stats.mined, competitor.stats.realized.get(usdc, 0))
                venue = (300, 302)[i % 2]
                pair = loop.deployment.pair(venue)
                # Alternate buying and selling WETH so prices stay near their start.
                token_in, amount = (usdc, SWAP_USDC) if (i // 2) % 2 == 0 else (weth, 20 * 10**18)
                deadline = time.monotonic() + 10
                while not competitor.idle and time.monotonic() < deadline:
                    time.sleep(0.002)  # it has looked at the last block and sent what it takes
                block = dislocate(loop, pair, token_in, amount)
                try:
                    opp = opportunities.wait(
                        lambda recs, b=block: any(r["block_number"] == b for r in recs),
                        20,
                        f"opportunity of block {block}",
                    )
                    opp_id = next(r["id"] for r in opp if r["block_number"] == block)
                    decided = decisions.wait(
                        lambda recs, o=opp_id: any(r["opportunity_id"] == o for r in recs), 20, f"decision on {opp_id}"
                    )
                    decision = next(r for r in decided if r["opportunity_id"] == opp_id)
                    if not decision["accepted"]:  # e.g. another of its opportunities still in flight on the pair
                        raise StackError(f"opportunity {opp_id} rejected: {decision['reason']}")
                    records = executions.wait(
                        lambda recs, o=opp_id: any(r["opportunity_id"] == o for r in recs), 20, f"execution of {opp_id}"
                    )
                except StackError as exc:
                    if measured:
                        skipped.append(str(exc))
                        log(f"  skipped dislocation {i + 1 - WARMUP}: {exc}")
                    continue
                rec = next(r for r in records if r["opportunity_id"] == opp_id)
                trace = rec["trace"]
                time.sleep(0.03)  # let the arbitrage's own Swap logs and states pass before the next dislocation
                if not measured:
                    continue
                entered = trace.get("relay_ns", trace.get("collector_ns"))  # the swap's frame, or its block's state
                if "exec_accepted_ns" in trace and entered is not None:
                    latencies.append((trace["exec_accepted_ns"] - entered) / 1e6)
                    for name, a, b in HOPS:
                        if a in trace and b in trace:
                            hops.setdefault(name, []).append((trace[b] - trace[a]) / 1e6)
                statuses[rec["status"]] += 1
                predicted, got = from_i256(rec["predicted_profit"]), from_i256(rec["realized_profit"])
                outcomes[classify(rec["status"], rec["revert_reason"], predicted, got)] += 1
                if rec["status"] == "mined":
                    mined += 1
                    realized += got
                    exact += got == predicted
                if (i + 1 - WARMUP) % 10 == 0:
                    last = latencies[-1] if latencies else float("nan")
                    log(f"  {i + 1 - WARMUP}/{DISLOCATIONS}: last {last:.1f} ms, status {rec['status']}")
            time.sleep(0.2)  # the competitor's last back-run, if any, is mined and counted
            competitor.stop()
            log("baseline: sign + send of a pre-built transaction ...")
            base = baseline(loop, DISLOCATIONS)
        finally:
            if competitor is not None:
                competitor.stop()
            executions.close()
            decisions.close()
            opportunities.close()
            codes = loop.stop()
            log(f"flows stopped: {codes}")
    finally:
        stack.down(work / "stack")
        shutil.rmtree(work, ignore_errors=True)

    def quantiles(values: list[float]) -> dict[str, float]:
        if not values:
            return {"p50_ms": None, "p99_ms": None, "samples": 0}
        p50, p99 = round(quantile(values, 0.5), 2), round(quantile(values, 0.99), 2)
        return {"p50_ms": p50, "p99_ms": p99, "samples": len(values)}

    executed = sum(statuses.values())
    theirs_mined = competitor.stats.mined - theirs[0] if competitor else 0
    theirs_realized = competitor.stats.realized.get(usdc, 0) - theirs[1] if competitor else 0
    competition = {
        "probability": args.competition,
        "competitor_mined": theirs_mined,
        "pulsearb_mined": mined,
        "capture_rate": round(mined / (mined + theirs_mined), 4) if mined + theirs_mined else None,
        "capture_rate_profit": round(realized / (realized + theirs_realized), 4)
        if realized + theirs_realized
        else None,
    }
    result = {
        "latency": quantiles(latencies),
        "baseline": quantiles(base),
        "exact_profit_ratio": round(exact / mined, 4) if mined else 0.0,
        "dislocations": DISLOCATIONS,
        "mined": mined,
        "skipped": len(skipped),
        "failed": executed - mined,
        "statuses": dict(statuses),
        "outcomes": dict(outcomes),
        "competition": competition,
        "hold_ms": args.hold_ms,
    }
    log("")
    log(f"{'measure':<34} {'p50 ms':>8} {'p99 ms':>8}  goal")
    lat, bas = result["latency"], result["baseline"]

    def ms(value: float | None) -> float:
        return float("nan") if value is None else value

    log(f"{'dislocation -> arb tx accepted':<34} {ms(lat['p50_ms']):>8.1f} {ms(lat['p99_ms']):>8.1f}  p99 <= 250 ms")
    log(f"{'bare sign + send (baseline)':<34} {ms(bas['p50_ms']):>8.1f} {ms(bas['p99_ms']):>8.1f}")
    log(
        f"ratio p50 {ms(lat['p50_ms']) / max(ms(bas['p50_ms']), 1e-9):.1f}x baseline; "
        f"mean {statistics.fmean(latencies) if latencies else float('nan'):.1f} ms over {len(latencies)} executions; "
        f"mined {mined}, exact profit {exact}/{mined}"
    )
    log(
        f"samples: {len(latencies)} latencies of {DISLOCATIONS} dislocations ({len(skipped)} skipped, "
        f"{executed - mined} not mined: {dict(statuses)}); baseline {len(base)} sends"
    )
    log(f"outcomes: {dict(outcomes)}")
    log(
        f"competition (p={args.competition:g}): the competitor mined {theirs_mined}, pulsearb {mined}; capture rate "
        f"{competition['capture_rate']} by count, {competition['capture_rate_profit']} by realized profit"
    )
    log("")
    log(f"{'hop':<40} {'p50 ms':>8} {'p99 ms':>8}")
    for name, values in hops.items():
        log(f"{name:<40} {quantile(values, 0.5):>8.1f} {quantile(values, 0.99):>8.1f}")
    log(f"({time.monotonic() - started:.1f} s)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
