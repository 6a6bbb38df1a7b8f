"""Cursor connections: page sizes, page info and keyset cursors.

A cursor is base64 of `<connection>|<key>|…`: it names its connection, so that one given to
another connection is refused rather than read as a position there. A cursor that does not
decode to its connection's keys, each within its column's range on both databases, is a
top-level `BAD_REQUEST` "invalid cursor": never a silent first page, never a database error.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.errors import ApiError, bad_request
from app.graphql.ids import MAX_BIG_PK, MAX_PK, decode_cursor, encode_cursor

DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_INT = MAX_PK  # an INTEGER column, such as an event's sequence


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 1 <= first <= MAX_PAGE:
        raise bad_request(f"first must be between 1 and {MAX_PAGE}")
    return first


def invalid_cursor() -> ApiError:
    return bad_request("invalid cursor")


def contracts_cursor(created_at: datetime, pk: int) -> str:
    return encode_cursor("contracts", created_at.isoformat(), pk)


def events_cursor(sequence: int) -> str:
    return encode_cursor("events", sequence)


def entries_cursor(pk: int) -> str:
    return encode_cursor("entries", pk)


def _keys(after: str, connection: str, count: int) -> list[str]:
    parts = decode_cursor(after)
    if parts is None or len(parts) != count + 1 or parts[0] != connection:
        raise invalid_cursor()
    return parts[1:]


def _number(text: str, limit: int) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 19) or not int(text) <= limit:
        raise invalid_cursor()
    return int(text)


def after_contract(after: str | None) -> tuple[datetime, int] | None:
    if after is None:
        return None
    created_at, pk = _keys(after, "contracts", 2)
    try:
        moment = datetime.fromisoformat(created_at)
    except ValueError:
        raise invalid_cursor() from None
    if moment.utcoffset() is None:
        raise invalid_cursor()
    return moment, _number(pk, MAX_PK)


def after_event(after: str | None) -> int | None:
    return None if after is None else _number(_keys(after, "events", 1)[0], MAX_INT)


def after_entry(after: str | None) -> int | None:
    return None if after is None else _number(_keys(after, "entries", 1)[0], MAX_BIG_PK)
