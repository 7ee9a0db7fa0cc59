"""The genuine Uniswap V2 and V3 contracts on any JSON-RPC chain: npm artifacts, deployment, exact pool state.

The compiled contracts come from the npm registry, installed into ops/node by ``make setup`` (``npm ci``), never
from pulsearb's own sources:

- ``@uniswap/v2-core@1.0.1``: UniswapV2Factory, UniswapV2Pair (0.3 % fee, fixed in the pair's code);
- ``@uniswap/v3-core@1.0.1``: UniswapV3Factory, UniswapV3Pool;
- ``@uniswap/v3-periphery@1.4.4``: QuoterV2, SwapRouter.

Their creation code hashes are mainnet's (:data:`V2_PAIR_INIT_CODE_HASH`, :data:`V3_POOL_INIT_CODE_HASH`; a test
checks), so pair and pool addresses follow from factory and tokens exactly as on mainnet, and the periphery (which
computes pool addresses from that hash) works against pools deployed here.

Giving a pool an exact state:

- V2: the pair's reserves are its balances at ``mint``/``sync``, so transferring ``reserve0``/``reserve1`` and
  minting makes them exact (:func:`seed_v2_pair`).
- V3: ``initialize`` sets the price (and tick); the tick map is rebuilt as adjacent positions whose liquidity is the
  active liquidity between consecutive initialized ticks (:func:`positions_from_ticks`), so every tick's
  ``liquidityNet`` and the active liquidity equal the state's. Positions are minted with an exact liquidity by
  ``LiquidityMinter`` (contracts/src), because the periphery's position manager derives liquidity from amounts.
  ``liquidityGross``, fee growth and oracle observations differ from a recorded pool; swaps do not read them.
- Token order: a V3 price cannot be inverted exactly, so :func:`deploy_tokens` places token addresses in the order
  the caller gives (the order of the recorded pools' tokens), and every pool keeps its recorded token0/token1.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.utils.address import get_create_address

from base.errors import StackError
from base.paths import ROOT
from flows.execution.abi import Artifact
from ops.simulator.chain.tx import Sent, TxSender, contract

NPM_DIR = ROOT / "ops" / "node" / "node_modules" / "@uniswap"
GENUINE: dict[str, tuple[str, str]] = {
    # name -> (npm package@version, path of the artifact inside node_modules/@uniswap)
    "UniswapV2Factory": ("@uniswap/v2-core@1.0.1", "v2-core/build/UniswapV2Factory.json"),
    "UniswapV2Pair": ("@uniswap/v2-core@1.0.1", "v2-core/build/UniswapV2Pair.json"),
    "UniswapV3Factory": (
        "@uniswap/v3-core@1.0.1",
        "v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json",
    ),
    "UniswapV3Pool": ("@uniswap/v3-core@1.0.1", "v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json"),
    "QuoterV2": ("@uniswap/v3-periphery@1.4.4", "v3-periphery/artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json"),
    "SwapRouter": ("@uniswap/v3-periphery@1.4.4", "v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json"),
}
#: keccak256 of UniswapV2Pair's creation code (mainnet's, and UniswapV2Library's ``pairFor`` constant).
V2_PAIR_INIT_CODE_HASH = "0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"
#: keccak256 of UniswapV3Pool's creation code (mainnet's, and the periphery's ``PoolAddress.POOL_INIT_CODE_HASH``).
V3_POOL_INIT_CODE_HASH = "0xe34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"
#: Fee tiers (pips) a fresh UniswapV3Factory enables, and their tick spacings.
V3_DEFAULT_TIERS = {500: 10, 3000: 60, 10000: 200}
V3_TICK_SPACINGS = {100: 1, **V3_DEFAULT_TIERS}
V2_MINIMUM_LIQUIDITY = 1000
MINTS_PER_TX = 40  # positions per mintMany: first mints of fresh ticks cost ~250k gas each, under 30M a block
MINT_GAS = 12_000_000
FACTORY_GAS = 6_000_000
CREATE_PAIR_GAS = 3_000_000
CREATE_POOL_GAS = 6_000_000


def load_genuine(name: str, npm_dir: Path | None = None) -> Artifact:
    """The npm artifact of a genuine Uniswap contract (see :data:`GENUINE`).

    Raises:
        StackError: the package is not installed (the message says how to install it) or the file is unreadable.
    """
    if name not in GENUINE:
        msg = f"no genuine Uniswap artifact {name!r}: expected one of {', '.join(GENUINE)}"
        raise StackError(msg)
    package, rel = GENUINE[name]
    path = (npm_dir or NPM_DIR) / rel
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{package} is not installed ({path} missing): run `make setup` (or `npm ci --prefix ops/node`)"
        raise StackError(msg) from None
    except ValueError as exc:
        msg = f"{path} is not a valid artifact ({exc}): reinstall with `npm ci --prefix ops/node`"
        raise StackError(msg) from None
    evm = raw.get("evm", {})
    bytecode = raw.get("bytecode") or evm.get("bytecode", {}).get("object", "")
    deployed = raw.get("deployedBytecode") or evm.get("deployedBytecode", {}).get("object", "")
    return Artifact(
        name=name,
        abi=raw["abi"],
        bytecode=_hex(bytecode),
        deployed_bytecode=_hex(deployed),
        compiler={"npm": package},
        source_hash="",
    )


def _hex(code: str) -> str:
    return code if code.startswith("0x") else "0x" + code


def genuine(w3: Web3, name: str, address: str) -> Any:
    """A web3 contract object for genuine contract ``name`` at ``address``."""
    return w3.eth.contract(address=to_checksum_address(address), abi=load_genuine(name).abi)


def sort_tokens(a: str, b: str) -> tuple[str, str]:
    """(token0, token1): the two addresses in the order pairs and pools sort them (numerically)."""
    return (a, b) if int(a, 16) < int(b, 16) else (b, a)


def _create2(deployer: str, salt: bytes, init_code_hash: str) -> str:
    raw = keccak(b"\xff" + bytes.fromhex(deployer.removeprefix("0x")) + salt + bytes.fromhex(init_code_hash[2:]))
    return "0x" + raw[12:].hex()


def v2_pair_address(factory: str, token_a: str, token_b: str) -> str:
    """The address ``factory.createPair(a, b)`` deploys the pair at (lower-case)."""
    t0, t1 = sort_tokens(token_a.lower(), token_b.lower())
    salt = keccak(bytes.fromhex(t0[2:]) + bytes.fromhex(t1[2:]))
    return _create2(factory.lower(), salt, V2_PAIR_INIT_CODE_HASH)


def v3_pool_address(factory: str, token_a: str, token_b: str, fee: int) -> str:
    """The address ``factory.createPool(a, b, fee)`` deploys the pool at (lower-case)."""
    t0, t1 = sort_tokens(token_a.lower(), token_b.lower())
    salt = keccak(encode(["address", "address", "uint24"], [t0, t1, fee]))
    return _create2(factory.lower(), salt, V3_POOL_INIT_CODE_HASH)


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """A test token to deploy (contracts/src/TestToken.sol, minted by the deployer)."""

    symbol: str
    name: str
    decimals: int


def deploy_tokens(tx: TxSender, tokens: Sequence[TokenSpec]) -> dict[str, str]:
    """Deploy ``tokens`` so that their addresses sort in the order given; returns symbol -> address (lower-case).

    CREATE addresses follow from the deployer and its nonce, so the next ``len(tokens)`` addresses are known before
    anything is sent: the i-th token in ``tokens`` is deployed at the nonce whose address is the i-th smallest.
    """
    start = tx.next_nonce
    addresses = [get_create_address(tx.signer.address, start + i).lower() for i in range(len(tokens))]
    ranked = sorted(range(len(tokens)), key=lambda i: int(addresses[i], 16))  # nonce offsets, smallest address first
    by_offset = {offset: tokens[rank] for rank, offset in enumerate(ranked)}
    out: dict[str, str] = {}
    sent: list[Sent] = []
    for offset in range(len(tokens)):
        spec = by_offset[offset]
        address, s = tx.deploy("TestToken", spec.name, spec.symbol, spec.decimals)
        out[spec.symbol] = address.lower()
        sent.append(s)
    tx.wait(sent)
    return out


def token_order(pools: Iterable[tuple[str, str]], symbols: Sequence[str]) -> list[str]:
    """An order of ``symbols`` in which every pool's (token0, token1) keeps token0 first.

    Raises:
        StackError: the pools' orders contradict each other (a cycle), so no address order can satisfy them all.
    """
    after: dict[str, set[str]] = {s: set() for s in symbols}
    for t0, t1 in pools:
        after[t0].add(t1)
    indegree = {s: 0 for s in symbols}
    for s in symbols:
        for t in after[s]:
            indegree[t] += 1
    ready = [s for s in symbols if indegree[s] == 0]
    out: list[str] = []
    while ready:
        s = ready.pop(0)
        out.append(s)
        for t in sorted(after[s], key=symbols.index):
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    if len(out) != len(symbols):
        stuck = ", ".join(s for s in symbols if s not in out)
        msg = f"the pools' token0/token1 orders contradict each other around {stuck}: no address order fits them all"
        raise StackError(msg)
    return out


def deploy_v2_factory(tx: TxSender) -> str:
    """Deploy a genuine UniswapV2Factory (feeToSetter = the deployer); returns its address (lower-case)."""
    address, s = _deploy(tx, "UniswapV2Factory", tx.signer.address)
    tx.wait([s])
    return address


def deploy_v3_factory(tx: TxSender, extra_tiers: Mapping[int, int] | None = None) -> str:
    """Deploy a genuine UniswapV3Factory (owner = the deployer), enabling ``extra_tiers`` (fee pips -> spacing)."""
    address, s = _deploy(tx, "UniswapV3Factory")
    tx.wait([s])
    factory = genuine(tx.w3, "UniswapV3Factory", address)
    sent = [tx.call(factory, "enableFeeAmount", fee, spacing) for fee, spacing in (extra_tiers or {}).items()]
    tx.wait(sent)
    return address


def deploy_periphery(tx: TxSender, v3_factory: str, weth: str) -> tuple[str, str]:
    """Deploy the genuine QuoterV2 and SwapRouter for ``v3_factory``; returns (quoter, router) addresses."""
    quoter, s1 = _deploy(tx, "QuoterV2", to_checksum_address(v3_factory), to_checksum_address(weth))
    router, s2 = _deploy(tx, "SwapRouter", to_checksum_address(v3_factory), to_checksum_address(weth))
    tx.wait([s1, s2])
    return quoter, router


def deploy_minter(tx: TxSender) -> str:
    """Deploy LiquidityMinter (contracts/src), the exact-liquidity V3 position minter; returns its address."""
    address, s = tx.deploy("LiquidityMinter")
    tx.wait([s])
    return address.lower()


def _deploy(tx: TxSender, name: str, *args: Any) -> tuple[str, Sent]:
    address, sent = tx.deploy_artifact(load_genuine(name), *args, gas=FACTORY_GAS)
    return address.lower(), sent


def create_v2_pair(tx: TxSender, factory: str, token_a: str, token_b: str) -> tuple[str, Sent]:
    """Send ``factory.createPair(a, b)``; returns the pair's address (computed, lower-case) and the transaction."""
    f = genuine(tx.w3, "UniswapV2Factory", factory)
    sent = tx.call(f, "createPair", to_checksum_address(token_a), to_checksum_address(token_b), gas=CREATE_PAIR_GAS)
    return v2_pair_address(factory, token_a, token_b), sent


