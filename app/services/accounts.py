"""Accounts and credentials: registration, login, API tokens, and who a token belongs to.

argon2 hashes and verifies in a worker thread (it releases the GIL), so that a burst of logins
does not hold the event loop for everyone else: ~0.1 s of CPU each.

Who a token belongs to is asked of the database at most once a second per token and process
(`Runtime.principals`, app/services/principals.py): a token revoked here stops working at once,
one revoked on another process within `PRINCIPAL_TTL`, and a session at its expiry exactly.
`last_used_at` is written at most once per `LAST_USED_RESOLUTION` per token and process.

The account mutations' commands are here rather than in `app.domain.commands`, as their scopes
are `app.auth`'s."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app.auth.passwords import hash_password, verify_password
from app.auth.tokens import Scope, decode_scopes, encode_scopes, new_token, token_digest
from app.db import models
from app.domain.checks import checking
from app.domain.commands import Command
from app.domain.errors import ErrorCode, refuse
from app.domain.permissions import Actor
from app.services.principals import Known
from app.services.runtime import Runtime

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL = 320
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
SESSION_TOKEN_NAME = "session"
SESSION_TTL = timedelta(days=30)
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """The user behind a request's token, and what the token may do."""

    user_id: int
    is_admin: bool
    scopes: frozenset[Scope]
    token_id: int | None = None  # None for a principal made in code rather than by a token

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, is_admin=self.is_admin)


@dataclass(frozen=True, kw_only=True)
class Register(Command):
    name: str
    email: str
    password: str


@dataclass(frozen=True, kw_only=True)
class Login(Command):
    email: str
    password: str


@dataclass(frozen=True, kw_only=True)
class CreateApiToken(Command):
    name: str
    scopes: tuple[Scope, ...]


@dataclass(frozen=True, kw_only=True)
class RevokeApiToken(Command):
    id: int


@dataclass(frozen=True)
class IssuedToken:
    secret: str
    token: models.ApiToken


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _check_new_user(name: str, email: str, password: str) -> None:
    with checking() as check:
        if not name.strip() or len(name) > 200:
            check.add(ErrorCode.INVALID_INPUT, "A name has 1 to 200 characters", ["name"])
        if not _EMAIL.match(email) or len(email) > MAX_EMAIL:
            check.add(ErrorCode.INVALID_INPUT, "Not an e-mail address", ["email"])
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            check.add(
                ErrorCode.INVALID_INPUT,
                f"A password has at least {MIN_PASSWORD} characters",
                ["password"],
            )


async def create_user(
    *, name: str, email: str, password: str, is_admin: bool = False
) -> models.User:
    email = normalise_email(email)
    _check_new_user(name, email, password)
    taken = refuse(ErrorCode.EMAIL_TAKEN, "This e-mail address is already registered", ["email"])
    if await models.User.exists(email=email):
        raise taken
    try:
        password_hash = await asyncio.to_thread(hash_password, password)
        return await models.User.create(
            name=name.strip(), email=email, password_hash=password_hash, is_admin=is_admin
        )
    except IntegrityError:
        raise taken from None


async def _issue(
    runtime: Runtime,
    user_id: int,
    name: str,
    scopes: set[Scope],
    *,
    session_ttl: timedelta | None = None,
) -> IssuedToken:
    """A new token; with `session_ttl`, a session that expires after it."""
    secret = new_token()
    now = runtime.clock()
    token = await models.ApiToken.create(
        user_id=user_id,
        name=name,
        token_hash=token_digest(secret, runtime.secret_key),
        scopes=encode_scopes(scopes),
        is_session=session_ttl is not None,
        created_at=now,
        expires_at=now + session_ttl if session_ttl is not None else None,
    )
    return IssuedToken(secret=secret, token=token)


async def register(
    runtime: Runtime, command: Register, *, session_ttl: timedelta = SESSION_TTL
) -> tuple[models.User, str]:
    async with in_transaction():
        user = await create_user(name=command.name, email=command.email, password=command.password)
        issued = await _issue(
            runtime, user.id, SESSION_TOKEN_NAME, set(Scope), session_ttl=session_ttl
        )
    return user, issued.secret


