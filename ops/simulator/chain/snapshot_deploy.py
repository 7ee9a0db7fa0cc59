"""Deploy a market snapshot (:mod:`ops.simulator.market.snapshot`) on genuine Uniswap contracts, with exactly its state.

What :func:`deploy_snapshot` deploys on any JSON-RPC chain (anvil in ``pulsearb up --snapshot FILE``), from one key:

- every token of the snapshot as a TestToken, at addresses whose order keeps every pool's ``token0``/``token1``
  (:func:`ops.simulator.chain.uniswap.token_order`, :func:`ops.simulator.chain.uniswap.deploy_tokens`): a pool sorts
  its tokens by
  address, and a V3 price cannot be inverted exactly, so the file's orientation is kept rather than mapped;
- one genuine ``UniswapV2Factory`` per V2 venue name and one genuine ``UniswapV3Factory`` per V3 venue name (the
  0.01 % tier enabled when a pool uses it); a venue name is a :class:`~base.venues.VenueId` when it names
  one (``uniswap_v2`` -> 300, ``sushiswap`` -> 302, ``uniswap_v3`` -> 301), else it gets an id from
  :data:`CUSTOM_VENUES` on, in the order of the file;
- every pool with the file's state: a V2 pair holds exactly ``reserve0``/``reserve1`` (transferred in, then
  ``mint``); a V3 pool is created at ``sqrt_price_x96`` and its tick map rebuilt by exact-liquidity positions
  (LiquidityMinter), so ``slot0``, ``liquidity`` and every tick's ``liquidityNet`` are the file's. Tokens are
  minted exactly as needed: the reserves to the deployer, what the positions take to the minter;
- the ArbExecutor (flash swaps need no balance) and the genuine QuoterV2 and SwapRouter of the first V3 factory.

Then every pool is read back (:func:`verify_snapshot`) and must equal the file. What is not the recorded pool's:
V3 ``liquidityGross``, fee growth and oracle observations (swaps read none of them). A V2 pool whose fee is not
30 bps cannot be a genuine pair (the fee is in its code) and is refused before anything is sent
(:func:`check_deployable`), as are files no deployment can reproduce (see there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3

from base.errors import ConfigError, StackError
from base.venues import VenueId
from flows.execution.signer import Signer
from ops.simulator.chain.deploy import V2_FEE_BPS, Deployment, PairInfo, TokenInfo, mint_amounts
from ops.simulator.chain.tx import Sent, TxSender, contract
from ops.simulator.chain.uniswap import (
    TokenSpec,
    create_v2_pair,
    create_v3_pool,
    deploy_minter,
    deploy_periphery,
    deploy_tokens,
    deploy_v2_factory,
    deploy_v3_factory,
    genuine,
    read_v2_reserves,
    read_v3_slot,
    seed_v2_pair,
    seed_v3_pool,
    token_order,
)
from ops.simulator.market.snapshot import Snapshot, load_snapshot

CUSTOM_VENUES = 65100
"""First venue id given to a venue name that is no :class:`VenueId` (ids up to 65535; 65000/65001 are test ids)."""
V3_EXTRA_TIERS = {100: 1}
"""Fee tiers (pips -> tick spacing) a fresh genuine UniswapV3Factory lacks and a snapshot pool may use."""


def venue_ids(snapshot: Snapshot) -> dict[str, int]:
    """Venue name -> venue id: the :class:`VenueId` the name spells (any case), else one from
    :data:`CUSTOM_VENUES` on, in order of first appearance; two names never share an id."""
    out: dict[str, int] = {}
    custom = CUSTOM_VENUES
    for pool in snapshot.pools:
        if pool.venue in out:
            continue
        known = VenueId.__members__.get(pool.venue.upper())
        if known is not None and int(known) not in out.values():
            out[pool.venue] = int(known)
            continue
        while custom in out.values():
            custom += 1
        out[pool.venue] = custom
        custom += 1
    return out


def native_symbol(snapshot: Snapshot) -> str:
    """The token gas is priced in: WETH when the snapshot has it, else the profit token of ``expected``, else the
    first token."""
    symbols = [t.symbol for t in snapshot.tokens]
    if "WETH" in symbols:
        return "WETH"
    profit = profit_symbol(snapshot)
    return profit if profit in symbols else symbols[0]


def profit_symbol(snapshot: Snapshot) -> str:
    """``expected.profit_token`` when the file has one, else "" (no comparison with a real bot)."""
    expected = snapshot.extra.get("expected")
    return str(expected.get("profit_token", "")) if isinstance(expected, dict) else ""


def check_deployable(snapshot: Snapshot, source: str = "snapshot") -> None:
    """Refuse, before anything is sent, a valid snapshot that genuine contracts cannot reproduce.

    Raises:
        ConfigError: one line per problem (``SOURCE: pools[i]...: what, and the fix``): a V2 fee other than 30 bps
            (the genuine pair's fee is in its code), a venue holding both V2 and V3 pools (one factory per venue),
            two pools one factory cannot both hold (one pair per token pair, one V3 pool per pair and fee),
            reserves too small for a pair's first mint, token orders no address order satisfies, an
            ``expected.profit_token`` that is not a token of the file.
    """
    problems: list[str] = []
    kinds: dict[str, str] = {}
    seen: dict[tuple[str, str, str, int], int] = {}
    for i, p in enumerate(snapshot.pools):
        where = f"{source}: pools[{i}]"
        if not p.is_v3 and p.fee_bps != V2_FEE_BPS:
            problems.append(
                f"{where}.fee_bps: {p.fee_bps} bps cannot be a genuine UniswapV2Pair (its fee, 30 bps, is in its "
                "code); give the pool fee_bps 30 or leave it out of the snapshot"
            )
        first = kinds.setdefault(p.venue, p.kind)
        if first != p.kind:
            problems.append(
                f"{where}.venue: {p.venue!r} already holds {first} pools and one venue is one factory; "
                f"name this {p.kind} pool's venue differently"
            )
        key = (p.venue, *sorted((p.token0, p.token1)), p.fee if p.is_v3 else 0)
        if key in seen:
            problems.append(
                f"{where}: venue {p.venue!r} already has this pool's {p.token0}/{p.token1} pair"
                + (f" at fee {p.fee}" if p.is_v3 else "")
                + f" (pools[{seen[key]}]): one factory holds one; put it on another venue"
            )
        seen.setdefault(key, i)
        if not p.is_v3 and p.reserve0 * p.reserve1 <= 10**6:
            problems.append(f"{where}: reserve0 * reserve1 must exceed 10**6 (a V2 pair burns 1000 liquidity)")
    try:
        token_order([(p.token0, p.token1) for p in snapshot.pools], [t.symbol for t in snapshot.tokens])
    except StackError as exc:
        problems.append(f"{source}: pools: {exc}")
    profit = profit_symbol(snapshot)
    if profit and profit not in {t.symbol for t in snapshot.tokens}:
        problems.append(f"{source}: expected.profit_token: {profit!r} is not a symbol of tokens")
    if problems:
        raise ConfigError("\n".join(problems))


def load_deployable(path: str | Path) -> Snapshot:
    """Read a snapshot file and check that it can be deployed.

    Raises:
        ConfigError: every problem of the file (:func:`ops.simulator.market.snapshot.load_snapshot`), else every reason
        it
            cannot be deployed (:func:`check_deployable`), one line each.
    """
    snapshot = load_snapshot(path)
    check_deployable(snapshot, str(path))
    return snapshot


@dataclass(frozen=True, slots=True)
class SnapshotDeployment:
    """A deployed snapshot.

    Attributes:
        snapshot: what was deployed.
        deployment: the addresses, in the deployment-file form the flows read (``pairs`` the V2 pools,
            ``v3_pools`` the V3 ones, ``factories`` venue id -> factory).
        venues: venue name -> venue id.
        pools: the deployed pool of each snapshot pool, in the file's order.
        minter: the LiquidityMinter that paid the V3 positions ("" without V3 pools).
    """

    snapshot: Snapshot
    deployment: Deployment
    venues: dict[str, int]
    pools: tuple[PairInfo, ...]
    minter: str = ""

    def address(self, symbol: str) -> str:
        """The deployed address of a token."""
        return self.deployment.tokens[symbol].address

    def symbols(self) -> dict[str, str]:
        """Token address -> symbol."""
        return {t.address: s for s, t in self.deployment.tokens.items()}

    def write(self, path: Path) -> None:
        """Write the deployment file, with a ``snapshot`` section: its name, the venue ids and each file pool's
        deployed address (the flows read the rest, :meth:`Deployment.from_json` ignores the section)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.deployment.to_json() | {
            "snapshot": {
                "name": self.snapshot.name,
                "venues": self.venues,
                "pools": [p.address for p in self.pools],
            }
        }
        path.write_text(json.dumps(data, indent=2) + "\n")


def _cs(address: str) -> str:
    return Web3.to_checksum_address(address)


def deploy_snapshot(w3: Web3, signer: Signer, snapshot: Snapshot) -> SnapshotDeployment:
    """Deploy the snapshot (see the module doc), verify every pool against it, and return the addresses.

    Call :func:`check_deployable` first: a snapshot it refuses fails here only after some transactions were sent.

    Raises:
        StackError: a transaction reverted, or a deployed pool differs from the file (every difference named).
    """
    tx = TxSender(w3, signer)
    order = token_order([(p.token0, p.token1) for p in snapshot.pools], [t.symbol for t in snapshot.tokens])
    decimals = {t.symbol: t.decimals for t in snapshot.tokens}
    addresses = deploy_tokens(tx, [TokenSpec(s, s, decimals[s]) for s in order])
    venues = venue_ids(snapshot)
    factories: dict[int, str] = {}
    for p in snapshot.pools:
        venue = venues[p.venue]
        if venue not in factories:
            tiers = {f: s for f, s in V3_EXTRA_TIERS.items() if any(q.fee == f for q in snapshot.pools)}
            factories[venue] = deploy_v3_factory(tx, tiers) if p.is_v3 else deploy_v2_factory(tx)
    has_v3 = any(p.is_v3 for p in snapshot.pools)
    minter = deploy_minter(tx) if has_v3 else ""
    executor, s = tx.deploy("ArbExecutor")
    tx.wait([s])
    quoter = router = ""
    if has_v3:
        v3_factory = next(factories[venues[p.venue]] for p in snapshot.pools if p.is_v3)
        quoter, router = deploy_periphery(tx, v3_factory, addresses[native_symbol(snapshot)])
    _mint(tx, snapshot, addresses, minter)

    pools: list[PairInfo] = []
    created: list[Sent] = []
    for p in snapshot.pools:
        t0, t1 = addresses[p.token0], addresses[p.token1]
        factory, venue = factories[venues[p.venue]], venues[p.venue]
        info = (decimals[p.token0], decimals[p.token1])
        if p.is_v3:
            address, sent = create_v3_pool(tx, factory, t0, t1, p.fee, p.sqrt_price_x96)
            created += sent
            pools.append(PairInfo(address, venue, p.fee // 100, t0, t1, *info, "v3", p.fee, p.tick_spacing))
        else:
            address, one = create_v2_pair(tx, factory, t0, t1)
            created.append(one)
            pools.append(PairInfo(address, venue, p.fee_bps, t0, t1, *info))
    tx.wait(created)
    seeded: list[Sent] = []
    for p, info in zip(snapshot.pools, pools, strict=True):
        if p.is_v3:
            seeded += seed_v3_pool(tx, minter, info.address, p.ticks)
        else:
            seeded += seed_v2_pair(tx, info.address, info.token0, info.token1, p.reserve0, p.reserve1)
    tx.wait(seeded, timeout_s=120.0)

    tokens = {s: TokenInfo(s, addresses[s], decimals[s]) for s in order}
    deployment = Deployment(
        chain_id=tx.chain_id,
        deployer=signer.address,
        executor=executor.lower(),
        flash_lender="",
        flash_fee_bps=0,
        native_token=addresses[native_symbol(snapshot)],
        tokens=tokens,
        factories=factories,
        pairs=[p for p in pools if p.kind == "v2"],
        v3_pools=[p for p in pools if p.kind == "v3"],
        quoter=quoter,
        swap_router=router,
    )
    deployed = SnapshotDeployment(snapshot, deployment, venues, tuple(pools), minter)
    differences = verify_snapshot(w3, deployed)
    if differences:
        msg = f"the deployed snapshot {snapshot.name} differs from its file: " + "; ".join(differences)
        raise StackError(msg)
    return deployed


def _mint(tx: TxSender, snapshot: Snapshot, addresses: dict[str, str], minter: str) -> None:
    """Mint every token exactly as needed: V2 reserves to the deployer (who transfers them into the pairs), what
    the V3 positions take to the minter (which pays the pools in their mint callbacks)."""
    deployer: dict[str, int] = {}
    to_minter: dict[str, int] = {}
    for p in snapshot.pools:
        if p.is_v3:
            amount0, amount1 = mint_amounts(p.sqrt_price_x96, dict(p.ticks))
            to_minter[p.token0] = to_minter.get(p.token0, 0) + amount0
            to_minter[p.token1] = to_minter.get(p.token1, 0) + amount1
        else:
            deployer[p.token0] = deployer.get(p.token0, 0) + p.reserve0
            deployer[p.token1] = deployer.get(p.token1, 0) + p.reserve1
    sent = []
    for holder, amounts in ((tx.signer.address, deployer), (minter, to_minter)):
        for symbol, amount in amounts.items():
            if amount:
                token = contract(tx.w3, "TestToken", addresses[symbol])
                sent.append(tx.call(token, "mint", _cs(holder), amount))
    tx.wait(sent)


def verify_snapshot(w3: Web3, deployed: SnapshotDeployment, block: int | str = "latest") -> list[str]:
    """Read every deployed pool back and compare it with the file: V2 reserves; V3 ``slot0`` price and tick,
    ``liquidity`` and every initialized tick's ``liquidityNet``. Returns the differences (empty: exact)."""
    out: list[str] = []
    for i, (p, info) in enumerate(zip(deployed.snapshot.pools, deployed.pools, strict=True)):
        where = f"pools[{i}] ({p.venue} {p.token0}/{p.token1} at {info.address})"
        if not p.is_v3:
            got = read_v2_reserves(w3, info.address, block)
            if got != (p.reserve0, p.reserve1):
                out.append(f"{where}: reserves {got}, file ({p.reserve0}, {p.reserve1})")
            continue
        slot = read_v3_slot(w3, info.address, block)
        if (slot.sqrt_price_x96, slot.tick, slot.liquidity) != (p.sqrt_price_x96, p.tick, p.liquidity):
            out.append(
                f"{where}: slot0/liquidity ({slot.sqrt_price_x96}, {slot.tick}, {slot.liquidity}), "
                f"file ({p.sqrt_price_x96}, {p.tick}, {p.liquidity})"
            )
        pool = genuine(w3, "UniswapV3Pool", info.address)
        wrong = [t for t, net in p.ticks.items() if int(pool.functions.ticks(t).call(block_identifier=block)[1]) != net]
        if wrong:
            out.append(f"{where}: liquidityNet differs at {len(wrong)} ticks, first {sorted(wrong)[:3]}")
    return out


def describe(deployed: SnapshotDeployment) -> str:
    """One line: what was deployed where."""
    d = deployed.deployment
    by_venue: dict[str, list[str]] = {}
    for p, info in zip(deployed.snapshot.pools, deployed.pools, strict=True):
        label = f"{p.token0}/{p.token1}" + (f" {p.fee / 10_000:g}%" if p.is_v3 else "")
        by_venue.setdefault(f"{p.venue} ({deployed.venues[p.venue]}, {info.kind})", []).append(label)
    venues = "; ".join(f"{v}: {', '.join(pools)}" for v, pools in by_venue.items())
    return (
        f"snapshot {deployed.snapshot.name} deployed on chain {d.chain_id} on genuine Uniswap contracts, every pool "
        f"verified exact: {venues}; executor {d.executor}"
    )
