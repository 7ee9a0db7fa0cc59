"""PulseFactory registry and pair addresses; the pair's LP side (mint, burn, skim, sync, oracle); TestToken."""

from __future__ import annotations

import math

from eth_abi import encode
from eth_tester.exceptions import TransactionFailed
from web3 import Web3

from flows.execution.abi import load_artifact

from .conftest import DEPLOY_GAS, USDC_UNIT, WETH_UNIT, Chain

MINIMUM_LIQUIDITY = 1000


def test_create_pair_sorts_registers_and_uses_create2(chain: Chain) -> None:
    token = load_artifact("TestToken")
    deploy = chain.w3.eth.contract(abi=token.abi, bytecode=token.bytecode).constructor("Wrapped BTC", "WBTC", 8)
    receipt = chain.w3.eth.get_transaction_receipt(deploy.transact({"from": chain.owner, "gas": DEPLOY_GAS}))
    wbtc = receipt["contractAddress"]
    factory = chain.factory_b
    count = factory.functions.allPairsLength().call()

    receipt = chain.transact(factory.functions.createPair(wbtc, chain.usdc.address, 5), gas=DEPLOY_GAS)

    token0, token1 = sorted([wbtc, chain.usdc.address], key=lambda a: int(a, 16))
    pair_address = factory.functions.getPair(wbtc, chain.usdc.address).call()
    assert factory.functions.getPair(chain.usdc.address, wbtc).call() == pair_address
    assert factory.functions.allPairsLength().call() == count + 1
    assert factory.functions.allPairs(count).call() == pair_address
    assert chain.events(factory, "PairCreated", receipt) == [
        {"token0": token0, "token1": token1, "pair": pair_address, "allPairsLength": count + 1}
    ]
    pair = chain.contract_at("PulsePair", pair_address)
    assert pair.functions.token0().call() == token0
    assert pair.functions.token1().call() == token1
    assert pair.functions.feeBps().call() == 5
    assert pair.functions.factory().call() == factory.address
    assert pair.functions.getReserves().call() == [0, 0, 0]

    # CREATE2: anyone can derive the address from the factory, the sorted tokens and pairCodeHash().
    code_hash = factory.functions.pairCodeHash().call()
    assert code_hash == bytes(Web3.keccak(hexstr=load_artifact("PulsePair").bytecode))
    salt = Web3.solidity_keccak(["address", "address"], [token0, token1])
    derived = Web3.keccak(b"\xff" + bytes.fromhex(factory.address[2:]) + salt + code_hash)[12:]
    assert Web3.to_checksum_address(derived) == pair_address


def test_create_pair_rejections(chain: Chain) -> None:
    create = chain.factory_a.functions.createPair
    usdc, weth = chain.usdc.address, chain.weth.address
    zero = "0x" + "00" * 20
    assert chain.revert_reason(create(usdc, weth, 30)) == "PulseFactory: PAIR_EXISTS"
    assert chain.revert_reason(create(weth, usdc, 30)) == "PulseFactory: PAIR_EXISTS"
    assert chain.revert_reason(create(usdc, usdc, 30)) == "PulseFactory: IDENTICAL_ADDRESSES"
    assert chain.revert_reason(create(usdc, zero, 30)) == "PulseFactory: ZERO_ADDRESS"
    assert chain.revert_reason(create(usdc, chain.other, 30)) == "PulseFactory: NOT_A_CONTRACT"
    fresh = chain.factory_b.functions.createPair(usdc, chain.dai.address, 1_001)
    assert chain.revert_reason(fresh) == "PulseFactory: FEE_TOO_HIGH"