async def login(
    runtime: Runtime, command: Login, *, session_ttl: timedelta = SESSION_TTL
) -> tuple[models.User, str]:
    email = normalise_email(command.email)
    # no stored address is longer (the column holds MAX_EMAIL): a longer one is no user
    user = await models.User.filter(email=email).first() if len(email) <= MAX_EMAIL else None
    verified = await asyncio.to_thread(
        verify_password, user.password_hash if user else None, command.password
    )
    if not verified or user is None:
        raise refuse(ErrorCode.INVALID_CREDENTIALS, "Wrong e-mail address or password")
    issued = await _issue(runtime, user.id, SESSION_TOKEN_NAME, set(Scope), session_ttl=session_ttl)
    return user, issued.secret


async def issue_token_for(runtime: Runtime, user_id: int, name: str) -> str:
    """A full-scope token for a user, for the command line (demo data, operators)."""
    return (await _issue(runtime, user_id, name, set(Scope))).secret


async def create_api_token(
    runtime: Runtime, principal: Principal, command: CreateApiToken
) -> IssuedToken:
    name, scopes = command.name, set(command.scopes)
    with checking(command.rejected) as check:
        if not name.strip() or len(name) > 200:
            check.add(ErrorCode.INVALID_INPUT, "A token name has 1 to 200 characters", ["name"])
        if not scopes:
            check.add(ErrorCode.INVALID_INPUT, "A token needs at least one scope", ["scopes"])
        elif not scopes <= principal.scopes:
            check.add(
                ErrorCode.NOT_PERMITTED, "A token cannot grant more than yours has", ["scopes"]
            )
    return await _issue(runtime, principal.user_id, name.strip(), scopes)


async def revoke_api_token(
    runtime: Runtime, principal: Principal, command: RevokeApiToken
) -> models.ApiToken:
    token = await models.ApiToken.filter(id=command.id, user_id=principal.user_id).first()
    if token is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such token", ["id"])
    if token.revoked_at is None:
        token.revoked_at = runtime.clock()
        await token.save(update_fields=["revoked_at"])
    runtime.principals.forget(token.id)
    return token


def _live(now: datetime) -> Q:
    """Tokens that still work: not revoked, and not expired (API tokens never expire)."""
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


async def live_tokens_of(runtime: Runtime, user_id: int) -> list[models.ApiToken]:
    """A user's API tokens and sessions that still work, oldest first."""
    return await models.ApiToken.filter(_live(runtime.clock()), user_id=user_id).order_by("id")


async def _look_up(digest: str, now: datetime) -> Known | None:
    token = (
        await models.ApiToken.filter(_live(now), token_hash=digest).select_related("user").first()
    )
    if token is None:
        return None
    principal = Principal(
        user_id=token.user_id,
        is_admin=token.user.is_admin,
        scopes=decode_scopes(token.scopes),
        token_id=token.id,
    )
    return Known(token.id, principal, token.expires_at, token.last_used_at)


async def authenticate(runtime: Runtime, secret: str) -> Principal | None:
    """The principal behind a bearer token, or None for an unknown, revoked or expired one."""
    now = runtime.clock()
    digest = token_digest(secret, runtime.secret_key)
    known = runtime.principals.get(digest)
    if known is None:
        known = await _look_up(digest, now)
        if known is None:
            return None
        runtime.principals.put(digest, known)
    elif known.expires_at is not None and known.expires_at <= now:
        return None
    if known.last_used_at is None or now - known.last_used_at > LAST_USED_RESOLUTION:
        await models.ApiToken.filter(id=known.token_id).update(last_used_at=now)
        known.last_used_at = now
    return known.principal


async def dead_tokens(runtime: Runtime, token_ids: Collection[int]) -> set[int]:
    """Which of these tokens no longer work (revoked, expired or gone), in one statement."""
    if not token_ids:
        return set()
    live = await models.ApiToken.filter(_live(runtime.clock()), id__in=list(token_ids)).values("id")
    return set(token_ids) - {row["id"] for row in live}
