"""The detector builder: every shipped spec builds, settings are checked in one line, the join filter applies."""

from __future__ import annotations

from pathlib import Path

import pytest

from base.errors import ConfigError
from flows.builders import detector
from flows.builders.common import RunEnv
from flows.spec import SPECS_DIR, load_spec, load_specs
from tests.strategies.factories import USDC, WBTC, WETH, pool, quote


def test_every_shipped_detector_spec_builds_without_io() -> None:
    specs = [s for s in load_specs() if s.kind == "detector"]
    assert {s.strategy.name for s in specs} >= {"cross_dex", "triangular", "cex_dex"}
    for spec in specs:
        detector.check_spec(spec)
        flow = detector.detector_flow(spec, RunEnv(bootstrap="127.0.0.1:1"))
        assert flow.flow_id == spec.name
    assert {"join", "clock", "window"} <= detector.SECTIONS


def _spec(tmp_path: Path, extra: str, params: str = "") -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(
        "version: 1\nname: t\nkind: detector\n" + extra + "strategy:\n  name: cross_dex\n  params: {" + params + "}\n"
    )
    return path


def test_bad_settings_are_one_line_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"s.yaml:6: strategy.params.gas_unit: unknown parameter"):
        detector.check_spec(load_spec(_spec(tmp_path, "", "gas_unit: 1")))
    with pytest.raises(ConfigError, match=r"topic 'nope': no Avro schema"):
        detector.check_spec(load_spec(_spec(tmp_path, "inputs: {topics: [nope]}\n")))
    with pytest.raises(ConfigError, match=r"strategy.params.join_by: expected pair, graph or '', got 'venue'"):
        detector.check_spec(load_spec(_spec(tmp_path, "", "join_by: venue")))
    with pytest.raises(ConfigError, match=r"s.yaml:4: clock.hold_ms: expected less than the allowed lateness \(300 ms"):
        detector.check_spec(load_spec(_spec(tmp_path, "clock: {wait_for_system_ms: 300, hold_ms: 300}\n")))


def test_window_types_map_to_bytewax_windowers(tmp_path: Path) -> None:
    import bytewax.operators.windowing as win

    for text, kind in (
        ("", win.SessionWindower),
        ("window: {type: tumbling, length_ms: 2000}\n", win.TumblingWindower),
        ("window: {type: sliding, length_ms: 4000, slide_ms: 2000}\n", win.SlidingWindower),
        ("window: {type: session, gap_ms: 3000}\n", win.SessionWindower),
    ):
        spec = load_spec(_spec(tmp_path, text))
        assert isinstance(detector._windower(spec, detector.strategy_params(spec)), kind)
    assert isinstance(detector._clock(load_spec(_spec(tmp_path, "clock: {type: system}\n")), None), win.SystemClock)


def test_prefixed_topics_use_the_schema_they_end_with() -> None:
    assert detector.schema_topic("prod.market.pool_sync") == "market.pool_sync"
    assert detector.schema_topic("market.quote") == "market.quote"
    assert detector.schema_topic("dlq.anything") == "dlq.anything"


def test_the_join_section_restricts_pairs_and_venues(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, f'join: {{pairs: [["{WETH}", "{USDC}"]], venues: [400]}}\n'))
    accepts = detector._accepts(spec)
    assert accepts(pool("0xa", 400, USDC, 1, WETH, 1))
    assert not accepts(pool("0xb", 401, USDC, 1, WETH, 1))
    assert not accepts(pool("0xc", 400, USDC, 1, WBTC, 1))
    assert accepts(quote("102:ETH/USD", WETH, USDC, bid=1, ask=2))
    assert detector._accepts(load_spec(SPECS_DIR / "cross_dex.yaml"))(pool("0xc", 1, USDC, 1, WBTC, 1))
