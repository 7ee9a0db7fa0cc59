"""ArbExecutor on the genuine Uniswap contracts (anvil): mixed V2/V3 cycles realize pulsearb's prediction to the wei.

The market is ops.simulator.chain.deploy's (two genuine UniswapV2Factory venues, a genuine UniswapV3Factory venue,
WBTC),
reverted after each test. Every prediction is pulsearb's own math on the pools' state read from the chain: V2 hops
with ``flows.amm.v2`` (the closed-form sizing for V2-only cycles), V3 hops with ``V3PoolState.swap_exact_in`` on the
pool's slot0, liquidity and tick map, the size from ``flows.strategies.legs.size_cycle``. Calldata comes from
``flows.execution.plan``, so the encoding is exercised against the contract, not only against its ABI.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from eth_abi import decode
from web3 import Web3

from flows.amm.v3.pool import swap as v3_swap
from flows.execution.chain import Chain
from flows.execution.config import ExecutionConfig
from flows.execution.errors import ExecutionReverted
from flows.execution.logs import Log, realized
from flows.execution.plan import calldata, opportunity_id_bytes32
from flows.opportunity import InputState, Opportunity
from flows.pools import PoolState
from flows.strategies.legs import amounts_along, size_cycle
from ops.simulator.chain.deploy import PairInfo
from ops.simulator.chain.pools import read_states
from ops.simulator.chain.tx import TxSender, contract
from ops.simulator.chain.uniswap import genuine
from tests.execution.conftest import USDC_UNIT, Env
from tests.risk.factories import make_opportunity

pytestmark = pytest.mark.integration

WETH_UNIT = 10**18
WBTC_UNIT = 10**8
CAPITALS = ("own", "flash_swap", "flash_loan")
EXEC_GAS = 2_000_000
# Hops as (venue, token a, token b) from the start token USDC; the token path follows from the pools.
ROUTES = {
    "v2>v2": [(300, "USDC", "WETH"), (302, "USDC", "WETH")],
    "v2>v3": [(300, "USDC", "WETH"), (301, "USDC", "WETH")],
    "v3>v2": [(301, "USDC", "WETH"), (302, "USDC", "WETH")],
    "v2>v3>v2": [(300, "USDC", "WETH"), (301, "WETH", "WBTC"), (302, "USDC", "WBTC")],
    "v3>v3>v2": [(301, "USDC", "WETH"), (301, "WETH", "WBTC"), (300, "USDC", "WBTC")],
}
# What selling the first hop's output token into the first pool costs the trader: a ~6 % move.
DISLOCATION = {"WETH": 60 * WETH_UNIT, "WBTC": 2 * WBTC_UNIT}


@dataclass(frozen=True)
class Route:
    """A cycle: its pools with the token each takes, and the path of tokens (first == last)."""

    pools: list[PairInfo]
    path: list[str]

    @property
    def token_in(self) -> str:
        return self.path[0]


def route(e: Env, hops: list[tuple[int, str, str]]) -> Route:
    pools = [e.deployment.pair(v, a, b) for v, a, b in hops]
    path = [e.usdc]
    for p in pools:
        path.append(p.token1 if path[-1] == p.token0 else p.token0)
    assert path[-1] == path[0]
    return Route(pools, path)


def symbol(e: Env, address: str) -> str:
    return next(s for s, t in e.deployment.tokens.items() if t.address == address)


def dislocate(e: Env, r: Route) -> None:
    """Sell the first hop's output token into the first pool, so that buying it there and going round pays."""
    middle = r.path[1]
    e.trader.swap(r.pools[0], middle, DISLOCATION[symbol(e, middle)])


def states(e: Env, r: Route) -> list[PoolState]:
    return read_states(e.w3, r.pools)


def opportunity(e: Env, r: Route, amount_in: int, amount_out: int, label: str) -> Opportunity:
    """The opportunity the strategies would emit for this cycle and size (kinds from the pools)."""
    return make_opportunity(
        id=Web3.keccak(text=label).hex().removeprefix("0x")[:32],
        pair="/".join(sorted(set(r.path))),
        chain_id=e.deployment.chain_id,
        token_in=r.token_in,
        path=tuple(r.path),
        pools=tuple(p.address for p in r.pools),
        venues=tuple(p.venue for p in r.pools),
        fees_bps=tuple(p.fee_bps for p in r.pools),
        kinds=tuple(p.kind for p in r.pools),
        amount_in=amount_in,
        amount_out=amount_out,
        inputs=tuple(InputState(p.address, 0, 0, 0, 0) for p in r.pools),
    )


