"""Topic provisioning from ops/control/topics.yaml plus every spec's dead-letter topic: create, align, report drift.

The file names the data topics; each flow spec adds its ``dlq.<flow>`` (shaped by the file's ``dlq`` template), so
adding a flow needs no edit here. ``apply`` creates missing topics, aligns configs (IncrementalAlterConfigs: only
the keys the file sets), and refuses impossible changes with a clear line: fewer partitions than exist (Kafka
cannot remove partitions), a different replication factor (a reassignment, not a config change), or a topic a
spec uses that the file does not define. Growing partitions re-maps keys to partitions, so it is only reported
unless explicitly allowed (docs/operations.md, "Capacity planning").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions, NewTopic

from base.errors import ConfigError, StackError
from base.paths import ROOT
from flows.spec import FlowSpec, load_specs
from sinks.kafka import client_config

TOPICS_FILE = ROOT / "ops" / "control" / "topics.yaml"
_KEYS = {"partitions", "replication_factor", "config"}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """Desired state of one topic."""

    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str] = field(default_factory=dict)
    origin: str = ""  # where it was declared: the topic file, or the spec whose dead letters it holds


@dataclass(slots=True)
class ApplyReport:
    """What ``apply`` did or found; ``refused`` lines are errors (the CLI exits non-zero)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def _shape(path: Path, where: str, over: Any, defaults: Mapping[str, Any]) -> tuple[int, int, dict[str, str]]:
    over = over or {}
    if not isinstance(over, dict):
        msg = f"{path}: {where}: expected a mapping of {', '.join(sorted(_KEYS))}, got {type(over).__name__}"
        raise ConfigError(msg)
    unknown = sorted(set(over) - _KEYS)
    if unknown:
        msg = f"{path}: {where}.{unknown[0]}: unknown key; expected one of {', '.join(sorted(_KEYS))}"
        raise ConfigError(msg)
    config = {**defaults.get("config", {}), **(over.get("config") or {})}
    partitions = int(over.get("partitions", defaults.get("partitions", 1)))
    replication = int(over.get("replication_factor", defaults.get("replication_factor", 1)))
    return partitions, replication, {k: str(v) for k, v in config.items()}


def load_topics(
    path: Path = TOPICS_FILE, specs: Sequence[FlowSpec] | None = None, replication_factor: int | None = None
) -> list[TopicSpec]:
    """The desired topics: those of the file, plus the dead-letter topic of every spec.

    Args:
        path: the topic file.
        specs: flows whose ``dlq.<flow>`` topics to add (None: every spec in flows/specs).
        replication_factor: override for every topic (production clusters; the file's default is 1 for laptops).

    Raises:
        ConfigError: the file is missing or malformed.
    """
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        msg = f"{path}: cannot read topic file: {exc}"
        raise ConfigError(msg) from exc
    unknown = sorted(set(data) - {"defaults", "dlq", "topics"})
    if unknown:
        msg = f"{path}: {unknown[0]}: unknown section; expected defaults, dlq, topics"
        raise ConfigError(msg)
    defaults = data.get("defaults") or {}
    out: dict[str, TopicSpec] = {}
    for name, over in (data.get("topics") or {}).items():
        partitions, replication, config = _shape(path, f"topics.{name}", over, defaults)
        out[name] = TopicSpec(name, partitions, replication, config, origin=str(path))
    dlq_shape = _shape(path, "dlq", data.get("dlq"), defaults)
    for spec in load_specs() if specs is None else specs:
        if spec.dlq_topic not in out:
            out[spec.dlq_topic] = TopicSpec(spec.dlq_topic, *dlq_shape, origin=str(spec.path))
    if replication_factor is not None:
        out = {n: TopicSpec(t.name, t.partitions, replication_factor, t.config, t.origin) for n, t in out.items()}
    return list(out.values())


def undeclared(topics: Sequence[TopicSpec], specs: Sequence[FlowSpec]) -> list[str]:
    """Topics the specs read or write that no topic spec declares (one line each, naming the spec field)."""
    known = {t.name for t in topics}
    problems = []
    for spec in specs:
        used = [(f"inputs.topics[{i}]", t) for i, t in enumerate(spec.inputs.topics)]
        used += [(f"outputs.{role}", t) for role, t in spec.outputs.items()]
        for where, topic in used:
            if topic not in known:
                problems.append(f"{topic}: used by {spec.path} ({where}) but not in the topic file: add it there")
    return problems


def admin_client(bootstrap: str, extra: Mapping[str, Any] | None = None) -> AdminClient:
    """An AdminClient with the shared client settings (security passes through).

    librdkafka's own logging is off: the caller reports an unreachable broker once, instead of a line per retry.
    """
    return AdminClient(client_config(bootstrap, {"log_level": 0, **(extra or {})}))


