"""The typed per-request context: the caller, the runtime, and fresh loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from app.auth.tokens import Scope
from app.domain.contract import Actor
from app.graphql.errors import forbidden, unauthenticated
from app.graphql.loaders import Loaders
from app.services.accounts import Principal, authenticate
from app.services.runtime import Runtime

_UNRESOLVED: Any = object()


@dataclass
class Context:
    runtime: Runtime
    token: str | None
    loaders: Loaders = field(default_factory=Loaders)
    connection_params: dict[str, Any] | None = None
    _principal: Principal | None = field(default=_UNRESOLVED)

    async def principal(self) -> Principal | None:
        """The caller, or None without a token; a bad token is UNAUTHENTICATED."""
        if self._principal is _UNRESOLVED:
            self._principal = (
                await authenticate(self.runtime, self.token) if self.token is not None else None
            )
            if self.token is not None and self._principal is None:
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
    def viewer_key(self) -> tuple[int, bool] | None:
        """Who the caller is, once known: subscriptions of one viewer may share execution."""
        principal = self._principal
        if principal is _UNRESOLVED or principal is None:
            return None
        return (principal.user_id, principal.is_admin)


Info = StrawberryInfo[Context, None]