def seed_v2_pair(tx: TxSender, pair: str, token0: str, token1: str, reserve0: int, reserve1: int) -> list[Sent]:
    """Give an empty pair exactly these reserves: transfer both amounts in, then ``mint`` to the deployer.

    Raises:
        StackError: the reserves cannot be a V2 pair's (zero, above uint112, or too small for the first mint).
    """
    if not (0 < reserve0 < 2**112 and 0 < reserve1 < 2**112):
        msg = f"pair {pair}: reserves must be in (0, 2**112), got {reserve0} and {reserve1}"
        raise StackError(msg)
    if reserve0 * reserve1 <= V2_MINIMUM_LIQUIDITY**2:
        msg = f"pair {pair}: reserve0 * reserve1 must exceed 10**6 (the pair burns 1000 liquidity at the first mint)"
        raise StackError(msg)
    sent = [
        tx.call(contract(tx.w3, "TestToken", token0), "transfer", to_checksum_address(pair), reserve0),
        tx.call(contract(tx.w3, "TestToken", token1), "transfer", to_checksum_address(pair), reserve1),
    ]
    sent.append(tx.call(genuine(tx.w3, "UniswapV2Pair", pair), "mint", tx.signer.address))
    return sent


def create_v3_pool(
    tx: TxSender, factory: str, token_a: str, token_b: str, fee: int, sqrt_price_x96: int
) -> tuple[str, list[Sent]]:
    """Create and initialize a pool at ``sqrt_price_x96``; returns its address (computed) and the transactions."""
    f = genuine(tx.w3, "UniswapV3Factory", factory)
    pool = v3_pool_address(factory, token_a, token_b, fee)
    sent = [
        tx.call(f, "createPool", to_checksum_address(token_a), to_checksum_address(token_b), fee, gas=CREATE_POOL_GAS)
    ]
    sent.append(tx.call(genuine(tx.w3, "UniswapV3Pool", pool), "initialize", sqrt_price_x96, gas=200_000))
    return pool, sent


