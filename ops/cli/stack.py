"""``pulsearb stack up|down|status``: the local broker, chain and store."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from base.paths import state_dir
from ops.simulator.stack import stack


def register(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    """Add the ``stack`` group."""
    p = sub.add_parser(name, help=help_text, description=help_text)
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    v = verbs.add_parser("up", help="start broker, chain and store on free loopback ports")
    v.add_argument("--no-chain", action="store_true", help="do not start anvil")
    v.add_argument("--block-time", type=float, default=None, help="anvil interval mining, seconds (default automine)")
    v.add_argument(
        "--store-port",
        type=int,
        default=None,
        help="loopback port of the store's ClickHouse HTTP interface (default $PULSEARB_STORE_PORT, else 8123 "
        "when free, else any free port)",
    )
    v.set_defaults(func=_up)
    verbs.add_parser("down", help="stop everything the stack started").set_defaults(func=_down)
    verbs.add_parser("status", help="show each component's health").set_defaults(func=_status)


def _up(args: argparse.Namespace) -> int:
    from ops.simulator.stack.store import preferred_port

    port = args.store_port if args.store_port is not None else preferred_port()
    info = stack.up(
        state_dir(), chain=not args.no_chain, block_time_s=args.block_time, serve_store=True, store_port=port
    )
    print(f"broker  {info.bootstrap}")
    print(f"chain   {info.rpc_url or '-'}")
    print(f"store   {store_line(info)}")
    return 0


def store_line(info: stack.StackInfo) -> str:
    """Where the store is, for people: the ClickHouse HTTP URL (and where its password is) when it is served."""
    if not info.store_url:
        return info.store_dsn
    path = info.store_dsn.removeprefix("chdb://")
    return (
        f"{info.store_url}  (ClickHouse HTTP, user default, password $PULSEARB_STORE_PASSWORD or in "
        f"{path}/pulsearb-server.json; chdb {path})"
    )


def _down(_args: argparse.Namespace) -> int:
    stopped = stack.down(state_dir())
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _status(_args: argparse.Namespace) -> int:
    rows = stack.status(state_dir())
    table = Table(title=f"pulsearb stack ({state_dir()})")
    for col in ("component", "state", "endpoint", "pid", "detail"):
        table.add_column(col)
    for r in rows:
        state = "[green]up[/]" if r.running else "[red]down[/]"
        table.add_row(r.name, state, r.endpoint, str(r.pid or "-"), r.detail)
    Console().print(table)
    return 0 if all(r.running for r in rows) else 3
