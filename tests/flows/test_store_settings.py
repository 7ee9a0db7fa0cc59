"""The archive's store settings are part of the spec schema: accepted when valid, one line each when not."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.builders.archive import sink_config
from flows.builders.common import RunEnv
from flows.spec import SpecError, load_spec

SPEC = """version: 1
name: archive_tuned
kind: archive
inputs:
  topics: [market.pool_sync]
store:
  dsn: "chdb://memory"
  batch_rows: {rows}
  batch_age_s: 0.25
  max_backoff_s: 5
  aliases: {{market.pool_sync.staging: market.pool_sync}}
"""


def test_store_settings_reach_the_sink(tmp_path: Path) -> None:
    path = tmp_path / "archive_tuned.yaml"
    path.write_text(SPEC.format(rows=1000))
    cfg = sink_config(load_spec(path), RunEnv(bootstrap="127.0.0.1:9092"))
    assert (cfg.max_rows, cfg.max_age_s, cfg.max_backoff_s) == (1000, 0.25, 5.0)
    assert dict(cfg.aliases) == {"market.pool_sync.staging": "market.pool_sync"}


def test_a_bad_store_setting_is_one_line_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "archive_tuned.yaml"
    path.write_text(SPEC.format(rows=0))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert err.value.problems == [f"{path}:8: store.batch_rows: expected an integer >= 1, got 0"]
