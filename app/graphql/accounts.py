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


@strawberry.type
class ApiToken(Node):
    name: str
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def from_row(cls, row: models.ApiToken) -> ApiToken:
        return cls(
            id=strawberry.ID(encode_id("ApiToken", row.id)),
            name=row.name,
            scopes=sorted(decode_scopes(row.scopes)),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
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


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Create an account; returns a session token.")
    async def register(self, info: Info, input: RegisterInput) -> RegisterPayload:
        try:
            user, token = await accounts.register(
                info.context.runtime, name=input.name, email=input.email, password=input.password
            )
        except DomainError as error:
            return RegisterPayload(user_errors=user_errors(error))
        return RegisterPayload(user=User.from_row(user, is_caller=True), token=token)

    @strawberry.mutation(description="Exchange an e-mail address and password for a token.")
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        try:
            user, token = await accounts.login(
                info.context.runtime, email=input.email, password=input.password
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

    @strawberry.mutation
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