def owner_tx(e: Env) -> TxSender:
    return TxSender(e.w3, e.signer)


def _hex(data: bytes | str) -> str:
    return data if isinstance(data, str) else "0x" + data.hex()


def send(e: Env, data: bytes | str, sender: TxSender | None = None) -> dict:
    """Send calldata to the executor with explicit gas (a revert is mined, not estimated away); the receipt."""
    tx = sender or owner_tx(e)
    sent = tx.send(e.deployment.executor, data, "execute", gas=EXEC_GAS)
    return dict(e.w3.eth.wait_for_transaction_receipt(sent.tx_hash))


def simulate(e: Env, data: bytes, sender: str | None = None) -> tuple[int, int]:
    to = Web3.to_checksum_address(e.deployment.executor)
    out = Chain(e.w3).call({"from": sender or e.signer.address, "to": to, "data": _hex(data)})
    return tuple(decode(["uint256", "uint256"], out[:64]))  # type: ignore[return-value]


def reason(e: Env, data: bytes | str, sender: str, to: str | None = None) -> str:
    """The revert reason of an ``eth_call`` (fails if it succeeds)."""
    target = Web3.to_checksum_address(to or e.deployment.executor)
    with pytest.raises(ExecutionReverted) as info:
        Chain(e.w3).call({"from": sender, "to": target, "data": _hex(data), "gas": EXEC_GAS})
    return info.value.reason


def lender_fee(e: Env, token: str, amount: int) -> int:
    lender = contract(e.w3, "FlashLender", e.deployment.flash_lender)
    return int(lender.functions.flashFee(Web3.to_checksum_address(token), amount).call())


def empty_executor(e: Env, token: str) -> None:
    """Withdraw the executor's whole balance of ``token``: a flash cycle must run on borrowed tokens alone."""
    tx = owner_tx(e)
    held = e.balance(token, e.deployment.executor)
    executor = contract(e.w3, "ArbExecutor", e.deployment.executor)
    tx.wait([tx.call(executor, "withdraw", Web3.to_checksum_address(token), e.signer.address, held)])
    assert e.balance(token, e.deployment.executor) == 0


def logs(receipt: dict) -> list[Log]:
    return [
        Log(str(lg["address"]).lower(), tuple(bytes(t) for t in lg["topics"]), bytes(lg["data"]))
        for lg in receipt["logs"]
    ]


@pytest.mark.parametrize("capital", CAPITALS)
@pytest.mark.parametrize("name", list(ROUTES))
def test_mixed_cycle_realizes_the_prediction_to_the_wei(env: Env, name: str, capital: str) -> None:
    e = env
    r = route(e, ROUTES[name])
    dislocate(e, r)
    before = states(e, r)
    legs = [s.leg(t) for s, t in zip(before, r.path, strict=False)]
    sized = size_cycle(legs)
    assert sized is not None, "the dislocation pays"
    sizing, amounts = sized
    assert sizing.profit > 0 and amounts == amounts_along(legs, sizing.amount_in)
    fee = lender_fee(e, r.token_in, sizing.amount_in) if capital == "flash_loan" else 0
    predicted = sizing.profit - fee
    assert predicted > 0
    if capital != "own":
        empty_executor(e, r.token_in)
    opp = opportunity(e, r, sizing.amount_in, sizing.amount_out, f"{name}/{capital}")
    data = calldata(opp, predicted, capital, e.deployment.flash_lender)

    assert simulate(e, data) == (sizing.amount_out, predicted)  # eth_call reads the prediction
    assert reason(e, calldata(opp, predicted + 1, capital, e.deployment.flash_lender), e.signer.address) == (
        "PROFIT_TOO_LOW"
    )
    held = e.balance(r.token_in, e.deployment.executor)
    lender_held = e.balance(r.token_in, e.deployment.flash_lender)
    receipt = send(e, data)

    assert receipt["status"] == 1
    event = realized(logs(receipt), e.deployment.executor, opportunity_id_bytes32(opp.id))
    assert event is not None
    assert (event.token_in, event.amount_in, event.amount_out, event.profit) == (
        r.token_in,
        sizing.amount_in,
        sizing.amount_out,
        predicted,
    )
    assert e.balance(r.token_in, e.deployment.executor) - held == predicted
    assert e.balance(r.token_in, e.deployment.flash_lender) - lender_held == fee
    # Every pool moved exactly as pulsearb's math said it would.
    after = states(e, r)
    for i, (s, s2) in enumerate(zip(before, after, strict=True)):
        token_in = r.path[i]
        if s.v3 is None:
            r_in, r_out = s.reserves_for(token_in)
            assert s2.reserves_for(token_in) == (r_in + amounts[i], r_out - amounts[i + 1])
        else:
            out, moved = s.v3.swap_exact_in(amounts[i], token_in == s.token0)
            assert out == amounts[i + 1]
            assert (s2.v3.sqrt_price_x96, s2.v3.tick, s2.v3.liquidity) == (
                moved.sqrt_price_x96,
                moved.tick,
                moved.liquidity,
            )
    print(f"\nArbExecutor {name} ({capital}): gas used {receipt['gasUsed']}")
    assert receipt["gasUsed"] < ExecutionConfig().gas_limit  # the executor's default limit covers it