def test_first_mint_then_proportional_mint_then_burn(chain: Chain) -> None:
    chain.transact(chain.factory_b.functions.createPair(chain.usdc.address, chain.dai.address, 25), gas=DEPLOY_GAS)
    pair = chain.contract_at(
        "PulsePair", chain.factory_b.functions.getPair(chain.usdc.address, chain.dai.address).call()
    )
    usdc_is_0 = pair.functions.token0().call() == chain.usdc.address

    def deposit(usdc: int, dai: int) -> None:
        chain.transact(chain.usdc.functions.transfer(pair.address, usdc))
        chain.transact(chain.dai.functions.transfer(pair.address, dai))

    def ordered(usdc: int, dai: int) -> tuple[int, int]:
        return (usdc, dai) if usdc_is_0 else (dai, usdc)

    deposit(1_000 * USDC_UNIT, 1_000 * 10**18)
    receipt = chain.transact(pair.functions.mint(chain.other))
    first = math.isqrt(1_000 * USDC_UNIT * 1_000 * 10**18) - MINIMUM_LIQUIDITY
    assert pair.functions.balanceOf(chain.other).call() == first
    assert pair.functions.balanceOf("0x" + "00" * 20).call() == MINIMUM_LIQUIDITY
    amount0, amount1 = ordered(1_000 * USDC_UNIT, 1_000 * 10**18)
    assert chain.events(pair, "Mint", receipt) == [{"sender": chain.owner, "amount0": amount0, "amount1": amount1}]

    # Unbalanced deposit: LP minted by the scarcer side, the excess stays in the pool.
    supply = first + MINIMUM_LIQUIDITY
    deposit(500 * USDC_UNIT, 600 * 10**18)
    chain.transact(pair.functions.mint(chain.owner))
    second = min(500 * USDC_UNIT * supply // (1_000 * USDC_UNIT), 600 * 10**18 * supply // (1_000 * 10**18))
    assert pair.functions.balanceOf(chain.owner).call() == second
    assert pair.functions.totalSupply().call() == supply + second

    # Burn the second position: pro-rata of the balances, floored.
    supply += second
    balance_usdc, balance_dai = 1_500 * USDC_UNIT, 1_600 * 10**18
    chain.transact(pair.functions.transfer(pair.address, second))
    receipt = chain.transact(pair.functions.burn(chain.owner))
    out_usdc, out_dai = second * balance_usdc // supply, second * balance_dai // supply
    burned0, burned1 = ordered(out_usdc, out_dai)
    assert chain.events(pair, "Burn", receipt) == [
        {"sender": chain.owner, "amount0": burned0, "amount1": burned1, "to": chain.owner}
    ]
    assert pair.functions.totalSupply().call() == supply - second
    assert tuple(pair.functions.getReserves().call()[:2]) == ordered(balance_usdc - out_usdc, balance_dai - out_dai)


def test_skim_and_sync(chain: Chain) -> None:
    pair = chain.a_usdc_weth
    reserves = pair.functions.getReserves().call()[:2]
    usdc_is_0 = pair.functions.token0().call() == chain.usdc.address
    chain.transact(chain.usdc.functions.transfer(pair.address, 777))

    before = chain.balance(chain.usdc, chain.other)
    chain.transact(pair.functions.skim(chain.other))
    assert chain.balance(chain.usdc, chain.other) - before == 777
    assert pair.functions.getReserves().call()[:2] == reserves

    chain.transact(chain.weth.functions.transfer(pair.address, 5))
    receipt = chain.transact(pair.functions.sync())
    expected = (reserves[0], reserves[1] + 5) if usdc_is_0 else (reserves[0] + 5, reserves[1])
    assert chain.events(pair, "Sync", receipt) == [{"reserve0": expected[0], "reserve1": expected[1]}]


def test_price_accumulators_follow_uniswap_v2(chain: Chain) -> None:
    pair = chain.a_usdc_weth
    r0, r1, t0 = pair.functions.getReserves().call()
    p0, p1 = pair.functions.price0CumulativeLast().call(), pair.functions.price1CumulativeLast().call()
    receipt = chain.transact(pair.functions.sync())
    t1 = chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] % 2**32
    elapsed = t1 - t0
    assert elapsed > 0
    assert pair.functions.price0CumulativeLast().call() == p0 + (r1 << 112) // r0 * elapsed
    assert pair.functions.price1CumulativeLast().call() == p1 + (r0 << 112) // r1 * elapsed
    assert pair.functions.getReserves().call() == [r0, r1, t1]


def test_test_token(chain: Chain) -> None:
    assert chain.usdc.functions.decimals().call() == 6
    assert chain.weth.functions.decimals().call() == 18
    assert (chain.usdc.functions.name().call(), chain.usdc.functions.symbol().call()) == ("USD Coin", "USDC")
    mint = chain.usdc.functions.mint(chain.other, 1)
    assert chain.revert_reason(mint, sender=chain.other) == "TestToken: NOT_OWNER"

    chain.transact(chain.usdc.functions.approve(chain.other, 10 * USDC_UNIT))
    pull = chain.usdc.functions.transferFrom(chain.owner, chain.other, 10 * USDC_UNIT + 1)
    assert chain.revert_reason(pull, sender=chain.other) == "TestToken: INSUFFICIENT_ALLOWANCE"
    chain.transact(chain.usdc.functions.transferFrom(chain.owner, chain.other, 4 * USDC_UNIT), sender=chain.other)
    assert chain.usdc.functions.allowance(chain.owner, chain.other).call() == 6 * USDC_UNIT
    assert chain.balance(chain.usdc, chain.other) == 4 * USDC_UNIT
    overdraw = chain.weth.functions.transfer(chain.owner, WETH_UNIT)
    assert chain.revert_reason(overdraw, sender=chain.other) == "TestToken: INSUFFICIENT_BALANCE"


def test_constructor_guards(chain: Chain) -> None:
    lender = load_artifact("FlashLender")
    data = lender.bytecode + encode(["uint256"], [10_000]).hex()
    try:
        chain.w3.eth.call({"from": chain.owner, "data": data, "gas": DEPLOY_GAS})
    except TransactionFailed as exc:
        assert str(exc) == "execution reverted: FlashLender: FEE_TOO_HIGH"
    else:
        raise AssertionError("FlashLender accepted a 100 % fee")


# topic0 of Uniswap V2's pair and factory events on mainnet (e.g. in fixtures/ethereum logs).
UNISWAP_V2_TOPICS = {
    ("PulsePair", "Swap"): "d78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822",
    ("PulsePair", "Sync"): "1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1",
    ("PulsePair", "Mint"): "4c209b5fc8ad50758f13e2e1088ba56a560dff690a1c6fef26394f4c03821c4f",
    ("PulsePair", "Burn"): "dccd412f0b1252819cb1fd330b93224ca42612892bb3f4f789976e6d81936496",
    ("PulseFactory", "PairCreated"): "0d3648bd0f6ba80134a33ba9275ac585d9d315f0ad8355cddefde31afa28d0e9",
}


def test_events_have_uniswap_v2_topics(chain: Chain) -> None:
    for (contract, event), topic in UNISWAP_V2_TOPICS.items():
        [abi] = [e for e in load_artifact(contract).abi if e["type"] == "event" and e["name"] == event]
        signature = f"{event}({','.join(i['type'] for i in abi['inputs'])})"
        assert Web3.keccak(text=signature).hex() == topic, signature
    receipt = chain.transact(chain.a_usdc_weth.functions.sync())
    assert receipt["logs"][0]["topics"][0].hex() == UNISWAP_V2_TOPICS[("PulsePair", "Sync")]
