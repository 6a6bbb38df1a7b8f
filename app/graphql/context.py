"""The typed per-request context: the caller, the runtime, and fresh loaders."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from app.auth.tokens import Scope
from app.domain.permissions import Actor
from app.graphql.errors import ApiError, forbidden, unauthenticated
from app.graphql.loaders import Loaders
from app.services.accounts import SESSION_TTL, Principal, authenticate
from app.services.runtime import Runtime
from app.services.token_watch import TokenWatch
from app.web.ratelimit import RateLimits

_UNRESOLVED: Any = object()


@dataclass(frozen=True)
class Safeguards:
    """What the endpoint shares with every request: the rate limits, the watch on the tokens
    of open sockets, and how long a session lasts."""

    rate_limits: RateLimits
    tokens: TokenWatch
    session_ttl: timedelta = SESSION_TTL


@dataclass
class Context:
    runtime: Runtime
    token: str | None
    loaders: Loaders = field(default_factory=Loaders)
    connection_params: dict[str, Any] | None = None
    safeguards: Safeguards | None = None
    address: str = "unknown"
    response: Response | None = None  # HTTP only: the sub-response, for headers
    _principal: Principal | None = field(default=_UNRESOLVED)
    _lookup: asyncio.Future[Principal | None] | None = None

    async def principal(self) -> Principal | None:
        """The caller, or None without a token; a bad token is UNAUTHENTICATED.

        The token is looked up once per request: fields resolved at the same time wait on the
        one lookup, and so fail in the order they started (the same error every time)."""
        if self.token is None:
            return None
        if self._principal is _UNRESOLVED:
            if self._lookup is None:
                self._lookup = asyncio.ensure_future(authenticate(self.runtime, self.token))
            principal = await asyncio.shield(self._lookup)
            self._principal = principal
        if self._principal is None:
            raise unauthenticated()
        return self._principal

    async def require(self, *, write: bool = False) -> Principal:
        principal = await self.principal()
        if principal is None:
            raise unauthenticated()
        if write and Scope.WRITE not in principal.scopes:
            raise forbidden()
        return principal

    async def actor(self, *, write: bool = False) -> Actor:
        return (await self.require(write=write)).actor

    @property
    def session_ttl(self) -> timedelta:
        return self.safeguards.session_ttl if self.safeguards is not None else SESSION_TTL

    async def count_login(self, email: str) -> None:
        """Count a `login` or `register` attempt; over the limit it is RATE_LIMITED."""
        if self.safeguards is None:
            return
        refusal = await self.safeguards.rate_limits.login(self.address, email)
        if refusal is None:
            return
        if self.response is not None:
            self.response.headers["retry-after"] = str(refusal.retry_after)
        raise ApiError("RATE_LIMITED", refusal.message)

    @property
    def token_id(self) -> int | None:
        """The id of the caller's token, once known."""
        principal = self._principal
        if principal is _UNRESOLVED or principal is None:
            return None
        return principal.token_id

    @property
    def viewer_key(self) -> tuple[int, bool] | None:
        """Who the caller is, once known: subscriptions of one viewer may share execution."""
        principal = self._principal
        if principal is _UNRESOLVED or principal is None:
            return None
        return (principal.user_id, principal.is_admin)


Info = StrawberryInfo[Context, None]
