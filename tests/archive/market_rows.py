"""Market records rebuilt from real Ethereum swaps (tests/data/ethereum/v2_pair_swaps.csv, see its README).

The WETH/USDC and WETH/DAI pairs trade on both Uniswap V2 and SushiSwap in that file (the canonical pair contracts
below). Each successful swap becomes the ``market.pool_swap`` record of that swap and the ``market.pool_sync``
record of the reserves it left (what the pair's Sync event carries). The relay time is synthetic but keeps the
chain's order: 12 s per block from :data:`T0`, 1 ms per transaction index, 1 µs per trace position.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Any

from base.paths import ROOT
from schemas.serde import u256

SWAPS_CSV = ROOT / "tests" / "data" / "ethereum" / "v2_pair_swaps.csv"
T0 = 1_760_000_000_000_000_000
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
DAI = "0x6b175474e89094c44da98b954eedeac495271d0f"
DECIMALS = {WETH: 18, USDC: 6, DAI: 18}  # shared fixtures' tokens.csv (Uniswap default token list)
UNISWAP_V2, SUSHISWAP = 300, 302
VENUE_OF_PAIR = {
    "0xb4e16d0168e52d35cacd2c6185b44281ec28c9dc": UNISWAP_V2,  # USDC/WETH
    "0x397ff1542f962076d0bfe58ea045ffa2d347aca0": SUSHISWAP,  # USDC/WETH
    "0xa478c2975ab1ea89e8196811f51a7b7ade33eb11": UNISWAP_V2,  # DAI/WETH
    "0xc3d03e4f041fd4cd388c549ee2a29a9e5075882f": SUSHISWAP,  # DAI/WETH
}


@dataclass(frozen=True, slots=True)
class Swap:
    """One successful swap of the CSV on a pair of :data:`VENUE_OF_PAIR`."""

    pair: str
    venue: int
    token0: str
    token1: str
    token_in: str
    token_out: str
    amount_in: int
    amount_out: int
    reserve0: int  # after the swap
    reserve1: int
    block: int
    timestamp_ns: int
    sequence: int

    @property
    def pair_key(self) -> str:
        """The token pair as opportunities and history name it: sorted addresses joined by '/'."""
        return "/".join(sorted((self.token0, self.token1)))

    def price(self) -> float:
        """Whole units of the pair key's second token per whole first token (what `history prices` shows)."""
        p01 = (self.reserve1 / 10 ** DECIMALS[self.token1]) / (self.reserve0 / 10 ** DECIMALS[self.token0])
        return p01 if self.token0 <= self.token1 else 1 / p01


def swaps() -> list[Swap]:
    """The swaps, in chain order."""
    out = []
    with SWAPS_CSV.open() as f:
        rows = [r for r in csv.DictReader(f) if r["pair"] in VENUE_OF_PAIR]
    rows = [r for r in rows if r["rolled_back"] == "0" and not r["call_error"]]
    first = min(int(r["block_number"]) for r in rows)
    rows.sort(key=lambda r: (int(r["block_number"]), int(r["tx_index"]), r["trace_address"]))
    for seq, r in enumerate(rows):
        block = int(r["block_number"])
        t = T0 + (block - first) * 12 * 10**9 + int(r["tx_index"]) * 10**6 + seq * 1_000
        out.append(
            Swap(
                r["pair"], VENUE_OF_PAIR[r["pair"]], r["token0"], r["token1"], r["token_in"], r["token_out"],
                int(r["amount_in"]), int(r["amount_out"]), int(r["reserve0_after"]), int(r["reserve1_after"]),
                block, t, seq,
            )
        )  # fmt: skip
    return out


def sync_record(s: Swap) -> dict[str, Any]:
    """The ``market.pool_sync`` record of the reserves a swap left."""
    return {
        "source": 4,
        "sequence": s.sequence,
        "timestamp_ns": s.timestamp_ns,
        "pool": s.pair,
        "venue": s.venue,
        "token0": s.token0,
        "token1": s.token1,
        "token0_decimals": DECIMALS[s.token0],
        "token1_decimals": DECIMALS[s.token1],
        "reserve0": u256(s.reserve0),
        "reserve1": u256(s.reserve1),
        "block_number": s.block,
        "event_timestamp_ns": s.timestamp_ns,
        "trace": {"relay_ns": s.timestamp_ns, "bridge_in_ns": s.timestamp_ns + 10_000},
    }


def swap_record(s: Swap) -> dict[str, Any]:
    """The ``market.pool_swap`` record of a swap."""
    return {
        "source": 4,
        "sequence": s.sequence,
        "timestamp_ns": s.timestamp_ns,
        "pool": s.pair,
        "venue": s.venue,
        "token_in": s.token_in,
        "token_out": s.token_out,
        "amount_in": u256(s.amount_in),
        "amount_out": u256(s.amount_out),
        "amount_in_decimals": DECIMALS[s.token_in],
        "amount_out_decimals": DECIMALS[s.token_out],
        "liquidity_after": u256(0),
        "sqrt_price_x96_after": u256(0),
        "tick_after": 0,
        "block_number": s.block,
        "event_timestamp_ns": s.timestamp_ns,
        "trace": {"relay_ns": s.timestamp_ns},
    }
