"""Log lines are JSON objects, whatever the message holds."""

from __future__ import annotations

import io
import json
import logging

from flows.logs import JsonFormatter, json_handler


def test_a_line_is_one_json_object_with_the_fixed_fields() -> None:
    stream = io.StringIO()
    log = logging.getLogger("pulsearb.test_logs")
    log.propagate = False
    log.addHandler(json_handler(stream, {"flow": "cross_dex"}))
    try:
        log.warning("pool %s said 'hi' and \"bye\"\nthen \\ left", "0xabc")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    finally:
        log.handlers.clear()
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "pool 0xabc said 'hi' and \"bye\"\nthen \\ left"
    assert (first["level"], first["logger"], first["flow"]) == ("WARNING", "pulsearb.test_logs", "cross_dex")
    assert first["ts"].endswith("+00:00") and "exc" not in first
    assert second["msg"] == "failed" and "ValueError: boom" in second["exc"]


def test_the_formatter_alone_formats_a_record() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "n=%d", (3,), None)
    assert json.loads(JsonFormatter().format(record))["msg"] == "n=3"
