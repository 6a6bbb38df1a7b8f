"""Cursor connections: page sizes, windows, page info and keyset cursors.

Every connection pages as the Relay cursor connections specification says: forward with
`first` rows after `after`, backward with `last` rows before `before` (both cursors may bound
the range at once; `first` and `last` together are refused). Without either size, a page is
the first `DEFAULT_PAGE` rows. The rows of a page are always in the connection's own order.

A cursor is base64 of `<connection>|<key>|…`: it names its connection, so that one given to
another connection is refused rather than read as a position there. A cursor that does not
decode to its connection's keys, each within its column's range on both databases, is a
top-level `BAD_REQUEST` "invalid cursor": never a silent first page, never a database error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

import strawberry

from app.graphql.errors import ApiError, bad_request
from app.graphql.ids import MAX_BIG_PK, MAX_PK, decode_cursor, encode_cursor
from app.services.reads import Page
from app.services.windows import Key, Window

DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_INT = MAX_PK  # an INTEGER column, such as an event's sequence

First = Annotated[
    int | None,
    strawberry.argument(
        description=f"Page forward: at most this many items, from the start or after "
        f"`after`. 1 to {MAX_PAGE}; without `first` and `last`, {DEFAULT_PAGE}. Outside "
        f"1 to {MAX_PAGE}: BAD_REQUEST. The query cost counts the page times its selection."
    ),
]
After = Annotated[
    str | None,
    strawberry.argument(
        description="Only the items after this cursor (an edge's `cursor` or an `endCursor` "
        "of this connection, kept as is). A cursor of another connection, or not one at all: "
        'BAD_REQUEST "invalid cursor".'
    ),
]
Last = Annotated[
    int | None,
    strawberry.argument(
        description=f"Page backward: at most this many items, the last ones before "
        f"`before` (or of all), still in the connection's order. 1 to {MAX_PAGE}; not with "
        "`first`. Counted by the query cost as `first` is."
    ),
]
Before = Annotated[
    str | None,
    strawberry.argument(
        description="Only the items before this cursor (an edge's `cursor` or a "
        '`startCursor` of this connection). A bad cursor: BAD_REQUEST "invalid cursor".'
    ),
]

EDGES = "The items of this page, each with its cursor, in the connection's order."
PAGE_INFO = "Where this page stands: whether items lie beyond it, and its end cursors."
TOTAL_COUNT = "How many items the whole connection holds (with its filters), not this page."
CURSOR = "This item's position, to pass as `after` or `before`; opaque, stable as items are added."


@strawberry.type(
    description="Where a page stands in its connection (the Relay cursor connections spec)."
)
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Whether items follow this page: forward, more items past it; backward, "
        "any item at or after `before`."
    )
    has_previous_page: bool = strawberry.field(
        description="Whether items precede this page: backward, more items before it; "
        "forward, any item at or before `after` (false without `after`)."
    )
    start_cursor: str | None = strawberry.field(
        description="The first edge's cursor, to page backward with `before`; null when empty."
    )
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor, to page forward with `after`; null when empty."
    )


def page_info(cursors: Sequence[str], page: Page[Any]) -> PageInfo:
    """The page info of a page of rows whose edges have these cursors."""
    return PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


def _size(name: str, value: int) -> int:
    if not 1 <= value <= MAX_PAGE:
        raise bad_request(f"{name} must be between 1 and {MAX_PAGE}")
    return value


def page_size(first: int | None) -> int:
    return DEFAULT_PAGE if first is None else _size("first", first)


def _window(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    key: Callable[[str | None], Key | None],
) -> Window:
    if first is not None and last is not None:
        raise bad_request("first and last cannot be given together")
    if last is None:
        size, backward = page_size(first), False
    else:
        size, backward = _size("last", last), True
    return Window(size, backward=backward, after=key(after), before=key(before))


def invalid_cursor() -> ApiError:
    return bad_request("invalid cursor")


def contracts_cursor(created_at: datetime, pk: int) -> str:
    return encode_cursor("contracts", created_at.isoformat(), pk)


def events_cursor(sequence: int) -> str:
    return encode_cursor("events", sequence)


def entries_cursor(pk: int) -> str:
    return encode_cursor("entries", pk)


def notifications_cursor(pk: int) -> str:
    return encode_cursor("notifications", pk)


def deliveries_cursor(pk: int) -> str:
    return encode_cursor("deliveries", pk)


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
    """The key (createdAt, id) of a cursor of `contracts`."""
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
    """The key (sequence) of a cursor of `Contract.events`."""
    return None if after is None else _number(_keys(after, "events", 1)[0], MAX_INT)


def after_entry(after: str | None) -> int | None:
    """The key (id) of a cursor of `Escrow.entries`."""
    return None if after is None else _number(_keys(after, "entries", 1)[0], MAX_BIG_PK)


def after_notification(after: str | None) -> int | None:
    """The key (id) of a cursor of `User.notifications`."""
    return None if after is None else _number(_keys(after, "notifications", 1)[0], MAX_BIG_PK)


def after_delivery(after: str | None) -> int | None:
    """The key (id) of a cursor of `WebhookEndpoint.deliveries`."""
    return None if after is None else _number(_keys(after, "deliveries", 1)[0], MAX_BIG_PK)


def _single(key: int | None) -> Key | None:
    return None if key is None else (key,)


def contracts_window(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> Window:
    return _window(first, after, last, before, after_contract)


def events_window(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> Window:
    return _window(first, after, last, before, lambda cursor: _single(after_event(cursor)))


def entries_window(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> Window:
    return _window(first, after, last, before, lambda cursor: _single(after_entry(cursor)))


def notifications_window(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> Window:
    return _window(first, after, last, before, lambda cursor: _single(after_notification(cursor)))


def deliveries_window(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> Window:
    return _window(first, after, last, before, lambda cursor: _single(after_delivery(cursor)))
