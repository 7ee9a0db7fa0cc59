"""Deploy the local DEX market to any JSON-RPC chain on the genuine Uniswap contracts: tokens, two V2 venues, a
V3 venue, their pools, the executor, a flash lender, the V3 Quoter and SwapRouter.

What it deploys (all from the deployer's key, so the deployer owns the executor unless ``--owner`` is given):

- WETH (18 decimals, the chain's native-token stand-in used to price gas) and USDC (6 decimals), first, so their
  addresses on a fresh chain are the ones the spec bindings' comments name;
- venue 300 (UNISWAP_V2) and venue 302 (SUSHISWAP): two genuine ``UniswapV2Factory`` instances
  (``@uniswap/v2-core@1.0.1``); both charge 30 bps, the one fee the genuine pair's code has. A fork with another fee
  (25 or 20 bps) cannot be built from it: PulsePair (contracts/src) stands in for one in the contract tests;
- a USDC/WETH pair on each V2 venue, 2,000,000 USDC + 1,000 WETH (1 WETH = 2,000 USDC; ``weth_price_usdc`` sets
  another opening price, the pool keeping 2,000,000 USDC), reserves exact (transfer + ``mint``);
- venue 301 (UNISWAP_V3): a genuine ``UniswapV3Factory`` (``@uniswap/v3-core@1.0.1``) with a USDC/WETH pool at the
  0.05 % tier (tick spacing 10), initialized at the same opening price (the exact floor square root of the V2
  pairs' reserve ratio) and seeded with exact liquidity by ``LiquidityMinter``: a full-range position whose depth
  equals the V2 pairs' (L = sqrt(reserve0 * reserve1)) plus as much again within about 20 % of the price, so a
  large swap crosses initialized ticks;
- ArbExecutor holding 200,000 USDC and 100 WETH (for ``capital: own``; flash swaps need none); FlashLender (9 bps)
  holding 1,000,000 USDC and 500 WETH (for ``capital: flash_loan``); the genuine QuoterV2 and SwapRouter
  (``@uniswap/v3-periphery@1.4.4``) of the V3 factory;
- optionally a trader account funded with tokens, to move prices (:mod:`ops.simulator.chain.market`);
- optionally (``wbtc_price_usdc``) WBTC (8 decimals), a USDC/WBTC and a WETH/WBTC pair on each V2 venue (2,000,000
  USD a side at the opening prices) and WBTC/WETH and USDC/WBTC pools at the 0.3 % tier on the V3 venue, deployed
  after everything else, so every other address is the same with or without it.

The result is a deployment file (JSON) that the chain watcher, the risk_execution flow
(``risk.execution.deployment`` / ``$PULSEARB_DEPLOYMENT``) and the detector's spec parameters are built from. It
records every pool with its kind (``v2``/``v3``), fee (bps for V2, pips for V3) and tick spacing.

    python -m ops.simulator.chain.deploy --rpc-url http://127.0.0.1:8545 --out .pulsearb/chain/deployment.json

The key is read from ``$PULSEARB_DEPLOYER_KEY``, else ``$PULSEARB_PRIVATE_KEY`` (never from the command line).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3

from base.errors import PulsearbError
from base.venues import VenueId
from flows.amm.v3.sqrt_price_math import get_amount0_delta, get_amount1_delta
from flows.amm.v3.tick_math import MAX_TICK, MIN_TICK, get_sqrt_ratio_at_tick, get_tick_at_sqrt_ratio
from flows.execution.signer import Signer
from ops.simulator.chain.tx import Sent, TxSender, contract
from ops.simulator.chain.uniswap import (
    CREATE_PAIR_GAS,
    FACTORY_GAS,
    V3_TICK_SPACINGS,
    create_v3_pool,
    load_genuine,
    positions_from_ticks,
    seed_v2_pair,
    seed_v3_pool,
    sort_tokens,
    v2_pair_address,
)

DEPLOYER_KEY_ENV = "PULSEARB_DEPLOYER_KEY"
# anvil's first two dev accounts (from its public test mnemonic): the executor's owner and a trader.
ANVIL_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
)
USDC_UNIT = 10**6
WETH_UNIT = 10**18
WBTC_UNIT = 10**8
POOL_USDC = 2_000_000  # whole USDC in every V2 pair at deployment
FLASH_FEE_BPS = 9
V2_FEE_BPS = 30  # the genuine UniswapV2Pair's fee (997/1000), the only one its code has
V2_VENUES = (int(VenueId.UNISWAP_V2), int(VenueId.SUSHISWAP))
V3_VENUE = int(VenueId.UNISWAP_V3)
V3_USDC_WETH_FEE = 500  # pips: the 0.05 % tier
V3_WBTC_FEE = 3000  # pips: the 0.3 % tier of the WBTC pools
V3_RANGE_TICKS = 2_000  # the concentrated position spans about +-20 % (1.0001**2000) around the opening price


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A deployed token."""

    symbol: str
    address: str
    decimals: int


