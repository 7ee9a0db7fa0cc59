"""Every real V2-style pair swap in ``v2_pair_swaps.csv`` against getAmountOut / getAmountIn, to the wei.

The CSV (see tests/data/ethereum/README.md) has one row per ``pair.swap()`` call found in real mainnet traces, with
the reserves a ``getReserves()`` read returned earlier in the same transaction. A row is classified by what
reproduces its output:

- ``exact_in``: ``get_amount_out(amount transferred in, reserves before)`` equals the output;
- ``fee_on_transfer``: only the amount the pair actually received (``amount*_in_implied``, smaller than the
  transfer) reproduces it: the token takes a fee on transfer;
- ``exact_out``: the output is below ``get_amount_out`` of the input, and the input equals
  ``get_amount_in(output)``: a ``swapTokensForExactTokens``;
- ``reverted``: the call failed, nothing was swapped;
- anything else is ``unexplained`` and fails the test.
"""

from __future__ import annotations

import csv
from collections import Counter

from flows.amm.v2 import get_amount_in, get_amount_out

from .helpers import DATA


def _classify(amount_in: int, received: int, amount_out: int, reserve_in: int, reserve_out: int) -> str:
    if get_amount_out(amount_in, reserve_in, reserve_out) == amount_out:
        return "exact_in"
    if 0 < received < amount_in and get_amount_out(received, reserve_in, reserve_out) == amount_out:
        return "fee_on_transfer"
    if get_amount_out(amount_in, reserve_in, reserve_out) > amount_out and (
        get_amount_in(amount_out, reserve_in, reserve_out) == amount_in
    ):
        return "exact_out"
    return "unexplained"


def _rows() -> list[dict[str, str]]:
    with (DATA / "v2_pair_swaps.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_every_real_swap_is_reproduced_to_the_wei() -> None:
    rows = _rows()
    assert len(rows) == 185
    recorded: Counter[str] = Counter()
    rebuilt: Counter[str] = Counter()
    for row in rows:
        if row["call_error"]:
            recorded["reverted"] += 1
            continue
        out0, out1 = int(row["amount0_out"]), int(row["amount1_out"])
        assert (out0 == 0) != (out1 == 0), "one-sided swaps only"
        # Orient the pair: the token not paid out is the one coming in.
        side_in = 1 if out0 else 0
        amount_out = out0 or out1
        amount_in = int(row["amount_in"])
        assert row["token_in"] == row[f"token{side_in}"]
        if row["reserve0_before_getreserves"]:
            reserves = (int(row["reserve0_before_getreserves"]), int(row["reserve1_before_getreserves"]))
            received = int(row[f"amount{side_in}_in_implied"])
            kind = _classify(amount_in, received, amount_out, reserves[side_in], reserves[1 - side_in])
            recorded[kind] += 1
        else:
            # No getReserves() read in the transaction: the reserves before are the Sync values after, minus the
            # input, plus the output.
            after = (int(row["reserve0_after"]), int(row["reserve1_after"]))
            reserve_in = after[side_in] - amount_in
            reserve_out = after[1 - side_in] + amount_out
            rebuilt[_classify(amount_in, amount_in, amount_out, reserve_in, reserve_out)] += 1

    assert recorded == {"exact_in": 161, "fee_on_transfer": 5, "exact_out": 15, "reverted": 2}
    assert rebuilt == {"exact_in": 1, "exact_out": 1}


def test_the_fee_on_transfer_rows_are_fee_on_transfer_tokens() -> None:
    """The 5 rows that need the received amount: the pair got less than was transferred, and they are exact-in."""
    short = []
    for row in _rows():
        if row["call_error"] or not row["reserve0_before_getreserves"]:
            continue
        side_in = 1 if int(row["amount0_out"]) else 0
        received = int(row[f"amount{side_in}_in_implied"])
        if received != int(row["amount_in"]):
            short.append((row["token_in"], int(row["amount_in"]) - received))
    assert len(short) == 5
    assert all(fee > 0 for _token, fee in short)
    # Three distinct tokens take a transfer fee.
    assert len({token for token, _fee in short}) == 3
