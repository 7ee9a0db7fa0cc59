"""The steps of ``pulsearb validate --pools``: pools validate did not deploy, named by address.

- ``pools``: each address is identified and proven a genuine Uniswap V2 pair or V3 pool
  (:mod:`ops.validation.discover`), and together they must form one cycle (:mod:`ops.validation.route`). Nothing
  is sent before this step has passed.
- ``executor``: the ArbExecutor of ``--deployment FILE``, or one deployed alone (``--deploy-executor``, the run's
  only transaction besides a ``--live`` trade and its withdrawal); its code must be the committed artifact and the
  key its owner. With ``capital: flash_swap`` (the default) it needs no balance.
- ``detect``: the pools' exact state at one block (:func:`ops.simulator.chain.pools.read_states`), both directions sized
  with pulsearb's math; the traded input and its prediction become the opportunity the executor takes.

The dry run, live and cleanup steps are :mod:`ops.validation.trade`'s, shared with the other modes.
"""

from __future__ import annotations

from flows.pools import PoolState
from ops.simulator.chain.deploy import Deployment, PairInfo
from ops.simulator.chain.pools import read_states
from ops.simulator.chain.tx import TxSender
from ops.validation.arb import make_opportunity
from ops.validation.bytecode import compare_code
from ops.validation.checks import check_owner, reference
from ops.validation.discover import identify, short
from ops.validation.route import Priced, Route, best, cycle_probe, cycle_problem, price, routes
from ops.validation.runner import Done, StepFailed
from ops.validation.session import Session
from ops.validation.trade import detected_at
from ops.validation.units import token


def describe_pool(s: Session, p: PairInfo) -> str:
    """``0x1234abcd… V3 USDC/WETH 0.05 %`` for the PASS lines."""
    fee = f"{token(p.fee_pips, 4)} %" if p.kind == "v3" else f"{p.fee_bps} bps"
    return f"{short(p.address)} {p.kind.upper()} {s.symbol(p.token0)}/{s.symbol(p.token1)} {fee}"


def describe_route(s: Session, route: Route) -> str:
    """``USDC -> WETH on 0x… V2 ... -> USDC on 0x… V3 ...``."""
    hops = " -> ".join(f"{s.symbol(route.path[i + 1])} on {describe_pool(s, p)}" for i, p in enumerate(route.pools))
    return f"{s.symbol(route.token_in)} -> {hops}"


def check_pools(s: Session) -> Done:
    """Identify every ``--pools`` address, prove it genuine, and check that the pools form one cycle."""
    o = s.options
    assert s.chain is not None
    found: list[PairInfo] = []
    factories: list[str] = []
    for address in o.pools:
        info, tokens, factory = identify(s.chain, address, o.factories)
        found.append(info)
        factories.append(factory)
        s.tokens.update(tokens)
    problem = cycle_problem(found)
    if problem is not None:
        msg = f"{problem}; fix --pools"
        raise StepFailed(msg)
    token_in = o.token_in or found[0].token0
    directions = routes(found, token_in)
    if not directions:
        on_cycle = sorted({t for p in found for t in p.tokens})
        msg = f"--token-in {token_in} is not a token of the cycle: give one of {', '.join(on_cycle)}"
        raise StepFailed(msg)
    s.cycle_pools, s.routes, s.token_in = tuple(found), tuple(directions), token_in
    s.figures.update(pools=[p.address for p in found], token_in=token_in)
    listed = ", ".join(describe_pool(s, p) for p in found)
    return Done(
        f"{len(found)} genuine pools (code = the npm artifacts', created by a genuine factory at its CREATE2 "
        f"address): {listed}; start token {s.symbol(token_in)}",
        {
            "pools": [
                {
                    "address": p.address,
                    "kind": p.kind,
                    "token0": p.token0,
                    "token1": p.token1,
                    "fee": p.fee,
                    "tick_spacing": p.tick_spacing,
                    "factory": f,
                }
                for p, f in zip(found, factories, strict=True)
            ],
            "token_in": token_in,
        },
    )