@pytest.mark.parametrize("capital", CAPITALS)
def test_min_profit_revert_costs_only_gas(env: Env, capital: str) -> None:
    e = env
    r = route(e, ROUTES["v2>v3"])
    dislocate(e, r)
    before = states(e, r)
    sizing, _ = size_cycle([s.leg(t) for s, t in zip(before, r.path, strict=False)])  # type: ignore[misc]
    fee = lender_fee(e, r.token_in, sizing.amount_in) if capital == "flash_loan" else 0
    opp = opportunity(e, r, sizing.amount_in, sizing.amount_out, f"too-low/{capital}")
    data = calldata(opp, sizing.profit - fee + 1, capital, e.deployment.flash_lender)
    tokens = [t.address for t in e.deployment.tokens.values()]
    holders = [e.deployment.executor, e.deployment.flash_lender, e.signer.address, *(p.address for p in r.pools)]
    balances = {(t, h): e.balance(t, h) for t in tokens for h in holders}
    eth = e.w3.eth.get_balance(e.signer.address)

    receipt = send(e, data)

    assert receipt["status"] == 0
    assert {(t, h): e.balance(t, h) for t in tokens for h in holders} == balances  # no token moved anywhere
    assert states(e, r)[0].reserve0 == before[0].reserve0 and states(e, r)[1].v3 == before[1].v3
    assert eth - e.w3.eth.get_balance(e.signer.address) == receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert Chain(e.w3).revert_reason(_plan(e, data), e.signer.address, receipt["blockNumber"]) == "PROFIT_TOO_LOW"


def _plan(e: Env, data: bytes):
    from flows.execution.plan import Fees, TxPlan

    to = Web3.to_checksum_address(e.deployment.executor)
    return TxPlan("", "execute", e.deployment.chain_id, to, data, 0, EXEC_GAS, Fees(1, 1), 0)


@pytest.mark.parametrize("capital", CAPITALS)
def test_a_losing_cycle_reverts_with_the_reason(env: Env, capital: str) -> None:
    # No dislocation: the round trip only pays fees, so even minProfit 0 fails, with the reason, not a panic or a
    # failed repayment.
    e = env
    r = route(e, ROUTES["v2>v3>v2"])
    opp = opportunity(e, r, 10_000 * USDC_UNIT, 0, f"loss/{capital}")
    assert reason(e, calldata(opp, 0, capital, e.deployment.flash_lender), e.signer.address) == "PROFIT_TOO_LOW"


