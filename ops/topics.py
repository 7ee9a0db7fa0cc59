"""Topic provisioning from ops/topics.yaml: create missing topics, align configs, report drift.

Impossible changes (fewer partitions than exist, a different replication factor) are refused with a clear error;
growing partitions is reported, since it re-maps keys to partitions and must be planned (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from flows.errors import ConfigError, StackError
from ops.paths import ROOT
from sinks.kafka import client_config

TOPICS_FILE = ROOT / "ops" / "topics.yaml"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """Desired state of one topic."""

    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ApplyReport:
    """What ``apply`` did or found."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def load_topics(path: Path = TOPICS_FILE) -> list[TopicSpec]:
    """Read the topic file.

    Raises:
        ConfigError: the file is missing or malformed.
    """
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        msg = f"{path}: cannot read topic file: {exc}"
        raise ConfigError(msg) from exc
    defaults = data.get("defaults", {})
    specs = []
    for name, over in (data.get("topics") or {}).items():
        over = over or {}
        unknown = set(over) - {"partitions", "replication_factor", "config"}
        if unknown:
            msg = f"{path}: topics.{name}.{sorted(unknown)[0]}: unknown key; expected partitions, replication_factor, config"
            raise ConfigError(msg)
        config = {**defaults.get("config", {}), **over.get("config", {})}
        specs.append(
            TopicSpec(
                name=name,
                partitions=int(over.get("partitions", defaults.get("partitions", 1))),
                replication_factor=int(over.get("replication_factor", defaults.get("replication_factor", 1))),
                config={k: str(v) for k, v in config.items()},
            )
        )
    return specs


def admin_client(bootstrap: str, extra: Mapping[str, Any] | None = None) -> AdminClient:
    """An AdminClient with the shared client settings (security passes through)."""
    return AdminClient(client_config(bootstrap, extra))


def apply(bootstrap: str, specs: list[TopicSpec], extra: Mapping[str, Any] | None = None) -> ApplyReport:
    """Create missing topics and align configs of existing ones.

    Raises:
        StackError: the broker is unreachable.
    """
    admin = admin_client(bootstrap, extra)
    try:
        meta = admin.list_topics(timeout=10)
    except KafkaException as exc:
        msg = f"Kafka broker {bootstrap} is unreachable: {exc.args[0].str() if exc.args else exc}"
        raise StackError(msg) from exc
    report = ApplyReport()
    missing = [s for s in specs if s.name not in meta.topics]
    if missing:
        futures = admin.create_topics(
            [NewTopic(s.name, s.partitions, s.replication_factor, config=dict(s.config)) for s in missing]
        )
        for name, fut in futures.items():
            try:
                fut.result()
                report.created.append(name)
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" in str(exc):
                    report.unchanged.append(name)
                else:
                    report.refused.append(f"{name}: create failed: {exc}")
    for s in specs:
        if s.name not in meta.topics:
            continue
        have = len(meta.topics[s.name].partitions)
        if have > s.partitions:
            report.refused.append(
                f"{s.name}: has {have} partitions, the file asks for {s.partitions}: Kafka cannot remove partitions"
            )
            continue
        if have < s.partitions:
            report.drift.append(f"{s.name}: partitions {have} -> {s.partitions} (re-maps keys; plan it, then raise it)")
        resource = ConfigResource(ConfigResource.Type.TOPIC, s.name)
        current = admin.describe_configs([resource])[resource].result()
        changed = {k: v for k, v in s.config.items() if k in current and current[k].value != v}
        if changed:
            report.drift.append(f"{s.name}: config {', '.join(f'{k}={current[k].value}->{v}' for k, v in changed.items())}")
            for k, v in s.config.items():
                resource.set_config(k, v)
            try:
                admin.alter_configs([resource])[resource].result()
                report.updated.append(s.name)
            except KafkaException as exc:
                report.refused.append(f"{s.name}: config change refused by the broker: {exc}")
        else:
            report.unchanged.append(s.name)
    return report
