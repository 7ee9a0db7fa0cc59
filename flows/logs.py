"""Structured logs: one JSON object per line, for flow processes and the CLI alike.

Each line is ``{"ts", "level", "logger", "msg"}`` plus the fixed fields a process adds (a flow's name), and
``"exc"`` with the traceback when one is logged. ``json.dumps`` does the quoting, so a message with quotes,
backslashes or newlines still makes one parseable line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON.

    Args:
        fields: constant fields added to every line (for example ``{"flow": "cross_dex"}``).
    """

    def __init__(self, fields: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._fields = dict(fields or {})

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object on one line."""
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            **self._fields,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def json_handler(stream: object, fields: Mapping[str, str] | None = None) -> logging.Handler:
    """A stream handler writing :class:`JsonFormatter` lines to ``stream``."""
    handler = logging.StreamHandler(stream)  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter(fields))
    return handler