def check_executor(s: Session) -> Done:
    """The executor of ``--deployment`` (or one deployed now, alone): the committed artifact, owned by the key."""
    o = s.options
    assert s.chain is not None and s.signer is not None
    written = ""
    if o.deploy_executor:
        tx = TxSender(s.w3, s.signer)
        address, sent = tx.deploy("ArbExecutor")
        tx.wait([sent], timeout_s=o.timeout_s)
        executor, how = address.lower(), f"deployed alone (transaction {sent.tx_hash})"
        if o.out is not None:
            alone = Deployment(
                chain_id=s.chain.chain_id(),
                deployer=s.signer.address.lower(),
                executor=executor,
                flash_lender="",
                flash_fee_bps=0,
                native_token="",
                tokens={},
                factories={},
            )
            alone.write(o.out)
            written = f"; deployment file written to {o.out} (reuse it with --deployment)"
        s.figures.update(executor_tx=sent.tx_hash)
    else:
        assert s.deployment is not None
        executor, how = s.deployment.executor, f"from {o.deployment}"
    code = s.chain.code(executor)
    if not code:
        msg = f"no contract at the executor address {executor} on chain {s.chain.chain_id()}: fix --deployment"
        raise StepFailed(msg)
    expected, where = reference("ArbExecutor")
    result = compare_code(code, expected)
    if not result.ok:
        msg = f"the executor {executor} is not {where}: {result.reason}; deploy one with --deploy-executor"
        raise StepFailed(msg)
    check_owner(s, executor)
    s.executor = executor
    s.figures.update(executor=executor)
    return Done(
        f"executor {executor} {how}: code = {where}, owned by the key; capital {o.capital_mode}{written}",
        {"executor": executor, "deployed": o.deploy_executor, "capital": o.capital_mode},
    )


def _untradable(states: list[PoolState]) -> PoolState | None:
    return next((st for st in states if not st.tradable()), None)


def detect_cycle(s: Session) -> Done:
    """Read the pools' exact state at one block and size both directions of the cycle with pulsearb's math."""
    o = s.options
    assert s.chain is not None and s.signer is not None
    head = s.chain.head()
    states = read_states(s.w3, s.cycle_pools, head.number)
    empty = _untradable(states)
    if empty is not None:
        msg = f"pool {empty.pool} has no liquidity at block {head.number}: nothing can trade through it"
        raise StepFailed(msg)
    by_pool = {st.pool: st for st in states}
    probe = cycle_probe(s.routes, by_pool)
    chosen = best([price(r, by_pool, o.amount_in, probe) for r in s.routes])
    if o.capital_mode == "own":
        held = s.balance(s.token_in, s.executor)
        if held < chosen.amount_in:
            msg = (
                f"the executor holds {_fmt(s, held)}, the trade needs {_fmt(s, chosen.amount_in)} (capital own): "
                "fund it, lower --amount-in, or use --capital flash_swap"
            )
            raise StepFailed(msg)
    s.priced = chosen
    route = chosen.route
    s.opportunity = make_opportunity(
        route.path, route.pools, chosen.amount_in, chosen.amount_out, **detected_at(s, head)
    )
    optimal = chosen.optimal
    s.figures.update(
        block_read=head.number,
        amount_in=chosen.amount_in,
        predicted_amount_out=chosen.amount_out,
        predicted_profit=chosen.profit,
        optimal_amount_in=optimal.amount_in if optimal else 0,
        optimal_profit=optimal.profit if optimal else 0,
    )
    ticks = sum(len(st.v3.ticks) for st in states if st.v3 is not None)
    return Done(
        _detect_line(s, chosen, head.number),
        {
            "block": head.number,
            "profitable": optimal is not None,
            "input": chosen.how,
            "amount_in": chosen.amount_in,
            "predicted_amount_out": chosen.amount_out,
            "predicted_profit": chosen.profit,
            "optimal_amount_in": optimal.amount_in if optimal else 0,
            "v3_initialized_ticks": ticks,
            "path": list(chosen.route.path),
            "route": [p.address for p in chosen.route.pools],
            "opportunity_id": s.opportunity.id,
        },
    )


def _fmt(s: Session, raw: int) -> str:
    return token(raw, s.decimals(s.token_in), s.symbol(s.token_in))


def _detect_line(s: Session, p: Priced, block: int) -> str:
    route = describe_route(s, p.route)
    if p.optimal is None:
        return (
            f"no profitable cycle at block {block}: every input loses (the pools are within their fees); "
            f"best direction {route}: {p.how} input {_fmt(s, p.amount_in)} loses {_fmt(s, -p.profit)}; "
            "the dry run checks that the executor refuses it"
        )
    if p.profit <= 0:
        return (
            f"at --amount-in {_fmt(s, p.amount_in)} the cycle loses {_fmt(s, -p.profit)} ({route}); its optimal "
            f"input {_fmt(s, p.optimal.amount_in)} would earn {_fmt(s, p.optimal.profit)} (block {block})"
        )
    sized = "the asked input" if p.how == "--amount-in" else "the optimal input"
    return (
        f"{route}: {sized} {_fmt(s, p.amount_in)} -> {_fmt(s, p.amount_out)}, predicted profit "
        f"{_fmt(s, p.profit)} (block {block})"
    )
