"""Deploy the local DEX market to any JSON-RPC chain: tokens, two venues, their pairs, the executor, a flash lender.

What it deploys (all from the deployer's key, so the deployer owns the executor unless ``--owner`` is given):

- WETH (18 decimals, the chain's native-token stand-in used to price gas) and USDC (6 decimals);
- venue 300 (UNISWAP_V2): a PulseFactory whose pairs charge 30 bps; venue 302 (SUSHISWAP): 25 bps;
- a USDC/WETH pair on each venue, 2,000,000 USDC + 1,000 WETH (1 WETH = 2,000 USDC; ``weth_price_usdc`` sets
  another opening price, the pool keeping 2,000,000 USDC);
- ArbExecutor holding 200,000 USDC and 100 WETH; FlashLender (9 bps) holding 1,000,000 USDC and 500 WETH;
- optionally a trader account funded with tokens, to move prices (:mod:`ops.chain.market`);
- optionally (``wbtc_price_usdc``) WBTC (8 decimals) and a USDC/WBTC and a WETH/WBTC pair on each venue
  (2,000,000 USD a side at the opening prices), deployed after everything else, so every other address is the
  same with or without it.

The result is a deployment file (JSON) that the chain watcher, the risk_execution flow
(``risk.execution.deployment`` / ``$PULSEARB_DEPLOYMENT``) and the detector's spec parameters are built from.

    python -m ops.chain.deploy --rpc-url http://127.0.0.1:8545 --out .pulsearb/chain/deployment.json

The key is read from ``$PULSEARB_DEPLOYER_KEY``, else ``$PULSEARB_PRIVATE_KEY`` (never from the command line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3

from flows.errors import PulsearbError
from flows.execution.signer import Signer
from flows.relay.protocol import VenueId
from ops.chain.tx import Sent, TxSender, contract

DEPLOYER_KEY_ENV = "PULSEARB_DEPLOYER_KEY"
# anvil's first two dev accounts (from its public test mnemonic): the executor's owner and a trader.
ANVIL_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
)
USDC_UNIT = 10**6
WETH_UNIT = 10**18
WBTC_UNIT = 10**8
POOL_USDC = 2_000_000  # whole USDC in every pair at deployment
FLASH_FEE_BPS = 9
VENUES = ((int(VenueId.UNISWAP_V2), 30), (int(VenueId.SUSHISWAP), 25))


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A deployed token."""

    symbol: str
    address: str
    decimals: int


@dataclass(frozen=True, slots=True)
class PairInfo:
    """A deployed pair (addresses lower-case; tokens in pair order)."""

    address: str
    venue: int
    fee_bps: int
    token0: str
    token1: str
    token0_decimals: int
    token1_decimals: int


@dataclass(frozen=True, slots=True)
class Deployment:
    """Everything deployed, as written to the deployment file."""

    chain_id: int
    deployer: str
    executor: str
    flash_lender: str
    flash_fee_bps: int
    native_token: str
    tokens: dict[str, TokenInfo]
    factories: dict[int, str]
    pairs: list[PairInfo] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON form (venue ids as strings, as JSON keys must be)."""
        data = asdict(self)
        data["factories"] = {str(k): v for k, v in self.factories.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        """Inverse of :meth:`to_json`."""
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
        )

    def write(self, path: Path) -> None:
        """Write the deployment file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> Deployment:
        """Read a deployment file."""
        return cls.from_json(json.loads(Path(path).read_text()))

    def pair(self, venue: int) -> PairInfo:
        """The USDC/WETH pair of a venue."""
        return next(p for p in self.pairs if p.venue == venue)


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
        weth_price_usdc: opening price of the USDC/WETH pairs, whole USDC per WETH.
        wbtc_price_usdc: also deploy WBTC and USDC/WBTC pairs opening at this price, whole USDC per WBTC.

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
    for venue, _fee in VENUES:
        factories[venue], s = tx.deploy("PulseFactory")
        sent.append(s)
    executor, s = tx.deploy("ArbExecutor")
    sent.append(s)
    lender, s = tx.deploy("FlashLender", FLASH_FEE_BPS)
    sent.append(s)
    tx.wait(sent)

    t_weth, t_usdc = contract(w3, "TestToken", weth), contract(w3, "TestToken", usdc)
    sent = [
        tx.call(t_weth, "mint", signer.address, 10_000 * WETH_UNIT),
        tx.call(t_usdc, "mint", signer.address, 20_000_000 * USDC_UNIT),
    ]
    for venue, fee in VENUES:
        sent.append(
            tx.call(contract(w3, "PulseFactory", factories[venue]), "createPair", usdc, weth, fee, gas=3_000_000)
        )
    for token, amount in ((t_usdc, 200_000 * USDC_UNIT), (t_weth, 100 * WETH_UNIT)):
        sent.append(tx.call(token, "transfer", executor, amount))
    for token, amount in ((t_usdc, 1_000_000 * USDC_UNIT), (t_weth, 500 * WETH_UNIT)):
        sent.append(tx.call(token, "transfer", lender, amount))
    if trader:
        for token, amount in ((t_usdc, 1_000_000 * USDC_UNIT), (t_weth, 500 * WETH_UNIT)):
            sent.append(tx.call(token, "transfer", trader, amount))
        sent.append(tx.send(trader, b"", "fund trader", gas=21_000, value=10 * 10**18))
    tx.wait(sent)

    decimals = {usdc.lower(): 6, weth.lower(): 18}
    weth_amount = POOL_USDC * WETH_UNIT // weth_price_usdc
    pairs: list[PairInfo] = []
    sent = []
    for venue, fee in VENUES:
        pair, s = _fund_pair(tx, factories[venue], (t_usdc, POOL_USDC * USDC_UNIT), (t_weth, weth_amount))
        sent += s
        pairs.append(_pair_info(pair, venue, fee, decimals))
    if owner:
        sent.append(
            tx.call(contract(w3, "ArbExecutor", executor), "transferOwnership", Web3.to_checksum_address(owner))
        )
    tx.wait(sent)
    tokens = {"WETH": TokenInfo("WETH", weth.lower(), 18), "USDC": TokenInfo("USDC", usdc.lower(), 6)}
    if wbtc_price_usdc:
        wbtc_amount = POOL_USDC * WBTC_UNIT // wbtc_price_usdc
        tokens["WBTC"], more = _deploy_wbtc(tx, factories, (t_usdc, t_weth), (weth_amount, wbtc_amount), trader)
        pairs += more
    return Deployment(
        chain_id=tx.chain_id,
        deployer=signer.address,
        executor=executor.lower(),
        flash_lender=lender.lower(),
        flash_fee_bps=FLASH_FEE_BPS,
        native_token=weth.lower(),
        tokens=tokens,
        factories={v: a.lower() for v, a in factories.items()},
        pairs=pairs,
    )


