"""``pulsearb amm quote|optimal`` end to end through the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flows.amm.cycle import Hop, optimal_input
from flows.amm.v2 import get_amount_out

from .helpers import V3_STATE_FILE, quoter_entries

PULSEARB = Path(sys.executable).with_name("pulsearb")
USDC, ETH = 10**6, 10**18
POOL_A = f"{2_000_000 * USDC}:{1_000 * ETH}:30"
POOL_B = f"{1_000 * ETH}:{2_100_000 * USDC}:30"
# The same two pools traded the other way round the cycle: buying ETH where it is dear.
POOL_B_REVERSED = f"{2_100_000 * USDC}:{1_000 * ETH}:30"
POOL_A_REVERSED = f"{1_000 * ETH}:{2_000_000 * USDC}:30"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PULSEARB), "amm", *args], capture_output=True, text=True, timeout=60, check=False)


def ok_json(*args: str) -> dict:
    result = run(*args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1  # one JSON object
    obj = json.loads(lines[0])
    assert all(type(v) is int for v in obj.values())  # JSON integers, not floats or strings
    return obj


def test_quote_v2_pool() -> None:
    obj = ok_json("quote", "--pool", f"{1_000 * ETH}:{2_000_000 * USDC}:30", "--amount-in", str(ETH))
    assert obj == {"amount_out": get_amount_out(ETH, 1_000 * ETH, 2_000_000 * USDC, 30)}


_EXACT_IN = {(z, a): v for m, z, a, v in quoter_entries() if m == "quoteExactInputSingle"}


@pytest.mark.parametrize(
    ("zero_for_one", "amount_in"),
    [(True, 5866257892), (True, 10**30), (False, 10**18), (False, 1949266567294256152576)],
)
def test_quote_v3_state_equals_the_on_chain_quoter(zero_for_one: bool, amount_in: int) -> None:
    direction = "--zero-for-one" if zero_for_one else "--one-for-zero"
    obj = ok_json("quote", "--v3-state", str(V3_STATE_FILE), "--amount-in", str(amount_in), direction)
    assert obj == {"amount_out": _EXACT_IN[(zero_for_one, amount_in)]}


def test_optimal_two_pools() -> None:
    obj = ok_json("optimal", "--pool", POOL_A, "--pool", POOL_B)
    expected = optimal_input([Hop(2_000_000 * USDC, 1_000 * ETH, 30), Hop(1_000 * ETH, 2_100_000 * USDC, 30)])
    assert obj == {"amount_in": expected.amount_in, "amount_out": expected.amount_out, "profit": expected.profit}
    assert obj["profit"] > 0


def test_optimal_with_flash_fee_reports_fee_and_net() -> None:
    obj = ok_json("optimal", "--pool", POOL_A, "--pool", POOL_B, "--flash-fee-bps", "9")
    assert set(obj) == {"amount_in", "amount_out", "profit", "flash_fee", "net"}
    assert obj["net"] == obj["profit"] - obj["flash_fee"] > 0


def test_optimal_unprofitable_cycle_is_all_zeros() -> None:
    obj = ok_json(
        "optimal", "--pool", POOL_B.replace("2100000", "2000000"), "--pool", POOL_A.replace("2000000", "2100000")
    )
    assert obj == {"amount_in": 0, "amount_out": 0, "profit": 0}


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("quote", "--pool", "1000:2000:30", "--amount-in", "1.5"), "--amount-in"),
        (("quote", "--pool", "1000:abc:30", "--amount-in", "5"), "--pool"),
        (("quote", "--pool", "0:2000:30", "--amount-in", "5"), "reserves must be positive"),
        (("quote", "--pool", "1000:2000:30"), "--amount-in is required"),
        (("quote", "--v3-state", str(V3_STATE_FILE), "--amount-in", "5"), "--zero-for-one"),
        (("quote", "--v3-state", "/nonexistent/state.json", "--amount-in", "5", "--zero-for-one"), "cannot read"),
        (("optimal", "--pool", POOL_A), "at least 2 pools"),
        (("optimal",), "at least 2 pools"),
    ],
)
def test_bad_input_is_one_clear_line(args: tuple[str, ...], names: str) -> None:
    result = run(*args)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pulsearb: error: ")
    assert names in lines[0]
    assert "Traceback" not in result.stderr
