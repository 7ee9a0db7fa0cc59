"""The validation's pure parts: cycle choice and sizing with flows.amm, the opportunity, gas budget, display."""

from __future__ import annotations

from flows.amm.cycle import optimal_input
from flows.amm.v2 import Hop, get_amount_out
from flows.execution.plan import opportunity_id_bytes32
from ops.simulator.chain.deploy import PairInfo
from ops.validation.arb import Pool, at_input, best_cycle, cross_check, to_opportunity
from ops.validation.budget import DEPLOY_GAS_LIMITS, gas_budget, max_fee
from ops.validation.units import ether, gap_bps, gwei, token

USDC, WETH = "0x" + "aa" * 20, "0x" + "bb" * 20
U, W = 10**6, 10**18


def pool(address: str, venue: int, fee: int, usdc: int, weth: int) -> Pool:
    return Pool(PairInfo(address, venue, fee, USDC, WETH, 6, 18), usdc, weth)


def test_best_cycle_buys_where_cheap_and_matches_flows_amm() -> None:
    a = pool("0x" + "01" * 20, 300, 30, 2_050_000 * U, 975 * W)  # WETH dear on venue 300
    b = pool("0x" + "02" * 20, 302, 25, 2_000_000 * U, 1_000 * W)
    cycle = best_cycle(a, b, USDC)
    assert cycle.first is b and cycle.second is a and cycle.middle == WETH
    expected = optimal_input([Hop(2_000_000 * U, 1_000 * W, 25), Hop(975 * W, 2_050_000 * U, 30)])
    assert cycle.optimal == cycle.sizing == expected and expected.profit > 0
    assert cross_check(cycle) == cycle.sizing.amount_out
    small = at_input(cycle, 1_000 * U)
    mid = get_amount_out(1_000 * U, 2_000_000 * U, 1_000 * W, 25)
    assert small.sizing.amount_out == get_amount_out(mid, 975 * W, 2_050_000 * U, 30) == cross_check(small)
    assert small.optimal == cycle.optimal


def test_no_gap_no_profit() -> None:
    a = pool("0x" + "01" * 20, 300, 30, 2_000_000 * U, 1_000 * W)
    b = pool("0x" + "02" * 20, 302, 25, 2_000_000 * U, 1_000 * W)
    assert best_cycle(a, b, USDC).optimal.profit == 0


def test_opportunity_for_the_executor() -> None:
    a = pool("0x" + "01" * 20, 300, 30, 2_050_000 * U, 975 * W)
    b = pool("0x" + "02" * 20, 302, 25, 2_000_000 * U, 1_000 * W)
    cycle = best_cycle(a, b, USDC)
    kw = {"chain_id": 31337, "block": 7, "nonce": 3, "valid_ns": 10**9, "gas_estimate": 400_000, "gas_price_wei": 2}
    opp = to_opportunity(cycle, now_ns=5, **kw)
    assert opp.path == (USDC, WETH, USDC) and opp.pools == (b.pair.address, a.pair.address)
    assert opp.venues == (302, 300) and opp.fees_bps == (25, 30)
    assert (opp.amount_in, opp.amount_out) == (cycle.sizing.amount_in, cycle.sizing.amount_out)
    assert opp.gas_cost == 0 and opp.flash_fee == 0 and opp.net_profit == cycle.sizing.profit
    assert opp.valid_until_ns == 5 + 10**9 and opp.token_in_decimals == 6
    assert len(opp.id) == 32 and opportunity_id_bytes32(opp.id)[:16] == bytes.fromhex(opp.id)
    assert to_opportunity(cycle, now_ns=6, **kw).id != opp.id


def test_gas_budget() -> None:
    assert gas_budget(deploy=True, dry_run_only=True, execute_gas_limit=400_000) == 0
    attach = gas_budget(deploy=False, dry_run_only=False, execute_gas_limit=400_000)
    assert attach == 600_000 + 400_000 + 300_000
    assert gas_budget(deploy=True, dry_run_only=False, execute_gas_limit=400_000) == attach + DEPLOY_GAS_LIMITS
    assert max_fee(10, 1, 100) == 21 and max_fee(10, 1, 15) == 15


def test_display() -> None:
    assert token(1_234_500_000, 6, "USDC") == "1,234.5 USDC"
    assert token(5 * 10**18, 18, "WETH") == "5 WETH"
    assert token(1, 6) == "0.000001"
    assert ether(10**15) == "0.001 ETH" and ether(122_488_036_577_972) == "0.000122488 ETH"
    assert gwei(1_060_575_941) == "1.060575941 gwei"
    assert gap_bps(1_000, 2_000, 1_000, 2_100) == 500 and gap_bps(1, 1, 1, 1) == 0
