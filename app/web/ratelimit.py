"""Rate limits: moving windows (the `limits` library), shared by every process through Redis
when `REDIS_URL` is set, else kept in the process.

Every request counts twice, once for its bearer token and once for its client address, and is
refused when either is over: a fresh junk token per request still runs into its address's
limit. An address carries several users' tokens (an office behind one NAT), so it may send
`ADDRESS_SHARE` times a token's limit. `login` and `register` also count, more strictly, per
address and per e-mail address.

A Redis that cannot be reached does not refuse anyone: the counters fall back to this
process's own for `REDIS_RETRY_SECONDS`, with one warning per outage, and Redis is tried again
after that.

This process's own counters are `LocalWindows`, the same moving window as the `limits`
library's in-memory storage without its cost: that one sweeps every key through a worker
thread (`asyncio.to_thread`) in a task it starts again after each hit, about 0.15 ms of CPU
per request and more with each key counted in the last minute.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections import deque
from dataclasses import dataclass

import coredis
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.util import WindowStats
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.http import GraphQLHTTPResponse

from app.auth.tokens import bearer_token
from app.web.media_types import response_media_type

logger = logging.getLogger("app.ratelimit")

ADDRESS_SHARE = 5
REDIS_RETRY_SECONDS = 10.0
REDIS_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True)
class Refusal:
    message: str
    retry_after: int  # seconds until the oldest counted hit leaves the window


def _digest(text: str) -> str:
    """Counter keys hold no secret and no e-mail address in the clear."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class LocalWindows:
    """Moving windows in this process: the times of the hits of each key in the last window
    (oldest first), as many as the limit at most. A refused hit is not counted. Keys whose
    hits have all left their window are forgotten once a window."""

    def __init__(self) -> None:
        self._hits: dict[
            tuple[int, int, tuple[str, ...]], deque[float]
        ] = {}  # by limit, window, key
        self._swept = time.time()

    async def hit(self, item: RateLimitItem, *key: str) -> bool:
        now = time.time()
        hits = self._recent(item, key, now)
        if len(hits) >= item.amount:
            return False
        hits.append(now)
        if now - self._swept > item.get_expiry():
            self._sweep(now)
        return True

    async def get_window_stats(self, item: RateLimitItem, *key: str) -> WindowStats:
        now = time.time()
        hits = self._recent(item, key, now)
        oldest = hits[0] if hits else now
        return WindowStats(oldest + item.get_expiry(), item.amount - len(hits))

    def _recent(self, item: RateLimitItem, key: tuple[str, ...], now: float) -> deque[float]:
        expiry = item.get_expiry()
        hits = self._hits.setdefault((item.amount, expiry, key), deque())
        while hits and hits[0] < now - expiry:  # a hit exactly one window old still counts
            hits.popleft()
        return hits

    def _sweep(self, now: float) -> None:
        self._swept = now
        for name, hits in list(self._hits.items()):
            if not hits or hits[-1] < now - name[1]:
                del self._hits[name]


Limiter = MovingWindowRateLimiter | LocalWindows


