"""Account mutations: register, login, API tokens."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.auth.tokens import Scope, decode_scopes
from app.db import models
from app.domain.errors import DomainError
from app.graphql.context import Info
from app.graphql.errors import UserError, user_errors
from app.graphql.ids import decode_id, encode_id
from app.graphql.types import Node, User
from app.services import accounts

strawberry.enum(Scope, name="TokenScope")


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


@strawberry.input
class RegisterInput:
    name: str
    email: str
    password: str


@strawberry.input
class LoginInput:
    email: str
    password: str


@strawberry.type
class AuthPayload:
    """The shape of register's and login's payloads."""

    user: User | None = None
    token: str | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RegisterPayload(AuthPayload):
    pass


@strawberry.type
class LoginPayload(AuthPayload):
    pass


@strawberry.input
class CreateApiTokenInput:
    name: str
    scopes: list[Scope]


@strawberry.type
class CreateApiTokenPayload:
    token: str | None = strawberry.field(default=None, description="The secret; shown once.")
    api_token: ApiToken | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RevokeApiTokenInput:
    id: strawberry.ID


@strawberry.type
class RevokeApiTokenPayload:
    api_token: ApiToken | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


ANONYMOUS_MUTATIONS = frozenset({"register", "login"})  # the only ones that need no token


@strawberry.type
class AccountMutation:
    @strawberry.mutation(
        description="Create an account; returns a session token, which expires after "
        "`SESSION_TTL`. Attempts are limited per client address and per e-mail address."
    )
    async def register(self, info: Info, input: RegisterInput) -> RegisterPayload:
        await info.context.count_login(input.email)
        try:
            user, token = await accounts.register(
                info.context.runtime,
                name=input.name,
                email=input.email,
                password=input.password,
                session_ttl=info.context.session_ttl,
            )
        except DomainError as error:
            return RegisterPayload(user_errors=user_errors(error))
        return RegisterPayload(user=User.from_row(user, is_caller=True), token=token)

    @strawberry.mutation(
        description="Exchange an e-mail address and password for a session token, which "
        "expires after `SESSION_TTL` and is listed in `apiTokens`. Attempts are limited per "
        "client address and per e-mail address."
    )
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        await info.context.count_login(input.email)
        try:
            user, token = await accounts.login(
                info.context.runtime,
                email=input.email,
                password=input.password,
                session_ttl=info.context.session_ttl,
            )
        except DomainError as error:
            return LoginPayload(user_errors=user_errors(error))
        return LoginPayload(user=User.from_row(user, is_caller=True), token=token)

    @strawberry.mutation
    async def create_api_token(
        self, info: Info, input: CreateApiTokenInput
    ) -> CreateApiTokenPayload:
        principal = await info.context.require(write=True)
        try:
            issued = await accounts.create_api_token(
                info.context.runtime,
                principal,
                name=input.name,
                scopes=list(input.scopes),
            )
        except DomainError as error:
            return CreateApiTokenPayload(user_errors=user_errors(error))
        return CreateApiTokenPayload(token=issued.secret, api_token=ApiToken.from_row(issued.token))

    @strawberry.mutation(
        description="Revoke an API token or a session of the viewer's: it stops working at "
        "once over HTTP, and within a second on every WebSocket open with it (its "
        "subscriptions end with UNAUTHENTICATED and the socket closes with 4403)."
    )
    async def revoke_api_token(
        self, info: Info, input: RevokeApiTokenInput
    ) -> RevokeApiTokenPayload:
        principal = await info.context.require(write=True)
        try:
            token = await accounts.revoke_api_token(
                info.context.runtime, principal, decode_id(input.id, "ApiToken")
            )
        except DomainError as error:
            return RevokeApiTokenPayload(user_errors=user_errors(error))
        return RevokeApiTokenPayload(api_token=ApiToken.from_row(token))
