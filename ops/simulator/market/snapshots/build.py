"""Build the market snapshots in this folder from the real Ethereum fixtures (tests/data/ethereum).

    .venv/bin/python ops/simulator/market/snapshots/build.py          # rewrite the *.json files here
    .venv/bin/python ops/simulator/market/snapshots/build.py --check  # exit 1 if a committed file differs

Each V2 snapshot holds the pools of one real arbitrage transaction, with the reserves each pool had just before
it: the ``getReserves()`` the bot itself read earlier in the same transaction (``v2_pair_swaps.csv`` column
``reserve*_before_getreserves``; the fixture README checks that these equal the previous swap's reserves after).
The real bot's gross profit (before gas, from /work/shared/fixtures/ethereum/EXPECTED.md) is kept under ``expected``,
so a run on the snapshot can be compared with what was captured on mainnet. The V3 snapshot pairs two real pool
states from different blocks (a Uniswap V3 and a Uniswap V2 WBTC/WETH pool): not a historical arbitrage, but a real
tick map to execute a mixed V2/V3 cycle on.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[3] / "tests" / "data" / "ethereum"
SYMBOLS = {
    "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2": ("WETH", 18),
    "0x6b175474e89094c44da98b954eedeac495271d0f": ("DAI", 18),
    "0x0bc529c00c6401aef6d220be8c6ea1667f6ad93e": ("YFI", 18),
    "0x5befbb272290dd5b8521d4a938f6c4757742c430": ("XFI", 18),
    "0x9b06d48e0529ecf05905ff52dd426ebec0ea3011": ("XSP", 18),  # decimals SECONDARY (tokens.csv)
    "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599": ("WBTC", 8),
}
VENUES = {  # pair -> venue name (EXPECTED.md's labels)
    "0xc3d03e4f041fd4cd388c549ee2a29a9e5075882f": "sushiswap",
    "0xa478c2975ab1ea89e8196811f51a7b7ade33eb11": "uniswap_v2",
    "0x088ee5007c98a9677165d78dd2109ae4a3d04d0c": "sushiswap",
    "0x2fdbadf3c4d5a8666bc06645b8358ab803996e28": "uniswap_v2",
}
ARBITRAGES = [
    # (file stem, tx hash, block, bot's gross profit in wei WETH, what EXPECTED.md says)
    (
        "eth_12483198_dai_weth",
        "0x1db6c452124aca58e79ebc0e73f8c285109534951168f5557fcef2b56ff7b25a",
        12483198,
        22137247799616742,
        "WETH->DAI on SushiSwap, DAI->WETH on Uniswap V2 (tx index 171)",
    ),
    (
        "eth_11017338_yfi_weth",
        "0xd9306dc8c1230cc0faef22a8442d0994b8fc9a8f4c9faeab94a9a7eac8e59710",
        11017338,
        626678385524850545,
        "WETH->YFI on SushiSwap, YFI->WETH on Uniswap V2 (tx index 24)",
    ),
    (
        "eth_11017338_xsp_xfi_weth",
        "0xdfeae07360e2d7695a498e57e2054c658d1d78bbcd3c763fc8888b5433b6c6d5",
        11017338,
        23939671034095067,
        "WETH->XSP->XFI->WETH over three V2-style pairs (tx index 73)",
    ),
]


def _v2_snapshot(stem: str, tx: str, block: int, profit: int, route: str, rows: list[dict[str, str]]) -> dict:
    swaps = [r for r in rows if r["tx_hash"] == tx]
    if not swaps:
        msg = f"{tx} not in v2_pair_swaps.csv"
        raise SystemExit(msg)
    tokens: dict[str, tuple[str, int]] = {}
    pools = []
    for r in swaps:
        t0, t1 = SYMBOLS[r["token0"]], SYMBOLS[r["token1"]]
        tokens[t0[0]], tokens[t1[0]] = t0, t1
        pools.append(
            {
                "venue": VENUES.get(r["pair"], "v2_fork"),
                "kind": "uniswap_v2",
                "fee_bps": 30,
                "token0": t0[0],
                "token1": t1[0],
                "reserve0": r["reserve0_before_getreserves"],
                "reserve1": r["reserve1_before_getreserves"],
                "address": r["pair"],
            }
        )
    return {
        "name": stem,
        "source": f"Ethereum mainnet block {block}, tx {tx}: reserves just before the arbitrage "
        "(tests/data/ethereum/v2_pair_swaps.csv)",
        "expected": {"profit_token": "WETH", "bot_gross_profit": str(profit), "route": route},
        "tokens": [{"symbol": s, "decimals": d} for s, d in sorted(tokens.values())],
        "pools": pools,
    }


def _v3_snapshot() -> dict[str, Any]:
    v3 = json.loads((DATA / "v3_wbtc_weth_state.json").read_text())
    v2 = json.loads((DATA / "degenbot" / "uniswap_v2_wbtc_weth_block_17600000.state.json").read_text())
    return {
        "name": "wbtc_weth_v3_vs_v2",
        "source": "two real pool states from different blocks: Uniswap V3 WBTC/WETH 0.3 % at block 24407242 "
        "(all 458 initialized ticks) and Uniswap V2 WBTC/WETH at block 17600000; not a historical arbitrage",
        "tokens": [{"symbol": "WBTC", "decimals": 8}, {"symbol": "WETH", "decimals": 18}],
        "pools": [
            {
                "venue": "uniswap_v3",
                "kind": "uniswap_v3",
                "fee": v3["fee"],
                "token0": "WBTC",
                "token1": "WETH",
                "sqrt_price_x96": str(v3["sqrt_price_x96"]),
                "liquidity": str(v3["liquidity"]),
                "tick": v3["tick"],
                "ticks": [
                    {"index": int(t), "liquidity_net": str(n)}
                    for t, n in sorted(v3["ticks"].items(), key=lambda kv: int(kv[0]))
                ],
                "address": "0xcbcdf9626bc03e24f779434178a73a0b4bad62ed",
            },
            {
                "venue": "uniswap_v2",
                "kind": "uniswap_v2",
                "fee_bps": 30,
                "token0": "WBTC",
                "token1": "WETH",
                "reserve0": str(v2["reserves_token0"]),
                "reserve1": str(v2["reserves_token1"]),
                "address": v2["address"].lower(),
            },
        ],
    }


def build() -> dict[str, str]:
    """File name -> JSON text of every snapshot."""
    with (DATA / "v2_pair_swaps.csv").open() as f:
        rows = list(csv.DictReader(f))
    snaps = [_v2_snapshot(*a, rows) for a in ARBITRAGES] + [_v3_snapshot()]
    return {f"{s['name']}.json": json.dumps(s, indent=1) + "\n" for s in snaps}


def main(argv: list[str] | None = None) -> int:
    """Write (or --check) the snapshot files."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if a committed file differs")
    args = p.parse_args(argv)
    differ = []
    for name, text in build().items():
        path = HERE / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                differ.append(name)
        else:
            path.write_text(text)
    if differ:
        print(f"snapshots differ from their sources: {', '.join(differ)}; run ops/simulator/market/snapshots/build.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