class RateLimits:
    def __init__(
        self,
        per_minute: int,
        login_per_minute: int,
        redis_url: str | None = None,
        namespace: str = "escrow",
    ) -> None:
        self.per_minute = per_minute
        self.login_per_minute = login_per_minute
        self._token = RateLimitItemPerMinute(per_minute)
        self._address = RateLimitItemPerMinute(per_minute * ADDRESS_SHARE)
        self._login = RateLimitItemPerMinute(login_per_minute)
        self._local = LocalWindows()
        self._shared: MovingWindowRateLimiter | None = None
        self._pool: coredis.ConnectionPool | None = None
        if redis_url is not None:
            self._pool = coredis.ConnectionPool.from_url(
                redis_url,
                connect_timeout=REDIS_TIMEOUT_SECONDS,
                stream_timeout=REDIS_TIMEOUT_SECONDS,
            )
            storage = storage_from_string(
                "async+" + redis_url,
                key_prefix=f"ratelimit:{namespace}",
                wrap_exceptions=True,
                connection_pool=self._pool,  # type: ignore[arg-type]  # typed too narrowly
            )
            assert isinstance(storage, Storage)
            self._shared = MovingWindowRateLimiter(storage)
        self._redis_down_until: float | None = None

    def close(self) -> None:
        """Close the connections to Redis, if any."""
        if self._pool is not None:
            self._pool.disconnect()

    @property
    def shared(self) -> bool:
        """Whether the counters are meant to be shared through Redis."""
        return self._shared is not None

    def describe(self) -> str:
        if self._shared is not None:
            return "Rate limits are shared by every process through Redis (REDIS_URL)."
        return "Rate limits are counted per process: set REDIS_URL to share them."

    def _limiter(self) -> Limiter:
        down = self._redis_down_until
        if self._shared is None or (down is not None and time.monotonic() < down):
            return self._local
        return self._shared

    async def _hit(self, item: RateLimitItem, *key: str) -> tuple[bool, Limiter]:
        limiter = self._limiter()
        if limiter is self._shared:
            try:
                allowed = await limiter.hit(item, *key)
            except StorageError as error:
                if self._redis_down_until is None:
                    logger.warning(
                        "Redis is unreachable (%s): rate limits are per process until it is back",
                        type(error.storage_error).__name__,
                    )
                self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
                limiter = self._local
            else:
                if self._redis_down_until is not None:
                    logger.warning("Redis is back: rate limits are shared again")
                    self._redis_down_until = None
                return allowed, limiter
        return await limiter.hit(item, *key), limiter

    async def _refusal(
        self, what: str, limiter: Limiter, item: RateLimitItem, *key: str
    ) -> Refusal:
        try:
            reset = (await limiter.get_window_stats(item, *key)).reset_time
        except StorageError:
            reset = time.time() + item.get_expiry()
        return Refusal(
            message=f"More than {item.amount} {what} a minute",
            retry_after=max(1, math.ceil(reset - time.time())),
        )

    async def _check(
        self, what: str, *limits: tuple[RateLimitItem, tuple[str, ...]]
    ) -> Refusal | None:
        for item, key in limits:
            allowed, limiter = await self._hit(item, *key)
            if not allowed:
                return await self._refusal(what, limiter, item, *key)
        return None

    async def request(self, token: str | None, address: str) -> Refusal | None:
        """Count one request (or one operation over a WebSocket) of this token and address."""
        checks = [(self._address, ("address", address))]
        if token is not None:
            checks.append((self._token, ("token", _digest(token))))
        return await self._check("requests", *checks)

    async def login(self, address: str, email: str) -> Refusal | None:
        """Count one `login` or `register` attempt from this address for this e-mail."""
        return await self._check(
            "login or register attempts",
            (self._login, ("login-address", address)),
            (self._login, ("login-email", _digest(email.strip().lower()))),
        )


def refusal_result(refusal: Refusal) -> GraphQLHTTPResponse:
    """The result of a refused request (HTTP 200) or operation of a batch: `RATE_LIMITED`."""
    error = {"message": refusal.message, "extensions": {"code": "RATE_LIMITED"}}
    return {"data": None, "errors": [error]}


class RateLimitMiddleware:
    """Refuses HTTP requests to `path` beyond the limits with a GraphQL `RATE_LIMITED` error,
    and WebSocket handshakes beyond the address's limit (1008, before accepting); operations
    over a WebSocket are counted one by one where they arrive (app.graphql.sockets)."""

    def __init__(self, app: ASGIApp, limits: RateLimits, path: str = "/graphql") -> None:
        self.app = app
        self.limits = limits
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            if await self.limits.request(None, client_address(scope)) is None:
                await self.app(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        token = bearer_token(headers.get("authorization"))
        refusal = await self.limits.request(token, client_address(scope))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps(refusal_result(refusal)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", response_media_type(headers.get("accept")).encode()),
                    (b"retry-after", str(refusal.retry_after).encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
