"""The account object types: API tokens and sessions. The account mutations (register, login,
createApiToken, revokeApiToken) are rows of the table in mutations.py like every other."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.enums import Scope
from app.graphql.leaf_types import Node, global_id, plain_values
from app.services.records import TokenRecord


@strawberry.type(
    description="A bearer token: an API token made by `createApiToken`, or a session opened "
    "by `login` or `register`. Either stops working when revoked, on every open WebSocket too."
)
class ApiToken(Node):
    name: str = strawberry.field(
        description="The name given at `createApiToken` (`session` for a session)."
    )
    scopes: list[Scope] = strawberry.field(description="What the token may do.")
    created_at: datetime = strawberry.field(description="When it was issued.")
    last_used_at: datetime | None = strawberry.field(
        description="When it last authenticated a request (kept to the minute or so); null if "
        "never."
    )
    is_session: bool = strawberry.field(
        description="True for a session from `login` or `register`, which expires."
    )
    expires_at: datetime | None = strawberry.field(
        description="When a session stops working (after `SESSION_TTL`); null for API tokens."
    )

    @classmethod
    def from_record(cls, record: TokenRecord) -> ApiToken:
        return cls(
            id=global_id("ApiToken", record.id),
            **plain_values(cls, record, scopes=sorted(record.scopes)),
        )
