"""Opaque Relay global ids: base64 of "Type:pk". A malformed id decodes to None."""

from __future__ import annotations

import base64
import binascii

MAX_PK = 2**31 - 1  # integer primary keys
MAX_BIG_PK = 2**63 - 1
BIG_PK_TYPES = frozenset({"LedgerEntry", "ContractEvent", "Notification", "WebhookDelivery"})


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_any(global_id: str) -> tuple[str, int] | None:
    if len(global_id) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, pk = raw.partition(":")
    limit = MAX_BIG_PK if type_name in BIG_PK_TYPES else MAX_PK
    if not pk.isascii() or not pk.isdigit() or not 0 < int(pk) <= limit:
        return None
    return type_name, int(pk)


def decode_id(global_id: str | None, type_name: str) -> int | None:
    if global_id is None:
        return None
    decoded = decode_any(global_id)
    if decoded is None or decoded[0] != type_name:
        return None
    return decoded[1]


def encode_cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode("|".join(str(p) for p in parts).encode()).decode()


def decode_cursor(cursor: str) -> list[str] | None:
    """The parts of a cursor, or None unless it is strict url-safe base64 of UTF-8 text."""
    if len(cursor) > 200:
        return None
    try:
        raw = base64.b64decode(cursor.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        return None
    return raw.split("|")
