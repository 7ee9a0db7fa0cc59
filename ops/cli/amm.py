"""``pulsearb amm quote|optimal``: the pool math of ``flows.amm`` from the command line, JSON on stdout.

V2 pools are written ``RESERVE_IN:RESERVE_OUT:FEE_BPS`` (raw token units, oriented in the direction of the
trade); V3 pools are a state file (``{"sqrt_price_x96", "tick", "liquidity", "fee", "tick_spacing",
"ticks": {"<tick>": liquidity_net}}``). Every amount printed is a JSON integer in raw token units.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from typing import TypeVar

from base.errors import AmmRevert, ConfigError
from flows.amm.cycle import optimal_input
from flows.amm.v2 import BPS, Hop
from flows.amm.v3.pool import load_state_file

_UINT = re.compile(r"[0-9]+")
_MAX_INT256 = 2**255 - 1
_POOL_FORMAT = "RESERVE_IN:RESERVE_OUT:FEE_BPS"
_POOL_EXAMPLE = "2000000000000:1000000000000000000000:30"

T = TypeVar("T")


def register(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    """Add the ``amm`` group with its ``quote`` and ``optimal`` verbs."""
    p = sub.add_parser(name, help=help_text, description=help_text)
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    q = verbs.add_parser(
        "quote",
        help="output of one exact-input swap on a V2 pool or a V3 pool state",
        description=(
            'Print {"amount_out": N} for an exact-input swap: on a V2 pool (--pool) as getAmountOut computes '
            "it, or on a V3 pool state (--v3-state) as the pool contract and Uniswap's Quoter (price limit 0) do."
        ),
    )
    q.add_argument("--pool", metavar=_POOL_FORMAT, help="V2 pool: reserves in raw units, fee in bps (30 = 0.3 %%)")
    q.add_argument("--v3-state", metavar="FILE", help="V3 pool state file (JSON)")
    q.add_argument("--amount-in", metavar="X", help="exact input, raw units of the input token")
    q.add_argument("--zero-for-one", action="store_true", help="V3: sell token0 for token1")
    q.add_argument("--one-for-zero", action="store_true", help="V3: sell token1 for token0")
    q.set_defaults(func=_quote)

    o = verbs.add_parser(
        "optimal",
        help="input that maximises the profit of a cycle of V2 pools",
        description=(
            'Print {"amount_in", "amount_out", "profit"} (raw units of the start token) for the integer input '
            "that maximises the hop-by-hop profit around a cycle of V2 pools; all 0 when nothing is profitable. "
            'With --flash-fee-bps the net after the flash-loan premium is maximised and "flash_fee" and "net" '
            "are added."
        ),
    )
    o.add_argument(
        "--pool",
        action="append",
        default=[],
        metavar=_POOL_FORMAT,
        help="one hop, in cycle order and oriented along the cycle (repeat, at least 2)",
    )
    o.add_argument("--flash-fee-bps", metavar="BPS", help="flash-loan premium on the input, bps")
    o.set_defaults(func=_optimal)


def _uint(text: str | None, option: str) -> int:
    if text is None:
        msg = f"{option} is required: give an integer in raw token units"
        raise ConfigError(msg)
    if not _UINT.fullmatch(text):
        msg = f"{option}: expected a non-negative integer in raw token units, got {text!r}"
        raise ConfigError(msg)
    return int(text)


def _pool(text: str) -> Hop:
    parts = text.split(":")
    if len(parts) != 3 or not all(_UINT.fullmatch(p) for p in parts):
        msg = f"--pool {text!r}: expected {_POOL_FORMAT} as non-negative integers, e.g. {_POOL_EXAMPLE}"
        raise ConfigError(msg)
    reserve_in, reserve_out, fee_bps = (int(p) for p in parts)
    if reserve_in == 0 or reserve_out == 0:
        msg = f"--pool {text!r}: reserves must be positive (an empty pool cannot swap)"
        raise ConfigError(msg)
    if fee_bps >= BPS:
        msg = f"--pool {text!r}: FEE_BPS must be below {BPS} (30 means 0.3 %)"
        raise ConfigError(msg)
    return Hop(reserve_in, reserve_out, fee_bps)


def _emit(obj: dict[str, int]) -> int:
    sys.stdout.write(json.dumps(obj) + "\n")
    return 0


def _quote(args: argparse.Namespace) -> int:
    if (args.pool is None) == (args.v3_state is None):
        msg = f"amm quote: give exactly one of --pool {_POOL_FORMAT} or --v3-state FILE"
        raise ConfigError(msg)
    amount_in = _uint(args.amount_in, "--amount-in")
    if amount_in == 0:
        msg = "--amount-in: must be positive (the pool reverts on a zero input)"
        raise ConfigError(msg)
    if args.pool is not None:
        if args.zero_for_one or args.one_for_zero:
            msg = "--zero-for-one/--one-for-zero apply to --v3-state; a --pool is already oriented (RESERVE_IN first)"
            raise ConfigError(msg)
        hop = _pool(args.pool)
        return _emit({"amount_out": _swap(lambda: hop.amount_out(amount_in))})
    if args.zero_for_one == args.one_for_zero:
        msg = "amm quote --v3-state: give exactly one of --zero-for-one or --one-for-zero"
        raise ConfigError(msg)
    if amount_in > _MAX_INT256:
        msg = f"--amount-in: at most 2**255 - 1 (the pool's int256 amount), got {amount_in}"
        raise ConfigError(msg)
    state = load_state_file(args.v3_state)
    return _emit({"amount_out": _swap(lambda: state.swap_exact_in(amount_in, args.zero_for_one)[0])})


def _swap(compute: Callable[[], T]) -> T:
    try:
        return compute()
    except AmmRevert as exc:
        msg = f"the swap reverts on chain: {exc.reason}"
        raise AmmRevert(msg) from exc


def _optimal(args: argparse.Namespace) -> int:
    if len(args.pool) < 2:
        msg = (
            f"amm optimal: a cycle needs at least 2 pools, got {len(args.pool)}; "
            f"repeat --pool {_POOL_FORMAT} for each hop in cycle order"
        )
        raise ConfigError(msg)
    hops = [_pool(text) for text in args.pool]
    flash_fee_bps = 0 if args.flash_fee_bps is None else _uint(args.flash_fee_bps, "--flash-fee-bps")
    if flash_fee_bps >= BPS:
        msg = f"--flash-fee-bps: must be below {BPS}, got {flash_fee_bps}"
        raise ConfigError(msg)
    sizing = _swap(lambda: optimal_input(hops, flash_fee_bps))
    out = {"amount_in": sizing.amount_in, "amount_out": sizing.amount_out, "profit": sizing.profit}
    if args.flash_fee_bps is not None:
        out |= {"flash_fee": sizing.flash_fee, "net": sizing.net}
    return _emit(out)
