"""A fixed-window rate limit per token (per client address without one), per process."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.tokens import bearer_token

WINDOW_SECONDS = 60


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._window = 0
        self._counts: dict[str, int] = {}

    def allow(self, key: str) -> bool:
        window = int(self.clock() // WINDOW_SECONDS)
        if window != self._window:
            self._window, self._counts = window, {}
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        return count <= self.per_minute

    def retry_after(self) -> int:
        return WINDOW_SECONDS - int(self.clock() % WINDOW_SECONDS)


def caller_key(scope: Scope) -> str:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    token = bearer_token(headers.get("authorization"))
    if token is not None:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()
    client = scope.get("client")
    return "addr:" + (client[0] if client else "unknown")


class RateLimitMiddleware:
    """Refuses requests to `path` beyond the limit with a GraphQL `RATE_LIMITED` error."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, path: str = "/graphql") -> None:
        self.app = app
        self.limiter = limiter
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        if self.limiter.allow(caller_key(scope)):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "data": None,
                "errors": [
                    {
                        "message": f"More than {self.limiter.per_minute} requests a minute",
                        "extensions": {"code": "RATE_LIMITED"},
                    }
                ],
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", str(self.limiter.retry_after()).encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
