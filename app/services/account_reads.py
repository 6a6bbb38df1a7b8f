"""The accounts as the GraphQL layer reads them: a user's tokens and sessions as records, and
what the account services (`app.services.accounts`) return, turned into records."""

from __future__ import annotations

from app.db import models
from app.services.accounts import IssuedToken, live_tokens_of
from app.services.records import TOKENS, USERS, TokenRecord, UserRecord
from app.services.runtime import Runtime

# What `accounts.register` and `accounts.login` return (the user and a session's secret), and
# what `accounts.revoke_api_token` returns.
Session = tuple[models.User, str]
RevokedToken = models.ApiToken


async def live_tokens(runtime: Runtime, user_id: int) -> list[TokenRecord]:
    """A user's API tokens and sessions that still work, oldest first."""
    return [TOKENS.from_row(row) for row in await live_tokens_of(runtime, user_id)]


async def own_token(user_id: int, token_id: int) -> TokenRecord | None:
    row = await models.ApiToken.filter(id=token_id, user_id=user_id).first()
    return TOKENS.from_row(row) if row is not None else None


def session_record(session: Session) -> tuple[UserRecord, str]:
    user, secret = session
    return USERS.from_row(user), secret


def issued_record(issued: IssuedToken) -> tuple[str, TokenRecord]:
    """The secret of a new token, and the token."""
    return issued.secret, TOKENS.from_row(issued.token)


def token_record(token: RevokedToken) -> TokenRecord:
    return TOKENS.from_row(token)
