"""The account object types: API tokens and sessions. The account mutations (register, login,
createApiToken, revokeApiToken) are rows of the table in mutations.py like every other."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.auth.tokens import decode_scopes
from app.db import models
from app.graphql.enums import Scope
from app.graphql.ids import encode_id
from app.graphql.leaf_types import Node


@strawberry.type(
    description="A bearer token: an API token made by `createApiToken`, or a session opened "
    "by `login` or `register`. Either stops working when revoked, on every open WebSocket too."
)
class ApiToken(Node):
    name: str
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None
    is_session: bool = strawberry.field(
        description="True for a session from `login` or `register`, which expires."
    )
    expires_at: datetime | None = strawberry.field(
        description="When a session stops working (after `SESSION_TTL`); null for API tokens."
    )

    @classmethod
    def from_row(cls, row: models.ApiToken) -> ApiToken:
        return cls(
            id=strawberry.ID(encode_id("ApiToken", row.id)),
            name=row.name,
            scopes=sorted(decode_scopes(row.scopes)),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            is_session=row.is_session,
            expires_at=row.expires_at,
        )
