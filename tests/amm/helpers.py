"""Shared paths and independent reference implementations for the AMM tests.

The references here are written from the formulas, not from ``flows.amm``, so a bug there cannot hide in both.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "ethereum"
V3_STATE_FILE = DATA / "v3_wbtc_weth_state.json"
V3_QUOTER_FILE = DATA / "degenbot" / "uniswap_v3_wbtc_weth_block_24407242.quoter.json"


def uniswap_v2_out_997(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut exactly as deployed (997/1000)."""
    amount_in_with_fee = amount_in * 997
    return amount_in_with_fee * reserve_out // (reserve_in * 1000 + amount_in_with_fee)


def uniswap_v2_in_997(amount_out: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountIn exactly as deployed (997/1000)."""
    return reserve_in * amount_out * 1000 // ((reserve_out - amount_out) * 997) + 1


def hop_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int) -> int:
    """Floor of the exact rational constant-product output (0 for a zero input: the swap would revert)."""
    if amount_in <= 0:
        return 0
    gamma = Fraction(10_000 - fee_bps, 10_000)
    exact = gamma * amount_in * reserve_out / (reserve_in + gamma * amount_in)
    return exact.numerator // exact.denominator


def cycle_net(x: int, pools: list[tuple[int, int, int]], flash_fee_bps: int = 0) -> int:
    """Net integer profit of input ``x`` around the cycle (flash premium rounded up)."""
    y = x
    for r_in, r_out, fee in pools:
        y = hop_out(y, r_in, r_out, fee)
    premium = -(-x * flash_fee_bps // 10_000)
    return y - x - premium


def quoter_entries() -> list[tuple[str, bool, int, int]]:
    """The 80 on-chain Quoter results: ``(method, zero_for_one, amount, value)``."""
    entries = json.loads(V3_QUOTER_FILE.read_text())["entries"]
    out = []
    for key, value in entries.items():
        _pool, method, pair, amount = key.split("|")
        out.append((method, pair == "WBTC->WETH", int(amount), value["value"]))
    return out