@dataclass(frozen=True, slots=True)
class Position:
    """A V3 position: liquidity over ``[tick_lower, tick_upper)``."""

    tick_lower: int
    tick_upper: int
    liquidity: int


def positions_from_ticks(ticks: Mapping[int, int]) -> list[Position]:
    """Adjacent positions whose sum has exactly the given liquidity net per initialized tick.

    Walking the ticks upward, the active liquidity between ticks ``t_i`` and ``t_(i+1)`` is the sum of the nets up
    to ``t_i``; a position of that liquidity over ``[t_i, t_(i+1))`` adds it at ``t_i`` and removes it at
    ``t_(i+1)``, so the nets of consecutive positions telescope back to the given ones.

    Raises:
        ValueError: the nets do not describe a pool: the running sum goes negative or does not end at zero.
    """
    keys = sorted(ticks)
    out: list[Position] = []
    active = 0
    for lower, upper in pairwise(keys):
        active += ticks[lower]
        if active < 0:
            msg = f"liquidity net up to tick {lower} sums to {active} < 0: not a pool's tick map"
            raise ValueError(msg)
        if active:
            out.append(Position(lower, upper, active))
    if keys and active + ticks[keys[-1]] != 0:
        msg = f"liquidity nets sum to {active + ticks[keys[-1]]}, not 0: not a pool's tick map"
        raise ValueError(msg)
    return out