@dataclass(frozen=True, slots=True)
class PairInfo:
    """A deployed pool (addresses lower-case; tokens in pool order, token0 the numerically smaller address).

    Attributes:
        address: pair or pool address.
        venue: VenueId.
        fee_bps: the swap fee in bps (a V3 pool's fee in pips / 100, for display).
        token0: token0 address.
        token1: token1 address.
        token0_decimals: decimals of token0.
        token1_decimals: decimals of token1.
        kind: ``v2`` (constant product) or ``v3`` (concentrated liquidity).
        fee_pips: a V3 pool's fee in pips (0 for V2).
        tick_spacing: a V3 pool's tick spacing (0 for V2).
    """

    address: str
    venue: int
    fee_bps: int
    token0: str
    token1: str
    token0_decimals: int
    token1_decimals: int
    kind: str = "v2"
    fee_pips: int = 0
    tick_spacing: int = 0

    @property
    def fee(self) -> int:
        """The fee in the pool's own unit: bps for V2, pips for V3."""
        return self.fee_pips if self.kind == "v3" else self.fee_bps

    @property
    def tokens(self) -> tuple[str, str]:
        """``(token0, token1)``."""
        return self.token0, self.token1


PoolInfo = PairInfo
"""Any deployed pool, V2 or V3 (one record type: ``kind`` tells them apart)."""


