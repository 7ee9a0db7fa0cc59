"""The one topic -> schema rule every flow uses (schemas.serde.schema_topic)."""

from __future__ import annotations

import pytest

from base.errors import ConfigError
from schemas.serde import schema_topic, topics_with_schemas


@pytest.mark.parametrize(
    ("topic", "schema"),
    [
        ("market.pool_sync", "market.pool_sync"),  # a topic with a schema of its own
        ("arb.opportunity", "arb.opportunity"),
        ("prod.market.pool_sync", "market.pool_sync"),  # a per-environment prefix (the detector's convention)
        ("eu.prod.arb.opportunity", "arb.opportunity"),
        ("market.pool_sync.staging", "market.pool_sync"),  # a staging or test copy (the archive's convention)
        ("market.pool_state.drill_1a2b", "market.pool_state"),
        ("prod.market.quote.v2", "market.quote"),  # both at once
        ("dlq.relay", "dlq.relay"),  # every dlq.* topic is itself (they share the dlq schema)
        ("dlq.market.pool_sync", "dlq.market.pool_sync"),
        ("dlq", "dlq"),  # the dead-letter schema's own name
        ("market.trade.market.quote", "market.trade"),  # two equally long matches: the one further left
    ],
)
def test_a_topic_uses_the_schema_it_names_as_whole_segments(topic: str, schema: str) -> None:
    assert schema_topic(topic) == schema


@pytest.mark.parametrize("topic", ["nope", "market", "market.pool_syncs", "xmarket.pool_sync", "foo.dlq"])
def test_a_name_that_holds_no_schema_topic_as_whole_segments_is_refused(topic: str) -> None:
    with pytest.raises(ConfigError, match=rf"topic {topic!r}: no Avro schema in schemas/avro matches it"):
        schema_topic(topic)


def test_an_alias_wins_over_the_rule() -> None:
    aliases = {"market.pool_sync.staging": "market.pool_state", "raw.gas": "market.gas_price"}
    assert schema_topic("market.pool_sync.staging", aliases) == "market.pool_state"
    assert schema_topic("raw.gas", aliases) == "market.gas_price"
    assert schema_topic("market.pool_sync.other", aliases) == "market.pool_sync"


def test_every_schema_topic_maps_to_itself_with_a_prefix_or_a_suffix() -> None:
    for name in topics_with_schemas():
        if name == "dlq":
            continue
        assert schema_topic(name) == schema_topic(f"test.{name}") == schema_topic(f"{name}.test") == name
