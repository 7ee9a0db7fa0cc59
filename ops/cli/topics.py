"""``pulsearb topics apply``: create and align Kafka topics from ops/control/topics.yaml plus every spec's dead
letters."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from base.errors import ConfigError


def register(sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    """Add the ``topics`` group."""
    p = sub.add_parser(name, help=help_text, description=help_text)
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    v = verbs.add_parser("apply", help="create missing topics, align configs, report drift, refuse impossible changes")
    v.add_argument("--bootstrap", default=os.environ.get("PULSEARB_BOOTSTRAP"), help="Kafka bootstrap servers")
    v.add_argument("--file", type=Path, help="topic file (default: ops/control/topics.yaml)")
    v.add_argument("--specs", nargs="*", type=Path, help="specs whose dlq.<flow> topics to add (default: flows/specs)")
    v.add_argument("--replication-factor", type=int, help="override for every topic (production: 3)")
    v.add_argument(
        "--grow-partitions", action="store_true", help="raise partition counts the file grows (re-maps keys)"
    )
    v.add_argument("--dry-run", action="store_true", help="report what would change; change nothing")
    v.add_argument("--kafka-config", type=Path, help="Kafka security settings file (default $PULSEARB_KAFKA_CONFIG)")
    v.set_defaults(func=_apply)


def _apply(args: argparse.Namespace) -> int:
    from flows.spec import SPECS_DIR, load_specs
    from ops.control.kafka_config import load_kafka_settings
    from ops.control.topics import TOPICS_FILE, apply, load_topics, undeclared

    if not args.bootstrap:
        msg = "topics apply needs the Kafka cluster: --bootstrap HOST:PORT[,HOST:PORT] (or PULSEARB_BOOTSTRAP)"
        raise ConfigError(msg)
    paths = [p.resolve() for p in args.specs] if args.specs else sorted(SPECS_DIR.glob("*.yaml"))
    specs = load_specs(paths=paths)
    topics = load_topics(args.file or TOPICS_FILE, specs, replication_factor=args.replication_factor)
    problems = undeclared(topics, specs)
    kafka = load_kafka_settings(args.kafka_config)
    report = apply(args.bootstrap, topics, kafka.extra(), dry_run=args.dry_run, grow_partitions=args.grow_partitions)
    for name in report.created:
        print(f"created   {name}")
    for name in report.updated:
        print(f"updated   {name}")
    for line in report.drift:
        print(f"drift     {line}")
    for line in report.refused + problems:
        print(f"pulsearb topics apply: error: {line}", file=sys.stderr)
    print(
        f"{len(topics)} topics: {len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.drift)} drifted, {len(report.refused) + len(problems)} refused"
        + (" (dry run)" if args.dry_run else "")
    )
    return 1 if report.refused or problems else 0
