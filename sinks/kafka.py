"""Kafka producer side: client configuration and a delivery-counted, idempotent producer.

Every pulsearb producer uses the Java-compatible ``murmur2_random`` partitioner, so records with the same key land
in the same partition number on every co-keyed topic (co-partitioning), whichever client wrote them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaException, Producer

from base.errors import PulsearbError

# Security and client settings that pass through from configuration/environment unchanged.
PASSTHROUGH_ENV = {
    "PULSEARB_KAFKA_SECURITY_PROTOCOL": "security.protocol",
    "PULSEARB_KAFKA_SASL_MECHANISM": "sasl.mechanism",
    "PULSEARB_KAFKA_SASL_USERNAME": "sasl.username",
    "PULSEARB_KAFKA_SASL_PASSWORD": "sasl.password",
    "PULSEARB_KAFKA_SSL_CA_LOCATION": "ssl.ca.location",
    "PULSEARB_KAFKA_SSL_CERTIFICATE_LOCATION": "ssl.certificate.location",
    "PULSEARB_KAFKA_SSL_KEY_LOCATION": "ssl.key.location",
}


#: librdkafka's RD_KAFKA_PARTITION_UA: no partition given, the configured partitioner picks one.
_ANY_PARTITION = -1


class KafkaDeliveryError(PulsearbError):
    """Records could not be delivered to Kafka."""


def client_config(bootstrap: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Base librdkafka config: bootstrap servers, security settings from the environment, then ``extra``."""
    config: dict[str, Any] = {"bootstrap.servers": bootstrap}
    for env, key in PASSTHROUGH_ENV.items():
        if os.environ.get(env):
            config[key] = os.environ[env]
    if extra:
        config.update(extra)
    return config


def producer_config(bootstrap: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Idempotent producer config with the shared partitioner and a small linger for batching."""
    config = client_config(
        bootstrap,
        {
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "linger.ms": 2,
            "batch.num.messages": 10000,
            "queue.buffering.max.messages": 500000,
            "compression.type": "lz4",
        },
    )
    if extra:
        config.update(extra)
    return config


@dataclass(slots=True)
class DeliveryStats:
    """Delivery-report counters."""

    produced: int = 0
    delivered: int = 0
    failed: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)
    last_error: str = ""


class KafkaWriter:
    """An idempotent producer whose delivery reports are counted.

    Args:
        bootstrap: ``host:port[,host:port]``.
        extra: librdkafka settings that override the defaults.
    """

    def __init__(self, bootstrap: str, extra: Mapping[str, Any] | None = None) -> None:
        self._producer = Producer(producer_config(bootstrap, extra))
        self.stats = DeliveryStats()
        self._callbacks: dict[str, Callable[[Any, Any], None]] = {}

    def _on_delivery(self, topic: str) -> Callable[[Any, Any], None]:
        """The delivery-report callback of ``topic`` (one per topic: a report then needs no ``msg.topic()``)."""
        callback = self._callbacks.get(topic)
        if callback is None:
            stats = self.stats
            by_topic = stats.by_topic

            def callback(err: Any, msg: Any) -> None:
                if err is not None:
                    stats.failed += 1
                    stats.last_error = str(err)
                    return
                stats.delivered += 1
                by_topic[topic] = by_topic.get(topic, 0) + 1

            self._callbacks[topic] = callback
        return callback

    def produce(self, topic: str, key: bytes | None, value: bytes, headers: list | None = None) -> None:
        """Queue one record (waits for queue space instead of failing when the local queue is full)."""
        on_delivery = self._callbacks.get(topic) or self._on_delivery(topic)
        while True:
            try:
                self._producer.produce(topic, value, key, headers=headers, on_delivery=on_delivery)
                break
            except BufferError:
                self._producer.poll(0.05)
            except KafkaException as exc:
                msg = f"cannot produce to {topic}: {exc}"
                raise KafkaDeliveryError(msg) from exc
        self.stats.produced += 1
        # Serve delivery reports in batches: a poll per record costs as much as the produce itself.
        if self.stats.produced % 256 == 0:
            self._producer.poll(0)

    def produce_many(self, records: Iterable[tuple[str, bytes | None, bytes]]) -> None:
        """Queue ``(topic, key, value)`` records in order, as :meth:`produce` does one by one.

        Raises:
            KafkaDeliveryError: the client refuses a record (unknown topic, record too large).
        """
        produce, stats, callbacks, on_delivery = self._producer.produce, self.stats, self._callbacks, self._on_delivery
        for topic, key, value in records:
            try:
                # Positional arguments parse in half the time of keywords; partition -1 lets the partitioner decide,
                # as leaving it out does.
                produce(topic, value, key, _ANY_PARTITION, callbacks.get(topic) or on_delivery(topic))
            except (BufferError, KafkaException):
                self.produce(topic, key, value)  # waits for queue space, or raises KafkaDeliveryError
                continue
            stats.produced += 1
            if stats.produced % 256 == 0:
                self._producer.poll(0)

    def poll(self, timeout_s: float = 0.0) -> int:
        """Serve pending delivery reports; return how many were served."""
        return self._producer.poll(timeout_s)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every queued record is delivered or failed.

        Raises:
            KafkaDeliveryError: records are still undelivered after ``timeout_s`` or some failed.
        """
        remaining = self._producer.flush(timeout_s)
        if remaining:
            msg = f"{remaining} records still undelivered after {timeout_s:.0f} s (broker unreachable?)"
            raise KafkaDeliveryError(msg)
        if self.stats.failed:
            msg = f"{self.stats.failed} records failed delivery; last error: {self.stats.last_error}"
            raise KafkaDeliveryError(msg)
