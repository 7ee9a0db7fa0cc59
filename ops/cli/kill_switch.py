"""``pulsearb kill-switch on|off|status``: stop (or allow) all execution, now, in every flow of a state directory.

The switch is ``<state dir>/kill_switch.json`` (:mod:`flows.risk.kill_switch`); every risk_execution flow reads it
before each decision and again right before each broadcast, so it takes effect on the next opportunity. ``status``
also shows each flow's breaker, trades in flight and today's PnL from its ledger (read-only).
"""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path

from base.errors import ConfigError


def register(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    """Add the ``kill-switch`` group."""
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument(
        "--state-dir", type=Path, default=None, help="state directory (default: $PULSEARB_HOME or .pulsearb)"
    )
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    on = verbs.add_parser("on", help="stop all execution")
    on.add_argument("--reason", default="", help="why (kept in the switch file and shown by status)")
    on.set_defaults(func=_on)
    verbs.add_parser("off", help="allow execution again").set_defaults(func=_off)
    st = verbs.add_parser("status", help="show the switch and each flow's breaker and trades in flight")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(func=_status)


def _dir(args: argparse.Namespace) -> Path:
    from base.paths import state_dir

    return args.state_dir or state_dir()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _on(args: argparse.Namespace) -> int:
    from flows.risk.kill_switch import KillSwitch

    KillSwitch(_dir(args)).set(True, reason=args.reason, by=_user())
    print(f"kill switch ON ({_dir(args)}): no transaction will be sent")
    return 0


def _off(args: argparse.Namespace) -> int:
    from flows.risk.kill_switch import KillSwitch

    KillSwitch(_dir(args)).set(False, by=_user())
    print(f"kill switch off ({_dir(args)}): execution allowed")
    return 0


def _status(args: argparse.Namespace) -> int:
    import sqlite3

    from flows.execution.ledger import read_summary
    from flows.risk.kill_switch import KillSwitch

    state = _dir(args)
    if not state.is_dir():
        # "off" would be a guess: the flows may run with another state directory, where the switch may be on.
        msg = (
            f"no state directory {state}: nothing ran here, so the switch cannot be read; pass the --state-dir "
            "(or PULSEARB_HOME) your risk_execution flows use"
        )
        raise ConfigError(msg)
    switch = KillSwitch(state).read()
    flows = {}
    for path in sorted((state / "risk_execution").glob("*.sqlite")):
        try:
            flows[path.stem] = read_summary(path)
        except sqlite3.Error as exc:
            flows[path.stem] = {"error": str(exc)}
    if args.json:
        print(
            json.dumps(
                {
                    "kill_switch": {
                        "on": switch.on,
                        "reason": switch.reason,
                        "by": switch.by,
                        "changed_ns": switch.changed_ns,
                    },
                    "flows": flows,
                }
            )
        )
        return 0
    print(f"kill switch: {'ON' if switch.on else 'off'}" + (f" ({switch.reason})" if switch.reason else ""))
    for name, summary in flows.items():
        risk = summary.get("risk_state") or {}
        opened = risk.get("breaker_opened_ns")
        print(
            f"{name}: breaker {'open since ' + str(opened) if opened else 'closed'}, "
            f"consecutive failures {risk.get('consecutive_failures', 0)}, in flight {len(risk.get('open', []))}, "
            f"executions {summary.get('executions', {})}, decisions {summary.get('decisions', 0)}"
        )
    return 0
