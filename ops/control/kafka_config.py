"""Kafka client security settings from a file, passed through to every client pulsearb starts.

The file names librdkafka settings; the password is never written in it but read from an environment variable or
a file at start-up::

    security.protocol: SASL_SSL
    sasl.mechanism: SCRAM-SHA-512
    sasl.username: pulsearb-detector
    sasl.password: {env: KAFKA_PASSWORD}        # or {file: /run/secrets/kafka-password}
    ssl.ca.location: /etc/pulsearb/kafka-ca.pem

In-process clients (``topics apply``, deploy checks) take :meth:`KafkaSettings.extra`; flow processes inherit
:meth:`KafkaSettings.env`, the ``PULSEARB_KAFKA_*`` variables that ``sinks.kafka.client_config`` reads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from base.errors import ConfigError
from sinks.kafka import PASSTHROUGH_ENV  # the one list of settings every client honours

CONFIG_ENV = "PULSEARB_KAFKA_CONFIG"
SECRET_KEYS = frozenset({"sasl.password"})
ENV_FOR_KEY = {key: env for env, key in PASSTHROUGH_ENV.items()}


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """Resolved client settings (librdkafka names); the password is held in memory only and never shown."""

    values: Mapping[str, str] = field(default_factory=dict)
    source: str = ""

    def extra(self) -> dict[str, str]:
        """Settings for a client created in this process."""
        return dict(self.values)

    def env(self) -> dict[str, str]:
        """``PULSEARB_KAFKA_*`` variables that carry the settings to a child process."""
        return {ENV_FOR_KEY[k]: v for k, v in self.values.items()}

    def __repr__(self) -> str:
        shown = {k: ("***" if k in SECRET_KEYS else v) for k, v in self.values.items()}
        return f"KafkaSettings({shown}, source={self.source!r})"


def _secret(path: Path, key: str, value: object) -> str:
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in ("env", "file"):
        got = "a literal value" if isinstance(value, str | int) else type(value).__name__
        msg = f"{path}: {key}: expected {{env: VARIABLE}} or {{file: PATH}} (never the secret itself), got {got}"
        raise ConfigError(msg)
    how, where = next(iter(value.items()))
    if how == "env":
        if not os.environ.get(str(where)):
            msg = f"{path}: {key}: environment variable {where} is not set"
            raise ConfigError(msg)
        return os.environ[str(where)]
    try:
        return Path(str(where)).read_text().strip()
    except OSError as exc:
        msg = f"{path}: {key}: cannot read the secret file {where}: {exc.strerror}"
        raise ConfigError(msg) from exc


def load_kafka_settings(path: Path | None = None) -> KafkaSettings:
    """Read a Kafka settings file (``path``, else ``$PULSEARB_KAFKA_CONFIG``, else none: empty settings).

    Raises:
        ConfigError: the file is unreadable, names a setting pulsearb cannot pass to its flows, or holds a literal
            password (one line naming the file and the key).
    """
    if path is None and os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    if path is None:
        return KafkaSettings()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        msg = f"{path}: cannot read the Kafka settings file: {exc.strerror}"
        raise ConfigError(msg) from exc
    except yaml.YAMLError as exc:
        msg = f"{path}: invalid YAML: {getattr(exc, 'problem', exc)}"
        raise ConfigError(msg) from exc
    if not isinstance(data, dict):
        msg = f"{path}: expected a mapping of librdkafka settings, got {type(data).__name__}"
        raise ConfigError(msg)
    values: dict[str, str] = {}
    for key, value in data.items():
        if key not in ENV_FOR_KEY:
            msg = f"{path}: {key}: unknown setting; expected one of {', '.join(sorted(ENV_FOR_KEY))}"
            raise ConfigError(msg)
        values[key] = _secret(path, key, value) if key in SECRET_KEYS else str(value)
    return KafkaSettings(values, str(path))