def existing_topics(admin: AdminClient, bootstrap: str) -> dict[str, Any]:
    """Topic metadata of the cluster.

    Raises:
        StackError: the broker is unreachable (one line with the fix).
    """
    try:
        return admin.list_topics(timeout=10).topics
    except KafkaException as exc:
        reason = exc.args[0].str() if exc.args else str(exc)
        msg = f"Kafka broker {bootstrap} is unreachable ({reason}); check --bootstrap and the PULSEARB_KAFKA_* settings"
        raise StackError(msg) from exc


def apply(
    bootstrap: str,
    specs: list[TopicSpec],
    extra: Mapping[str, Any] | None = None,
    *,
    dry_run: bool = False,
    grow_partitions: bool = False,
) -> ApplyReport:
    """Create missing topics, align configs, report drift and refuse impossible changes.

    Args:
        bootstrap: broker list.
        specs: desired topics (:func:`load_topics`).
        extra: librdkafka settings (security) for the admin client.
        dry_run: report what would change without changing anything.
        grow_partitions: raise partition counts the file asks to grow (re-maps keys: plan it first).

    Raises:
        StackError: the broker is unreachable.
    """
    admin = admin_client(bootstrap, extra)
    have = existing_topics(admin, bootstrap)
    report = ApplyReport()
    missing = [s for s in specs if s.name not in have]
    if missing and dry_run:
        report.created.extend(f"{s.name} (would create)" for s in missing)
    elif missing:
        new = [NewTopic(s.name, s.partitions, s.replication_factor, config=dict(s.config)) for s in missing]
        for name, fut in admin.create_topics(new).items():
            try:
                fut.result()
                report.created.append(name)
            except KafkaException as exc:
                report.refused.append(f"{name}: the broker refused to create it: {exc.args[0].str()}")
    for s in specs:
        if s.name in have:
            _align(admin, s, have[s.name], report, dry_run, grow_partitions)
    return report


def _align(admin: AdminClient, s: TopicSpec, meta: Any, report: ApplyReport, dry_run: bool, grow: bool) -> None:
    count = len(meta.partitions)
    if count > s.partitions:
        report.refused.append(
            f"{s.name}: has {count} partitions, the file asks for {s.partitions}: Kafka cannot remove partitions "
            f"(keep {count} in the file, or recreate the topic and lose its data)"
        )
        return
    replicas = len(meta.partitions[0].replicas) if meta.partitions else s.replication_factor
    if replicas != s.replication_factor:
        report.refused.append(
            f"{s.name}: replication factor is {replicas}, the file asks for {s.replication_factor}: that is a "
            f"replica reassignment (kafka-reassign-partitions), not something topics apply changes"
        )
        return
    changed = False
    if count < s.partitions:
        report.drift.append(f"{s.name}: partitions {count} -> {s.partitions} (re-maps keys to partitions)")
        if grow and not dry_run:
            changed = _grow(admin, s, report) or changed
        elif not grow:
            report.drift[-1] += "; not changed: rerun with --grow-partitions once planned"
    resource = ConfigResource(ConfigResource.Type.TOPIC, s.name)
    try:
        current = admin.describe_configs([resource])[resource].result()
    except KafkaException as exc:
        report.refused.append(f"{s.name}: cannot read its config: {exc.args[0].str()}")
        return
    diff = {k: v for k, v in s.config.items() if k not in current or current[k].value != v}
    if diff:
        was = {k: current[k].value if k in current else "unset" for k in diff}
        report.drift.append(f"{s.name}: config " + ", ".join(f"{k} {was[k]} -> {v}" for k, v in diff.items()))
        if not dry_run:
            changed = _set_configs(admin, s.name, diff, report) or changed
    if changed:
        report.updated.append(s.name)
    elif not diff and count == s.partitions:
        report.unchanged.append(s.name)


def _grow(admin: AdminClient, s: TopicSpec, report: ApplyReport) -> bool:
    try:
        for fut in admin.create_partitions([NewPartitions(s.name, s.partitions)]).values():
            fut.result()
        return True
    except KafkaException as exc:
        report.refused.append(f"{s.name}: the broker refused to add partitions: {exc.args[0].str()}")
        return False


def _set_configs(admin: AdminClient, name: str, diff: Mapping[str, str], report: ApplyReport) -> bool:
    entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in diff.items()]
    resource = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
    try:
        for fut in admin.incremental_alter_configs([resource]).values():
            fut.result()
        return True
    except KafkaException as exc:
        report.refused.append(f"{name}: the broker refused the config change: {exc.args[0].str()}")
        return False
