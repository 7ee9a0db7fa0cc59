"""``pulsearb validate``: a scripted validation of the on-chain side against a chain (testnet, fork, or local).

Steps, each ending in a PASS/FAIL line with its time: chain id and head block; signing key and funds; contracts
deployed (``--deploy``) or attached (``--deployment FILE``) and compared with the committed artifacts; a price
dislocation between two venues (found, or created with a swap); the opportunity sized with flows.amm; a dry run
(``eth_call``) whose profit must equal the prediction; a small live arbitrage whose realized profit must equal it
to the wei; withdrawal of the profit. ``--pools ADDR,ADDR[,ADDR]`` validates against pools it did not deploy
(identified and proven genuine by address; a dry run unless ``--live``). Exit code 0 only when every step passes;
a failure ends in one line on stderr. See docs/validation.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

RPC_ENV = "PULSEARB_RPC_URL"
DEPLOYMENT_ENV = "PULSEARB_DEPLOYMENT"
DESCRIPTION = (
    "Validate pulsearb's on-chain side against a chain, step by step, each with a PASS/FAIL line and its time: "
    "chain id and head block; signing key and funds; contracts deployed (--deploy) or attached (--deployment FILE) "
    "and compared with the committed artifacts; a price gap between two venues (found, or created with a swap); "
    "the opportunity sized with flows.amm; a dry run (eth_call) whose profit must equal the prediction; a small "
    "live arbitrage whose realized profit must equal it to the wei; withdrawal of the profit. Exit code 0 only "
    "when every step passes. The key comes from PULSEARB_PRIVATE_KEY (or --key-env NAME) or a keystore "
    "(PULSEARB_KEYSTORE / --keystore, password in PULSEARB_KEYSTORE_PASSWORD). With --pools ADDR,ADDR[,ADDR] it "
    "validates against pools it did not deploy instead (genuine Uniswap V2 pairs and V3 pools, proven so from "
    "their code and their factory), as a dry run unless --live. See docs/validation.md."
)


def _gwei(text: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        msg = f"expected a number of gwei, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if value < 0:
        msg = f"expected a non-negative number of gwei, got {text}"
        raise argparse.ArgumentTypeError(msg)
    return int(value * 10**9)


def _mode(options: Any) -> str:
    """How the run was asked for, for its header line."""
    if options.pools:
        executor = "executor deployed alone" if options.deploy_executor else f"executor from {options.deployment}"
        return f"pools {','.join(options.pools)}, {executor}, capital {options.capital_mode}"
    return "deploy" if options.deploy else f"attach {options.deployment}"


def register(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    """Add the ``validate`` command."""
    from ops.validation.options import (
        DEFAULT_GAS_LIMIT,
        DEFAULT_MAX_GAS_PRICE_WEI,
        DEFAULT_PRIORITY_FEE_WEI,
        DEFAULT_TIMEOUT_S,
        POOLS_CAPITAL,
    )

    p = sub.add_parser(name, help=help_text, description=DESCRIPTION)
    p.add_argument(
        "--rpc",
        "--rpc-url",
        dest="rpc",
        default=None,
        metavar="URL",
        help=f"JSON-RPC endpoint (default ${RPC_ENV}; prefer the variable when the URL holds an API key)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--deploy", action="store_true", help="deploy the contracts, test tokens and pools first")
    where.add_argument(
        "--deployment", type=Path, metavar="FILE", help=f"attach to this deployment file (default ${DEPLOYMENT_ENV})"
    )
    p.add_argument(
        "--out", type=Path, metavar="FILE", help="with --deploy or --deploy-executor: write the deployment file here"
    )
    p.add_argument(
        "--pools",
        metavar="ADDR,ADDR[,ADDR]",
        help="validate against these pools (not deployed by validate): the 2 or 3 pools of one cycle, genuine "
        "Uniswap V2 pairs and V3 pools in any mix; a dry run unless --live",
    )
    p.add_argument(
        "--factory",
        action="append",
        default=[],
        metavar="ADDR",
        help="with --pools: each pool must come from one of these factories (repeatable; default any genuine one)",
    )
    p.add_argument(
        "--token-in", metavar="ADDR", help="with --pools: the cycle's start token (default token0 of the first)"
    )
    p.add_argument(
        "--deploy-executor", action="store_true", help="with --pools: deploy ArbExecutor alone, owned by the key"
    )
    p.add_argument("--live", action="store_true", help="with --pools: send one trade (default: dry run only)")
    p.add_argument(
        "--capital",
        choices=POOLS_CAPITAL,
        help="with --pools: flash_swap (default: the first pool lends the input) or own (the executor's balance)",
    )
    p.add_argument("--chain-id", type=int, metavar="N", help="refuse any other chain (required off local chains)")
    p.add_argument("--amount-in", type=int, metavar="X", help="live trade input, raw units (default: the optimum)")
    p.add_argument(
        "--min-profit", type=int, metavar="X", help="smallest gap worth trading, raw units (default 0.01 token)"
    )
    p.add_argument("--dry-run-only", action="store_true", help="simulate only: no transaction is sent")
    p.add_argument("--key-env", metavar="NAME", help="variable holding the hex key (default PULSEARB_PRIVATE_KEY)")
    p.add_argument(
        "--keystore", type=Path, metavar="FILE", help="keystore file; password in PULSEARB_KEYSTORE_PASSWORD"
    )
    p.add_argument(
        "--max-gas-price-gwei",
        type=_gwei,
        default=DEFAULT_MAX_GAS_PRICE_WEI,
        metavar="G",
        help="fee cap, gwei (default 500)",
    )
    p.add_argument(
        "--priority-fee-gwei", type=_gwei, default=DEFAULT_PRIORITY_FEE_WEI, metavar="G", help="tip, gwei (default 1)"
    )
    p.add_argument("--gas-limit", type=int, default=DEFAULT_GAS_LIMIT, metavar="GAS", help="gas limit of the arbitrage")
    p.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S", help="longest wait for a receipt, s"
    )
    p.add_argument("--format", choices=("table", "json"), default="table", help="summary as a table or one JSON line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the validation; 0 only when every step passed."""
    from base.errors import ConfigError
    from flows.execution.chain import redact_url
    from ops.validation import options as opts
    from ops.validation.render import Progress, print_json, print_table, to_json
    from ops.validation.steps import validate

    rpc = args.rpc or os.environ.get(RPC_ENV, "")
    deployment = args.deployment
    if deployment is None and not (args.deploy or args.deploy_executor) and os.environ.get(DEPLOYMENT_ENV):
        deployment = Path(os.environ[DEPLOYMENT_ENV])
    try:
        pools = opts.parse_addresses([args.pools] if args.pools else [], "--pools")
        factories = opts.parse_addresses(args.factory, "--factory")
        token_in = opts.parse_addresses([args.token_in], "--token-in")[0] if args.token_in else None
    except ConfigError as exc:
        print(f"pulsearb validate: error: {exc}", file=sys.stderr)
        return 2
    options = opts.Options(
        rpc_url=rpc,
        deployment=deployment,
        deploy=args.deploy,
        out=args.out,
        chain_id=args.chain_id,
        amount_in=args.amount_in,
        min_profit=args.min_profit,
        dry_run_only=args.dry_run_only,
        key_env=args.key_env,
        keystore=args.keystore,
        max_gas_price_wei=args.max_gas_price_gwei,
        priority_fee_wei=args.priority_fee_gwei,
        gas_limit=args.gas_limit,
        timeout_s=args.timeout,
        pools=pools,
        factories=factories,
        token_in=token_in,
        deploy_executor=args.deploy_executor,
        live=args.live,
        capital=args.capital or "",
    )
    try:
        if not rpc:
            msg = f"no JSON-RPC endpoint: pass --rpc URL or set {RPC_ENV}"
            raise ConfigError(msg)
        options.check()
    except ConfigError as exc:
        print(f"pulsearb validate: error: {exc}", file=sys.stderr)
        return 2
    table = args.format == "table"
    progress = sys.stdout if table else sys.stderr
    mode = _mode(options) + (", dry run only" if options.dry_run else "")
    print(f"pulsearb validate: {redact_url(rpc)} ({mode})", file=progress, flush=True)
    report, figures = validate(options, Progress(progress))
    if table:
        print_table(report, figures, sys.stdout)
    else:
        run_info = {
            "rpc": redact_url(rpc),
            "mode": "pools" if options.pools else "deploy" if options.deploy else "attach",
            "deployment": str(options.out or options.deployment or ""),
            "dry_run_only": options.dry_run,
        }
        print_json(to_json(report, figures, run_info), sys.stdout)
    failure = report.failure
    if failure is not None:
        print(f"pulsearb validate: FAIL at {failure.name}: {failure.detail}", file=sys.stderr, flush=True)
        return 1
    return 0
