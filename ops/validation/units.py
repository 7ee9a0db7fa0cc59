"""Display of raw on-chain amounts (exact: Decimal, never float)."""

from __future__ import annotations

from decimal import Decimal

WEI_PER_ETH = 10**18
WEI_PER_GWEI = 10**9


def token(raw: int, decimals: int, symbol: str = "") -> str:
    """``1,234.5 USDC`` for 1234500000 raw units of a 6-decimal token (trailing zeros dropped)."""
    text = f"{Decimal(raw).scaleb(-decimals):,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {symbol}".rstrip()


def ether(wei: int) -> str:
    """Native-token amount for display, floored to the gwei (``0.000122488 ETH``; ETH: the chain's native token)."""
    return token(wei // WEI_PER_GWEI, 9, "ETH")


def gwei(wei: int) -> str:
    """Wei per gas as gwei for display (``1.5 gwei``)."""
    return token(wei, 9, "gwei")


def gap_bps(a_in: int, a_out: int, b_in: int, b_out: int) -> int:
    """Price gap between two pools of one pair, bps (floored): ``|pA - pB| / min(pA, pB)``, ``p = out / in``."""
    pa, pb = a_out * b_in, b_out * a_in  # both prices over the common denominator a_in * b_in
    low = min(pa, pb)
    return abs(pa - pb) * 10_000 // low if low else 0
