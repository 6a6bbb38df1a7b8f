"""Bearer tokens: random secrets shown once; only a keyed hash of each is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

TOKEN_PREFIX = "mse_"


class Scope(StrEnum):
    READ = "READ"
    WRITE = "WRITE"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def encode_scopes(scopes: set[Scope]) -> str:
    return ",".join(sorted(scopes))


def decode_scopes(text: str) -> frozenset[Scope]:
    return frozenset(Scope(s) for s in text.split(",") if s)


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if it has one."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