def test_a_v3_hop_stops_at_the_routes_price_limit(env: Env) -> None:
    """A V3 hop with a price limit takes only the input that brings its pool to the limit; the rest stays in the
    executor, and the profit on its balance is what pulsearb's math says for the partial fill."""
    e = env
    r = route(e, ROUTES["v3>v2"])
    dislocate(e, r)
    first, second = states(e, r)
    zero_for_one = r.path[0] == first.token0
    sizing, _ = size_cycle([s.leg(t) for s, t in zip((first, second), r.path, strict=False)])  # type: ignore[misc]
    limit = v3_swap(first.v3, zero_for_one, sizing.amount_in).state.sqrt_price_x96  # where the optimum ends
    amount_in = 2 * sizing.amount_in  # more than the limit lets through
    partial = v3_swap(first.v3, zero_for_one, amount_in, limit)
    paid = partial.amount0 if zero_for_one else partial.amount1
    middle = -(partial.amount1 if zero_for_one else partial.amount0)
    assert 0 < paid < amount_in
    back = second.leg(r.path[1]).amount_out(middle)
    profit = back - paid
    assert profit > 0
    ex = contract(e.w3, "ArbExecutor", e.deployment.executor)
    hops = [
        (Web3.to_checksum_address(first.pool), 1, zero_for_one, 0, limit),
        (Web3.to_checksum_address(second.pool), 0, r.path[1] == second.token0, second.fee_bps, 0),
    ]
    oid = b"\x07" * 32
    data = ex.encode_abi("execute", args=[oid, Web3.to_checksum_address(r.token_in), hops, amount_in, profit])
    assert simulate(e, data) == (amount_in + profit, profit)
    held = e.balance(r.token_in, e.deployment.executor)
    assert send(e, data)["status"] == 1
    assert e.balance(r.token_in, e.deployment.executor) - held == profit
    assert states(e, r)[0].v3.sqrt_price_x96 == limit == partial.state.sqrt_price_x96


def test_a_fork_fee_trades_with_the_routes_fee(env: Env) -> None:
    """A V2 fork charging 25 bps (PulsePair: the genuine pair's code has one fee) is traded with the route's fee."""
    e = env
    tx = owner_tx(e)
    usdc, weth = e.usdc, e.deployment.native_token
    factory, s = tx.deploy("PulseFactory")
    tx.wait([s])
    f = contract(e.w3, "PulseFactory", factory)
    tx.wait(
        [tx.call(f, "createPair", Web3.to_checksum_address(usdc), Web3.to_checksum_address(weth), 25, gas=3_000_000)]
    )
    fork = f.functions.getPair(Web3.to_checksum_address(usdc), Web3.to_checksum_address(weth)).call().lower()
    genuine_pair = e.pool(300)
    t0, t1 = genuine_pair.token0, genuine_pair.token1
    r0, r1 = e.trader.reserves(genuine_pair)
    tx.wait(
        [
            tx.call(contract(e.w3, "TestToken", t0), "transfer", Web3.to_checksum_address(fork), r0),
            tx.call(contract(e.w3, "TestToken", t1), "transfer", Web3.to_checksum_address(fork), r1),
            tx.call(contract(e.w3, "PulsePair", fork), "mint", e.signer.address),
        ]
    )
    forked = PairInfo(fork, 302, 25, t0, t1, genuine_pair.token0_decimals, genuine_pair.token1_decimals)
    r = Route([genuine_pair, forked], [usdc, weth, usdc])
    dislocate(e, r)
    before = states(e, r)
    assert before[1].fee_bps == 25
    sizing, _ = size_cycle([s.leg(t) for s, t in zip(before, r.path, strict=False)])  # type: ignore[misc]
    opp = opportunity(e, r, sizing.amount_in, sizing.amount_out, "fork")
    assert opp.fees_bps == (30, 25)
    data = calldata(opp, sizing.profit, "flash_swap")
    assert simulate(e, data) == (sizing.amount_out, sizing.profit)
    receipt = send(e, data)
    assert receipt["status"] == 1
    event = realized(logs(receipt), e.deployment.executor)
    assert event is not None and event.profit == sizing.profit
    # The route's fee is what the executor asks of the pair: 25 bps on the genuine pair (which charges 30) fails
    # its K check.
    wrong = opportunity(e, Route([forked, genuine_pair], [usdc, weth, usdc]), 1_000 * USDC_UNIT, 0, "wrong-fee")
    wrong = replace(wrong, fees_bps=(25, 25))
    assert reason(e, calldata(wrong, 0, "own"), e.signer.address) == "UniswapV2: K"


