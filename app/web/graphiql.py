"""GraphiQL, served with its own assets (no CDN)."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"


def graphiql_html() -> str:
    return "<!doctype html><title>GraphiQL</title><p>GraphiQL assets pending</p>"