def active_liquidity(ticks: Mapping[int, int], tick: int) -> int:
    """The liquidity in range at ``tick``: the nets of every initialized tick at or below it."""
    return sum(net for t, net in ticks.items() if t <= tick)


def seed_v3_pool(tx: TxSender, minter: str, pool: str, ticks: Mapping[int, int]) -> list[Sent]:
    """Mint the positions of :func:`positions_from_ticks` on ``pool`` through ``minter`` (which must hold enough of
    both tokens: mint them to it first). Positions go in batches of :data:`MINTS_PER_TX` per transaction."""
    positions = positions_from_ticks(ticks)
    m = contract(tx.w3, "LiquidityMinter", minter)
    sent = []
    for i in range(0, len(positions), MINTS_PER_TX):
        batch = positions[i : i + MINTS_PER_TX]
        sent.append(
            tx.call(
                m,
                "mintMany",
                to_checksum_address(pool),
                tx.signer.address,
                [p.tick_lower for p in batch],
                [p.tick_upper for p in batch],
                [p.liquidity for p in batch],
                gas=MINT_GAS,
            )
        )
    return sent


def read_v2_reserves(w3: Web3, pair: str, block: int | str = "latest") -> tuple[int, int]:
    """``getReserves()`` of a pair: (reserve0, reserve1)."""
    r0, r1, _ = genuine(w3, "UniswapV2Pair", pair).functions.getReserves().call(block_identifier=block)
    return int(r0), int(r1)


@dataclass(frozen=True, slots=True)
class V3Slot:
    """What a V3 pool reports of its price state."""

    sqrt_price_x96: int
    tick: int
    liquidity: int


def read_v3_slot(w3: Web3, pool: str, block: int | str = "latest") -> V3Slot:
    """``slot0()`` price and tick plus ``liquidity()`` of a pool."""
    p = genuine(w3, "UniswapV3Pool", pool)
    slot0 = p.functions.slot0().call(block_identifier=block)
    return V3Slot(int(slot0[0]), int(slot0[1]), int(p.functions.liquidity().call(block_identifier=block)))


def read_v3_tick_net(w3: Web3, pool: str, tick: int, block: int | str = "latest") -> int:
    """``ticks(tick).liquidityNet`` of a pool."""
    return int(genuine(w3, "UniswapV3Pool", pool).functions.ticks(tick).call(block_identifier=block)[1])


def quote_exact_input(w3: Web3, quoter: str, token_in: str, token_out: str, fee: int, amount_in: int) -> int:
    """QuoterV2 ``quoteExactInputSingle`` with price limit 0 (no limit): the pool's own swap, reverted."""
    q = genuine(w3, "QuoterV2", quoter)
    params = (to_checksum_address(token_in), to_checksum_address(token_out), amount_in, fee, 0)
    return int(q.functions.quoteExactInputSingle(params).call()[0])
