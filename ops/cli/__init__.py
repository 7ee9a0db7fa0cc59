"""The ``pulsearb`` command line.

Each command group lives in its own module under ``ops/cli/`` and exposes ``register(subparsers)``, which adds
its parser and sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an exit code).
Groups listed in ``PLANNED`` are shown in ``--help`` but not built yet: they say so in one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from base.errors import PulsearbError

# Group name -> (module under ops.cli, one-line help). Order is the order shown in --help.
GROUPS: dict[str, tuple[str, str]] = {
    "up": ("ops.cli.up", "run the main job on embedded defaults (local stack, relay, flows, report)"),
    "stack": ("ops.cli.stack", "start, stop and inspect the local stack (broker, chain, store)"),
    "flows": ("ops.cli.flows", "validate, deploy, list, inspect and stop flows"),
    "topics": ("ops.cli.topics", "create and align Kafka topics from ops/control/topics.yaml"),
    "relay": ("ops.cli.relay", "relay tools: serve, record, replay, decode, encode"),
    "amm": ("ops.cli.amm", "pool math from the command line: quote, optimal (JSON out)"),
    "history": ("ops.cli.history", "query archived history: trading (opportunities ... latency), market (prices ...)"),
    "backtest": ("ops.cli.backtest", "replay archived market data through a detector spec and compare variants"),
    "db": ("ops.cli.db", "ClickHouse store: migrate, backup, restore, status, serve"),
    "kill-switch": ("ops.cli.kill_switch", "stop all execution now: on, off, status"),
    "validate": ("ops.cli.validate", "scripted validation against a chain (testnet or fork)"),
}

log = logging.getLogger("pulsearb")

OWN_LOGGERS = frozenset({"pulsearb", "flows", "ops", "sinks", "schemas", "__main__"})


class _LibraryWarnings(logging.Filter):
    """Below ERROR, only pulsearb's own loggers reach the terminal.

    A library's retry warning (urllib3, clickhouse-connect) repeats, in its own words, the failure the command then
    reports in one line; ``--debug`` shows everything.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or record.name.split(".", 1)[0] in OWN_LOGGERS


def _not_built(name: str):
    def run(_args: argparse.Namespace) -> int:
        print(f"pulsearb {name}: not built yet in this version", file=sys.stderr)
        return 2

    return run


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every command group."""
    parser = argparse.ArgumentParser(
        prog="pulsearb",
        description="pulsearb: DeFi arbitrage for AlphaPulse (relay -> Kafka -> Bytewax -> chain -> ClickHouse)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("--log-level", default="WARNING", help="log level (default WARNING: quiet)")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    for name, (module_name, help_text) in GROUPS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            p = sub.add_parser(name, help=f"{help_text} [not built yet]", add_help=False)
            p.add_argument("rest", nargs=argparse.REMAINDER)
            p.set_defaults(func=_not_built(name))
            continue
        module.register(sub, name, help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; errors a user can cause end in one line on stderr and a non-zero exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from flows.logs import json_handler

    handler = json_handler(sys.stderr)
    if not args.debug:
        handler.addFilter(_LibraryWarnings())
    logging.basicConfig(level=logging.DEBUG if args.debug else args.log_level.upper(), handlers=[handler])
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except PulsearbError as exc:
        if args.debug:
            raise
        print(f"pulsearb: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pulsearb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
