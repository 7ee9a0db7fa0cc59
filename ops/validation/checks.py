"""The set-up steps: the chain, the account, the contracts (deployed, or attached and compared with the artifacts)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from flows.amm.v3.tick_math import MAX_TICK, MIN_TICK
from flows.execution.abi import load_artifact
from flows.execution.chain import Chain
from flows.execution.errors import ChainUnavailable, SignerError
from flows.execution.signer import PASSWORD_ENV, Signer
from ops.simulator.chain.deploy import V2_FEE_BPS, Deployment, PairInfo, deploy
from ops.simulator.chain.uniswap import GENUINE, genuine, load_genuine
from ops.validation.budget import Budget, gas_budget, max_fee
from ops.validation.bytecode import compare_code
from ops.validation.options import LOCAL_CHAIN_IDS, Options
from ops.validation.runner import Done, StepFailed
from ops.validation.session import Session
from ops.validation.units import ether, gwei

OWNER_SELECTOR = function_signature_to_4byte_selector("owner()")


def read_deployment(path: Path) -> Deployment:
    """Read a deployment file written by ``ops.simulator.chain.deploy`` (or ``validate --deploy --out``).

    Raises:
        StepFailed: missing or malformed (one line with the fix).
    """
    try:
        return Deployment.read(path)
    except FileNotFoundError:
        msg = f"deployment file {path} does not exist: fix --deployment, or deploy with --deploy --out {path}"
        raise StepFailed(msg) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = f"deployment file {path} is not a deployment ({type(exc).__name__}): write it with --deploy --out"
        raise StepFailed(msg) from None


def check_chain(s: Session) -> Done:
    """Connect, refuse an unexpected chain id, read the head block and its base fee."""
    o = s.options
    expected, source = o.chain_id, "--chain-id"
    if o.deployment is not None:
        s.deployment = read_deployment(o.deployment)
        if expected and s.deployment.chain_id != expected:
            msg = f"deployment file {o.deployment} is for chain {s.deployment.chain_id}, but --chain-id is {expected}"
            raise StepFailed(msg)
        if not expected:
            expected, source = s.deployment.chain_id, f"the deployment file {o.deployment}"
    s.chain = Chain.connect(o.rpc_url)
    try:
        chain_id = s.chain.chain_id()
    except ChainUnavailable:
        msg = f"no JSON-RPC node answers at {s.where}: check --rpc and that the node is running"
        raise StepFailed(msg) from None
    if expected is None and chain_id not in LOCAL_CHAIN_IDS:
        msg = (
            f"the node at {s.where} is chain {chain_id}, not a local development chain: "
            f"pass --chain-id {chain_id} to confirm it is the chain to validate"
        )
        raise StepFailed(msg)
    if expected is not None and chain_id != expected:
        msg = f"wrong chain: the node at {s.where} is chain {chain_id}, expected {expected} ({source}); fix --rpc"
        raise StepFailed(msg)
    syncing = s.w3.eth.syncing
    if syncing:
        msg = f"the node at {s.where} is still syncing: wait until it has caught up"
        raise StepFailed(msg)
    s.head = head = s.chain.head()
    if head.base_fee_wei > o.max_gas_price_wei:
        msg = (
            f"the base fee is {gwei(head.base_fee_wei)}, above --max-gas-price-gwei "
            f"({gwei(o.max_gas_price_wei)}): raise the cap or wait for cheaper blocks"
        )
        raise StepFailed(msg)
    age_s = max(0, int(time.time()) - head.timestamp)
    s.figures.update(chain_id=chain_id, start_block=head.number, base_fee_wei=head.base_fee_wei)
    return Done(
        f"chain {chain_id} at {s.where}, block {head.number} ({age_s} s old), base fee {gwei(head.base_fee_wei)}",
        {"chain_id": chain_id, "block": head.number, "block_age_s": age_s, "base_fee_wei": head.base_fee_wei},
    )


def load_signer(o: Options) -> Signer:
    """The signing key from ``--key-env NAME``, ``--keystore FILE``, or the signer's environment variables.

    Raises:
        SignerError: missing or invalid (the message names the variable or file, never the value).
    """
    if o.keystore is not None:
        if PASSWORD_ENV not in os.environ:
            msg = f"--keystore {o.keystore}: set its password in {PASSWORD_ENV}"
            raise SignerError(msg)
        return Signer.from_keystore(o.keystore, os.environ[PASSWORD_ENV])
    if o.key_env:
        if not os.environ.get(o.key_env):
            msg = f"no signing key: {o.key_env} (named by --key-env) is not set"
            raise SignerError(msg)
        return Signer.from_key(os.environ[o.key_env], source=o.key_env)
    return Signer.from_env()


def check_account(s: Session) -> Done:
    """The key is present (never shown) and its account can pay the gas of everything the run may send."""
    o = s.options
    assert s.head is not None
    s.signer = signer = load_signer(o)
    balance = s.native_balance(signer.address)
    fee = max_fee(s.head.base_fee_wei, o.priority_fee_wei, o.max_gas_price_wei)
    gas = gas_budget(
        deploy=o.deploy,
        dry_run_only=o.dry_run,
        execute_gas_limit=o.gas_limit,
        pools=bool(o.pools),
        deploy_executor=o.deploy_executor,
    )
    budget = Budget(gas, fee)
    data = {"address": signer.address, "balance_wei": balance, "budget_wei": budget.wei, "budget_gas": budget.gas}
    if o.dry_run and not budget.gas:
        why = "--dry-run-only" if o.dry_run_only else "dry run (no --live)"
        return Done(f"key for {signer.address} ({ether(balance)}); {why}: nothing will be sent", data)
    if balance < budget.wei:
        msg = (
            f"insufficient funds: {signer.address} holds {ether(balance)}, the run may reserve up to "
            f"{ether(budget.wei)} ({budget.gas:,} gas at {gwei(fee)}): fund the account"
        )
        raise StepFailed(msg)
    return Done(f"key for {signer.address}, holds {ether(balance)} (needs up to {ether(budget.wei)})", data)


def max_liquidity_per_tick(tick_spacing: int) -> int:
    """``Tick.tickSpacingToMaxLiquidityPerTick`` (v3-core): a V3 pool's immutable ``maxLiquidityPerTick``."""
    lowest = -(-MIN_TICK // tick_spacing) * tick_spacing  # Solidity's division truncates toward zero
    highest = MAX_TICK // tick_spacing * tick_spacing
    return (2**128 - 1) // ((highest - lowest) // tick_spacing + 1)


def expected_code(d: Deployment) -> list[tuple[str, str, str, tuple[int | str, ...]]]:
    """``(role, artifact, address, immutable values)`` of every contract the executor's trades touch: pulsearb's
    own (contracts/artifacts) and the genuine Uniswap ones (the npm packages of ops/node)."""
    found: list[tuple[str, str, str, tuple[int | str, ...]]] = [
        ("executor", "ArbExecutor", d.executor, ()),
        ("flash lender", "FlashLender", d.flash_lender, (d.flash_fee_bps,)),
    ]
    v3_venues = {p.venue for p in d.v3_pools}
    for venue, address in sorted(d.factories.items()):
        if venue in v3_venues:  # NoDelegateCall keeps the factory's own address as an immutable
            found.append((f"factory of venue {venue}", "UniswapV3Factory", address, (address,)))
        else:
            found.append((f"factory of venue {venue}", "UniswapV2Factory", address, ()))
    for p in d.pairs:
        found.append((f"pair {p.token0[:8]}/{p.token1[:8]} on venue {p.venue}", "UniswapV2Pair", p.address, ()))
    for p in d.v3_pools:
        immutables = (
            d.factories.get(p.venue, "0x0"),
            p.token0,
            p.token1,
            p.fee_pips,
            p.tick_spacing,
            max_liquidity_per_tick(p.tick_spacing),
            p.address,
        )
        found.append((f"pool {p.token0[:8]}/{p.token1[:8]} on venue {p.venue}", "UniswapV3Pool", p.address, immutables))
    return found


def reference(name: str) -> tuple[bytes, str]:
    """The runtime code an artifact expects and where it comes from (for messages)."""
    if name in GENUINE:
        return bytes.fromhex(load_genuine(name).deployed_bytecode[2:]), f"the genuine {name} of {GENUINE[name][0]}"
    return bytes.fromhex(load_artifact(name).deployed_bytecode[2:]), f"contracts/artifacts/{name}.json"


def _compare(s: Session, checks: Iterable[tuple[str, str, str, tuple[int | str, ...]]]) -> int:
    assert s.chain is not None and s.deployment is not None
    count = 0
    for role, name, address, immutables in checks:
        code = s.chain.code(address)
        if not code:
            msg = (
                f"no contract at the {role} address {address} on chain {s.deployment.chain_id}: "
                "wrong deployment file or chain (--deploy makes a fresh one)"
            )
            raise StepFailed(msg)
        expected, where = reference(name)
        result = compare_code(code, expected, immutables)
        if not result.ok:
            msg = f"the {role} {address} is not {where}: {result.reason}; redeploy from this checkout (--deploy)"
            raise StepFailed(msg)
        count += 1
    return count


def check_owner(s: Session, executor: str) -> None:
    """The executor's ``owner()`` is the key's address (only the owner may trade through it).

    Raises:
        StepFailed: another owner (the line names both addresses).
    """
    assert s.chain is not None and s.signer is not None
    word = s.chain.call({"to": to_checksum_address(executor), "data": "0x" + OWNER_SELECTOR.hex()})
    owner = "0x" + word[-20:].hex()
    if owner != s.signer.address.lower():
        msg = f"the executor {executor} is owned by {owner}, not by the key's address {s.signer.address}: use its key"
        raise StepFailed(msg)


def _check_pairs(s: Session, d: Deployment) -> None:
    """A genuine V2 pair keeps its tokens in storage, not in its code, and has one fee: check both against the file
    (a V3 pool's tokens, fee and spacing are immutables, checked with its code)."""
    for p in d.pairs:
        pair = genuine(s.w3, "UniswapV2Pair", p.address)
        tokens = (pair.functions.token0().call().lower(), pair.functions.token1().call().lower())
        if tokens != (p.token0, p.token1):
            msg = (
                f"the pair {p.address} on venue {p.venue} holds tokens {tokens[0]}/{tokens[1]}, the deployment file "
                f"says {p.token0}/{p.token1}: fix the file or redeploy (--deploy)"
            )
            raise StepFailed(msg)
        if p.fee_bps != V2_FEE_BPS:
            msg = (
                f"the pair {p.address} on venue {p.venue} is a genuine UniswapV2Pair, which charges {V2_FEE_BPS} bps; "
                f"the deployment file says {p.fee_bps}: fix the file or redeploy (--deploy)"
            )
            raise StepFailed(msg)


def _token_kinds(s: Session) -> tuple[int, int]:
    """(TestTokens, other ERC-20s) among the deployment's tokens; only the first are compared with the artifact."""
    assert s.chain is not None and s.deployment is not None
    artifact = bytes.fromhex(load_artifact("TestToken").deployed_bytecode[2:])
    test = sum(compare_code(s.chain.code(t.address), artifact, (t.decimals,)).ok for t in s.deployment.tokens.values())
    return test, len(s.deployment.tokens) - test


def pick_pools(d: Deployment) -> tuple[PairInfo, PairInfo]:
    """Two pairs of the same tokens on different venues (the first such couple, by venue).

    Raises:
        StepFailed: the deployment has none.
    """
    for i, a in enumerate(d.pairs):
        for b in d.pairs[i + 1 :]:
            if {a.token0, a.token1} == {b.token0, b.token1} and a.venue != b.venue:
                return (a, b) if a.venue < b.venue else (b, a)
    msg = "the deployment has no token pair on two venues: nothing to arbitrage (redeploy with --deploy)"
    raise StepFailed(msg)


def start_token(d: Deployment, pair: PairInfo) -> str:
    """The cycle's start token: USDC if the pair has it, else the token that is not the gas token."""
    usdc = d.tokens.get("USDC")
    if usdc is not None and usdc.address in (pair.token0, pair.token1):
        return usdc.address
    return pair.token1 if pair.token0 == d.native_token else pair.token0


def check_contracts(s: Session) -> Done:
    """Deploy (``--deploy``) or attach, then compare every contract's code with the committed artifacts."""
    o = s.options
    assert s.chain is not None and s.signer is not None
    how, written = "attached to", ""
    if o.deploy:
        s.deployment = deploy(s.w3, s.signer)
        how = "deployed"
        if o.out is not None:
            s.deployment.write(o.out)
            written = f"; deployment written to {o.out}"
    d = s.deployment
    assert d is not None
    if not d.pools:
        msg = (
            f"deployment file {o.deployment} names an executor and no pools (as --deploy-executor writes): "
            "use it with --pools ADDR,ADDR"
        )
        raise StepFailed(msg)
    compared = _compare(s, expected_code(d))
    _check_pairs(s, d)
    check_owner(s, d.executor)
    s.executor = d.executor
    s.pools = pick_pools(d)
    s.token_in = start_token(d, s.pools[0])
    test_tokens, external = _token_kinds(s)
    tokens = f"{test_tokens} TestToken" + (f", {external} other ERC-20 (not compared)" if external else "")
    s.figures.update(executor=d.executor, pools=[p.address for p in s.pools], token_in=s.token_in)
    return Done(
        f"{how} {compared} contracts whose code is the artifacts' (immutables checked), {tokens}; "
        f"executor {d.executor} owned by the key{written}",
        {"mode": "deploy" if o.deploy else "attach", "executor": d.executor, "contracts": compared},
    )