def _fund_pair(tx: TxSender, factory: str, a: tuple[Any, int], b: tuple[Any, int]) -> tuple[Any, list[Sent]]:
    """Seed the factory's pair of tokens ``a`` and ``b`` with (token contract, raw amount) each."""
    address = contract(tx.w3, "PulseFactory", factory).functions.getPair(a[0].address, b[0].address).call()
    pair = contract(tx.w3, "PulsePair", address)
    sent = [tx.call(token, "transfer", address, amount) for token, amount in (a, b)]
    sent.append(tx.call(pair, "mint", tx.signer.address))
    return pair, sent


def _pair_info(pair: Any, venue: int, fee: int, decimals: dict[str, int]) -> PairInfo:
    token0 = pair.functions.token0().call().lower()
    token1 = pair.functions.token1().call().lower()
    return PairInfo(pair.address.lower(), venue, fee, token0, token1, decimals[token0], decimals[token1])


def _deploy_wbtc(
    tx: TxSender, factories: dict[int, str], usdc_weth: tuple[Any, Any], amounts: tuple[int, int], trader: str
) -> tuple[TokenInfo, list[PairInfo]]:
    """Deploy WBTC and, per venue, funded USDC/WBTC and WETH/WBTC pairs (2,000,000 USD a side at the opening prices).

    Sent after everything else, so every other address is the same with or without WBTC.

    Args:
        tx: the deployer's sender.
        factories: venue -> factory.
        usdc_weth: the USDC and WETH token contracts.
        amounts: raw WETH and WBTC worth :data:`POOL_USDC` each.
        trader: address to fund with 50 WBTC ("" for none).
    """
    t_usdc, t_weth = usdc_weth
    weth_amount, wbtc_amount = amounts
    wbtc, s = tx.deploy("TestToken", "Wrapped BTC", "WBTC", 8)
    tx.wait([s])
    t_wbtc = contract(tx.w3, "TestToken", wbtc)
    sent = [tx.call(t_wbtc, "mint", tx.signer.address, 1_000 * WBTC_UNIT)]
    for venue, fee in VENUES:
        factory = contract(tx.w3, "PulseFactory", factories[venue])
        for other in (t_usdc, t_weth):
            sent.append(tx.call(factory, "createPair", other.address, wbtc, fee, gas=3_000_000))
    if trader:
        sent.append(tx.call(t_wbtc, "transfer", trader, 50 * WBTC_UNIT))
    tx.wait(sent)
    decimals = {t_usdc.address.lower(): 6, t_weth.address.lower(): 18, wbtc.lower(): 8}
    pairs, sent = [], []
    for venue, fee in VENUES:
        for other in ((t_usdc, POOL_USDC * USDC_UNIT), (t_weth, weth_amount)):
            pair, s = _fund_pair(tx, factories[venue], other, (t_wbtc, wbtc_amount))
            sent += s
            pairs.append(_pair_info(pair, venue, fee, decimals))
    tx.wait(sent)
    return TokenInfo("WBTC", wbtc.lower(), 8), pairs


def main(argv: list[str] | None = None) -> int:
    """Command line: deploy and write the deployment file."""
    p = argparse.ArgumentParser(prog="python -m ops.chain.deploy", description=__doc__.split("\n\n")[0])
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