@dataclass(frozen=True, slots=True)
class Deployment:
    """Everything deployed, as written to the deployment file.

    Attributes:
        pairs: the V2 pairs (what the chain watcher follows through their Sync logs).
        v3_pools: the V3 pools.
        factories: venue -> factory (UniswapV2Factory for 300 and 302, UniswapV3Factory for 301).
        quoter: the genuine QuoterV2 of the V3 factory ("" when not deployed).
        swap_router: the genuine SwapRouter of the V3 factory ("" when not deployed).
    """

    chain_id: int
    deployer: str
    executor: str
    flash_lender: str
    flash_fee_bps: int
    native_token: str
    tokens: dict[str, TokenInfo]
    factories: dict[int, str]
    pairs: list[PairInfo] = field(default_factory=list)
    v3_pools: list[PairInfo] = field(default_factory=list)
    quoter: str = ""
    swap_router: str = ""

    @property
    def pools(self) -> list[PairInfo]:
        """Every pool, V2 pairs first."""
        return [*self.pairs, *self.v3_pools]

    def to_json(self) -> dict[str, Any]:
        """JSON form (venue ids as strings, as JSON keys must be)."""
        data = asdict(self)
        data["factories"] = {str(k): v for k, v in self.factories.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        """Inverse of :meth:`to_json` (a file written before V3 pools existed reads with none)."""
        return cls(
            chain_id=int(data["chain_id"]),
            deployer=data["deployer"],
            executor=data["executor"],
            flash_lender=data["flash_lender"],
            flash_fee_bps=int(data["flash_fee_bps"]),
            native_token=data["native_token"],
            tokens={k: TokenInfo(**v) for k, v in data["tokens"].items()},
            factories={int(k): v for k, v in data["factories"].items()},
            pairs=[PairInfo(**p) for p in data["pairs"]],
            v3_pools=[PairInfo(**p) for p in data.get("v3_pools", [])],
            quoter=data.get("quoter", ""),
            swap_router=data.get("swap_router", ""),
        )

    def write(self, path: Path) -> None:
        """Write the deployment file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> Deployment:
        """Read a deployment file."""
        return cls.from_json(json.loads(Path(path).read_text()))

    def pair(self, venue: int, a: str = "USDC", b: str = "WETH") -> PairInfo:
        """The pool of tokens ``a`` and ``b`` (symbols; USDC/WETH by default) on a venue."""
        want = {self.tokens[a].address, self.tokens[b].address}
        return next(p for p in self.pools if p.venue == venue and {p.token0, p.token1} == want)


def sqrt_price_x96(reserve0: int, reserve1: int) -> int:
    """The V3 price equal to a V2 pair's: ``floor(sqrt(reserve1 / reserve0) * 2**96)``, exactly."""
    return math.isqrt(reserve1 * 2**192 // reserve0)


def v3_liquidity_nets(sqrt_price: int, liquidity: int, spacing: int) -> dict[int, int]:
    """The tick map (tick -> liquidity net) the local V3 pools are seeded with: ``liquidity`` over the full usable
    range plus ``liquidity`` over about +-:data:`V3_RANGE_TICKS` around the price (ticks on the spacing)."""
    lowest = -(-MIN_TICK // spacing) * spacing
    highest = MAX_TICK // spacing * spacing
    tick = get_tick_at_sqrt_ratio(sqrt_price)
    lower = max(lowest + spacing, (tick - V3_RANGE_TICKS) // spacing * spacing)
    upper = min(highest - spacing, -(-(tick + V3_RANGE_TICKS) // spacing) * spacing)
    return {lowest: liquidity, lower: liquidity, upper: -liquidity, highest: -liquidity}


def mint_amounts(sqrt_price: int, nets: dict[int, int]) -> tuple[int, int]:
    """Raw token0 and token1 that minting the positions of ``nets`` at ``sqrt_price`` takes, rounded up per
    position as ``UniswapV3Pool._modifyPosition`` does (a position below the tick takes token0 only, above it
    token1 only)."""
    tick = get_tick_at_sqrt_ratio(sqrt_price)
    amount0 = amount1 = 0
    for p in positions_from_ticks(nets):
        lower, upper = get_sqrt_ratio_at_tick(p.tick_lower), get_sqrt_ratio_at_tick(p.tick_upper)
        if tick < p.tick_lower:
            amount0 += get_amount0_delta(lower, upper, p.liquidity, True)
        elif tick < p.tick_upper:
            amount0 += get_amount0_delta(sqrt_price, upper, p.liquidity, True)
            amount1 += get_amount1_delta(lower, sqrt_price, p.liquidity, True)
        else:
            amount1 += get_amount1_delta(lower, upper, p.liquidity, True)
    return amount0, amount1


@dataclass(slots=True)
class _Market:
    """What the steps of :func:`deploy` share."""

    tx: TxSender
    decimals: dict[str, int]
    factories: dict[int, str]
    minter: str
    pairs: list[PairInfo] = field(default_factory=list)
    v3_pools: list[PairInfo] = field(default_factory=list)

    def token(self, address: str) -> Any:
        return contract(self.tx.w3, "TestToken", address)

    def info(self, address: str, venue: int, tokens: tuple[str, str], **v3: int) -> PairInfo:
        t0, t1 = tokens
        kind = "v3" if v3 else "v2"
        fee_bps = v3["fee_pips"] // 100 if v3 else V2_FEE_BPS
        return PairInfo(address, venue, fee_bps, t0, t1, self.decimals[t0], self.decimals[t1], kind, **v3)

    def create_pairs(self, couples: Sequence[tuple[str, str]]) -> list[Sent]:
        """``createPair`` of every couple on every V2 venue (sent, not waited for)."""
        sent = []
        for venue in V2_VENUES:
            f = self.tx.w3.eth.contract(
                address=Web3.to_checksum_address(self.factories[venue]), abi=load_genuine("UniswapV2Factory").abi
            )
            for a, b in couples:
                sent.append(self.tx.call(f, "createPair", _cs(a), _cs(b), gas=CREATE_PAIR_GAS))
        return sent

    def seed_pairs(self, amounts: Sequence[tuple[str, int, str, int]]) -> list[Sent]:
        """Give the pair of each ``(token a, raw a, token b, raw b)`` on every V2 venue exactly those reserves."""
        sent = []
        for venue in V2_VENUES:
            for a, amount_a, b, amount_b in amounts:
                pair = v2_pair_address(self.factories[venue], a, b)
                t0, t1 = sort_tokens(a, b)
                r0, r1 = (amount_a, amount_b) if t0 == a else (amount_b, amount_a)
                sent += seed_v2_pair(self.tx, pair, t0, t1, r0, r1)
                self.pairs.append(self.info(pair, venue, (t0, t1)))
        return sent

    def v3_pool(self, a: str, amount_a: int, b: str, amount_b: int, fee: int) -> list[Sent]:
        """Create, initialize and seed the V3 pool of ``a``/``b`` at the price ``amount_b / amount_a`` with the
        depth of a V2 pair holding those amounts (see :func:`v3_liquidity_nets`); the minter is paid exactly."""
        t0, t1 = sort_tokens(a, b)
        r0, r1 = (amount_a, amount_b) if t0 == a else (amount_b, amount_a)
        price = sqrt_price_x96(r0, r1)
        spacing = V3_TICK_SPACINGS[fee]
        nets = v3_liquidity_nets(price, math.isqrt(r0 * r1), spacing)
        need0, need1 = mint_amounts(price, nets)
        sent = [
            self.tx.call(self.token(t0), "transfer", _cs(self.minter), need0),
            self.tx.call(self.token(t1), "transfer", _cs(self.minter), need1),
        ]
        pool, more = create_v3_pool(self.tx, self.factories[V3_VENUE], t0, t1, fee, price)
        sent += more
        self.tx.wait(sent)
        sent = seed_v3_pool(self.tx, self.minter, pool, nets)
        self.v3_pools.append(self.info(pool, V3_VENUE, (t0, t1), fee_pips=fee, tick_spacing=spacing))
        return sent


def _cs(address: str) -> str:
    return Web3.to_checksum_address(address)


def deploy(
    w3: Web3,
    signer: Signer,
    *,
    trader: str = "",
    owner: str = "",
    weth_price_usdc: int = 2_000,
    wbtc_price_usdc: int | None = None,
) -> Deployment:
    """Deploy the market (see the module doc) and return what was deployed.

    Args:
        w3: a connected Web3.
        signer: the deployer.
        trader: an address to fund with 1,000,000 USDC and 500 WETH (and 10 ETH of gas money) for price moves
            (and 50 WBTC when WBTC is deployed).
        owner: transfer the executor's ownership to this address ("" keeps the deployer).
        weth_price_usdc: opening price of the USDC/WETH pools, whole USDC per WETH.
        wbtc_price_usdc: also deploy WBTC and its pools opening at this price, whole USDC per WBTC.

    Raises:
        StackError: a deployment transaction reverted.
    """
    tx = TxSender(w3, signer)
    sent: list[Sent] = []
    weth, s = tx.deploy("TestToken", "Wrapped Ether", "WETH", 18)
    sent.append(s)
    usdc, s = tx.deploy("TestToken", "USD Coin", "USDC", 6)
    sent.append(s)
    factories: dict[int, str] = {}
    for venue in V2_VENUES:
        factory, s = tx.deploy_artifact(load_genuine("UniswapV2Factory"), signer.address, gas=FACTORY_GAS)
        factories[venue] = factory.lower()
        sent.append(s)
    executor, s = tx.deploy("ArbExecutor")
    sent.append(s)
    lender, s = tx.deploy("FlashLender", FLASH_FEE_BPS)
    sent.append(s)
    v3_factory, s = tx.deploy_artifact(load_genuine("UniswapV3Factory"), gas=FACTORY_GAS)
    factories[V3_VENUE] = v3_factory.lower()
    sent.append(s)
    minter, s = tx.deploy("LiquidityMinter")
    sent.append(s)
    tx.wait(sent)
    quoter, s1 = tx.deploy_artifact(load_genuine("QuoterV2"), _cs(v3_factory), _cs(weth), gas=FACTORY_GAS)
    router, s2 = tx.deploy_artifact(load_genuine("SwapRouter"), _cs(v3_factory), _cs(weth), gas=FACTORY_GAS)
    weth, usdc = weth.lower(), usdc.lower()
    m = _Market(tx, {usdc: 6, weth: 18}, factories, minter.lower())
    sent = [
        s1,
        s2,
        tx.call(m.token(weth), "mint", signer.address, 100_000 * WETH_UNIT),
        tx.call(m.token(usdc), "mint", signer.address, 100_000_000 * USDC_UNIT),
        *m.create_pairs([(usdc, weth)]),
    ]
    for token, amount in ((usdc, 200_000 * USDC_UNIT), (weth, 100 * WETH_UNIT)):
        sent.append(tx.call(m.token(token), "transfer", executor, amount))
    for token, amount in ((usdc, 1_000_000 * USDC_UNIT), (weth, 500 * WETH_UNIT)):
        sent.append(tx.call(m.token(token), "transfer", lender, amount))
    if trader:
        for token, amount in ((usdc, 1_000_000 * USDC_UNIT), (weth, 500 * WETH_UNIT)):
            sent.append(tx.call(m.token(token), "transfer", trader, amount))
        sent.append(tx.send(trader, b"", "fund trader", gas=21_000, value=10 * 10**18))
    if owner:
        sent.append(tx.call(contract(w3, "ArbExecutor", executor), "transferOwnership", _cs(owner)))
    tx.wait(sent)

    weth_amount = POOL_USDC * WETH_UNIT // weth_price_usdc
    usdc_amount = POOL_USDC * USDC_UNIT
    sent = m.seed_pairs([(usdc, usdc_amount, weth, weth_amount)])
    sent += m.v3_pool(usdc, usdc_amount, weth, weth_amount, V3_USDC_WETH_FEE)
    tx.wait(sent)
    tokens = {"WETH": TokenInfo("WETH", weth, 18), "USDC": TokenInfo("USDC", usdc, 6)}
    if wbtc_price_usdc:
        tokens["WBTC"] = _deploy_wbtc(m, (usdc, weth), (usdc_amount, weth_amount), wbtc_price_usdc, trader)
    return Deployment(
        chain_id=tx.chain_id,
        deployer=signer.address,
        executor=executor.lower(),
        flash_lender=lender.lower(),
        flash_fee_bps=FLASH_FEE_BPS,
        native_token=weth,
        tokens=tokens,
        factories=factories,
        pairs=m.pairs,
        v3_pools=m.v3_pools,
        quoter=quoter.lower(),
        swap_router=router.lower(),
    )


def _deploy_wbtc(
    m: _Market, usdc_weth: tuple[str, str], amounts: tuple[int, int], wbtc_price_usdc: int, trader: str
) -> TokenInfo:
    """Deploy WBTC; per V2 venue, funded USDC/WBTC and WETH/WBTC pairs (2,000,000 USD a side at the opening
    prices); on the V3 venue, WBTC/WETH and USDC/WBTC pools at the 0.3 % tier with the same depth.

    Sent after everything else, so every other address is the same with or without WBTC.

    Args:
        m: the market so far.
        usdc_weth: the USDC and WETH addresses.
        amounts: raw USDC and WETH worth :data:`POOL_USDC` each.
        wbtc_price_usdc: whole USDC per WBTC.
        trader: address to fund with 50 WBTC ("" for none).
    """
    tx = m.tx
    usdc, weth = usdc_weth
    usdc_amount, weth_amount = amounts
    wbtc_amount = POOL_USDC * WBTC_UNIT // wbtc_price_usdc
    address, s = tx.deploy("TestToken", "Wrapped BTC", "WBTC", 8)
    tx.wait([s])
    wbtc = address.lower()
    m.decimals[wbtc] = 8
    sent = [tx.call(m.token(wbtc), "mint", tx.signer.address, 1_000 * WBTC_UNIT)]
    sent += m.create_pairs([(usdc, wbtc), (weth, wbtc)])
    if trader:
        sent.append(tx.call(m.token(wbtc), "transfer", trader, 50 * WBTC_UNIT))
    tx.wait(sent)
    sent = m.seed_pairs([(usdc, usdc_amount, wbtc, wbtc_amount), (weth, weth_amount, wbtc, wbtc_amount)])
    sent += m.v3_pool(wbtc, wbtc_amount, weth, weth_amount, V3_WBTC_FEE)
    sent += m.v3_pool(usdc, usdc_amount, wbtc, wbtc_amount, V3_WBTC_FEE)
    tx.wait(sent)
    return TokenInfo("WBTC", wbtc, 8)


def main(argv: list[str] | None = None) -> int:
    """Command line: deploy and write the deployment file."""
    p = argparse.ArgumentParser(prog="python -m ops.simulator.chain.deploy", description=__doc__.split("\n\n")[0])
    p.add_argument("--rpc-url", required=True)
    p.add_argument("--out", required=True, type=Path, help="deployment file to write (JSON)")
    p.add_argument("--trader", default="", help="address to fund for moving prices")
    p.add_argument("--owner", default="", help="transfer the executor to this address")
    args = p.parse_args(argv)
    try:
        key_env = DEPLOYER_KEY_ENV if os.environ.get(DEPLOYER_KEY_ENV) else "PULSEARB_PRIVATE_KEY"
        signer = Signer.from_key(os.environ.get(key_env, ""), source=key_env)
        w3 = Web3(Web3.HTTPProvider(args.rpc_url, request_kwargs={"timeout": 10}))
        if not w3.is_connected():
            print(f"deploy: error: no JSON-RPC node answers at {args.rpc_url}", file=sys.stderr)
            return 2
        deployment = deploy(w3, signer, trader=args.trader, owner=args.owner)
    except PulsearbError as exc:
        print(f"deploy: error: {exc}", file=sys.stderr)
        return 2
    deployment.write(args.out)
    print(json.dumps({"deployment": str(args.out), "executor": deployment.executor, "chain_id": deployment.chain_id}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
