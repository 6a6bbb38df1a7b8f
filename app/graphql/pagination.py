"""Cursor connections: page sizes and page info."""

from __future__ import annotations

import strawberry

from app.graphql.errors import bad_request

DEFAULT_PAGE = 20
MAX_PAGE = 100


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