def test_callbacks_refuse_strangers(env: Env) -> None:
    e = env
    stranger = e.trader.address
    ex = contract(e.w3, "ArbExecutor", e.deployment.executor)
    usdc = Web3.to_checksum_address(e.usdc)
    pair = e.pool(300)
    v2 = ex.encode_abi("uniswapV2Call", args=[Web3.to_checksum_address(e.deployment.executor), 1, 0, b"\x01"])
    v3 = ex.encode_abi("uniswapV3SwapCallback", args=[1, -1, b""])
    loan = ex.encode_abi("onFlashLoan", args=[Web3.to_checksum_address(e.deployment.executor), usdc, 1, 0, b""])
    assert reason(e, v2, stranger) == "UNTRUSTED_POOL"
    assert reason(e, v3, stranger) == "UNTRUSTED_POOL"
    assert reason(e, loan, stranger) == "UNTRUSTED_LENDER"
    # Nor through a genuine pool or lender: a flash swap or a loan aimed at the executor by someone else.
    p = genuine(e.w3, "UniswapV2Pair", pair.address)
    flash = p.encode_abi("swap", args=[10**6, 0, Web3.to_checksum_address(e.deployment.executor), b"\x01"])
    assert reason(e, flash, stranger, to=pair.address) == "UNTRUSTED_POOL"
    lender = contract(e.w3, "FlashLender", e.deployment.flash_lender)
    unsolicited = lender.encode_abi(
        "flashLoan", args=[Web3.to_checksum_address(e.deployment.executor), usdc, 10**6, b""]
    )
    assert reason(e, unsolicited, stranger, to=e.deployment.flash_lender) == "UNTRUSTED_LENDER"
    # A stranger's transaction really is mined as a revert, and nothing moves.
    held = e.balance(e.usdc, e.deployment.executor)
    receipt = send(e, v3, e.trader.tx)
    assert receipt["status"] == 0 and e.balance(e.usdc, e.deployment.executor) == held


def test_only_the_owner_can_execute_or_withdraw(env: Env) -> None:
    e = env
    r = route(e, ROUTES["v2>v3"])
    opp = opportunity(e, r, 1_000 * USDC_UNIT, 0, "intruder")
    ex = contract(e.w3, "ArbExecutor", e.deployment.executor)
    stranger = e.trader.address
    calls = [
        *(calldata(opp, 0, c, e.deployment.flash_lender) for c in CAPITALS),
        ex.encode_abi("withdraw", args=[Web3.to_checksum_address(e.usdc), stranger, 1]),
        ex.encode_abi("transferOwnership", args=[stranger]),
    ]
    for data in calls:
        assert reason(e, data, stranger) == "NOT_OWNER"
    assert ex.functions.owner().call().lower() == e.signer.address.lower()


def test_rejects_malformed_routes(env: Env) -> None:
    e = env
    ex = contract(e.w3, "ArbExecutor", e.deployment.executor)
    usdc = Web3.to_checksum_address(e.usdc)
    a, b = (Web3.to_checksum_address(e.pool(v).address) for v in (300, 301))
    oid = b"\x01" * 32
    amount = 1_000 * USDC_UNIT

    def execute(hops, amount_in=amount):
        return ex.encode_abi("execute", args=[oid, usdc, hops, amount_in, 0])

    good = [(a, 0, True, 30, 0), (b, 1, False, 0, 0)]
    assert reason(e, execute(good[:1]), e.signer.address) == "BAD_PATH"
    assert reason(e, execute(good, 0), e.signer.address) == "ZERO_AMOUNT"
    assert reason(e, execute([good[0], (b, 2, False, 0, 0)]), e.signer.address) == "BAD_KIND"
    assert reason(e, execute([(a, 0, True, 10_000, 0), good[1]]), e.signer.address) == "BAD_FEE"


def test_withdraw(env: Env) -> None:
    e = env
    tx = owner_tx(e)
    ex = contract(e.w3, "ArbExecutor", e.deployment.executor)
    other = e.trader.address
    before = e.balance(e.usdc, other)
    tx.wait([tx.call(ex, "withdraw", Web3.to_checksum_address(e.usdc), other, 1_234_567)])
    assert e.balance(e.usdc, other) - before == 1_234_567
    assert e.balance(e.usdc, e.deployment.executor) == 200_000 * USDC_UNIT - 1_234_567
    too_much = ex.encode_abi("withdraw", args=[Web3.to_checksum_address(e.usdc), other, 200_000 * USDC_UNIT])
    assert reason(e, too_much, e.signer.address) == "TRANSFER_FAILED"
