"""uvicorn's logging, with the values of every query string left out.

uvicorn writes the path with its whole query string into the access log (and into the
"WebSocket … [accepted]" line): a `GET /graphql?query=…` carries the request itself, a refused
`login` mutation sent by GET included, password and all. No uvicorn option turns that off, so
a filter on its handlers rewrites the record's arguments: each path loses its query string, and
`?…` shows there was one (its parameter names are left out too: `?secret` has no value).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG

REDACTED = "…"


def redact_query(path: str) -> str:
    """`/graphql?query=x&variables=y` -> `/graphql?…`."""
    base, mark, _ = path.partition("?")
    return f"{base}?{REDACTED}" if mark else path


class RedactQuery(logging.Filter):
    """Leaves out the query values of any path among a record's arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query(arg) if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration, with `RedactQuery` on each of its handlers."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_query"] = {"()": RedactQuery}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_query")
    return config
