"""Cross-origin requests: which origins, methods and headers a browser page may use, and which
response headers its scripts may read."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from app.settings import Settings

ALWAYS_ALLOWED_HEADERS = ("Authorization", "Content-Type")
# A rate-limited client is told when to try again (docs/limits.md).
EXPOSED_HEADERS = ("Retry-After",)


def cors_middleware(settings: Settings) -> Middleware:
    return Middleware(
        CORSMiddleware,
        allow_origins=list(settings.CORS_ORIGINS),
        allow_methods=["GET", "POST"],
        allow_headers=[*ALWAYS_ALLOWED_HEADERS, *settings.CORS_ALLOW_HEADERS],
        expose_headers=list(EXPOSED_HEADERS),
    )
