"""Keyset windows: one page of a connection's rows, either way from a cursor.

Relay's cursor connections page forward (`size` rows after `after`) or backward (the last
`size` rows before `before`); both cursors may bound the range at once. A connection's order is
its `Keyset`: key columns, all ascending or all descending, together unique. A page is read with
one row more than asked, to know whether more lie beyond it; whether rows lie on the other side
of the cursor a page started from costs one `EXISTS` statement, only when that cursor is given
(Relay's `hasPreviousPage` of a forward page, `hasNextPage` of a backward one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

Key = tuple[Any, ...]  # a row's values of its keyset's columns
ModelT = TypeVar("ModelT", bound=Model)


@dataclass(frozen=True)
class Window:
    """Which rows a page holds: the first `size` of the range between the cursors, or the
    last `size` of it when `backward`."""

    size: int
    backward: bool = False
    after: Key | None = None
    before: Key | None = None


@dataclass(frozen=True)
class Keyset:
    """A connection's order: by `columns`, all descending or all ascending."""

    columns: tuple[str, ...]
    descending: bool = False

    def order(self, *, reverse: bool = False) -> tuple[str, ...]:
        sign = "-" if self.descending != reverse else ""
        return tuple(f"{sign}{column}" for column in self.columns)

    def past(self, key: Key) -> Q:
        """The rows that come after `key` in this order."""
        return self._beyond(key, "lt" if self.descending else "gt")

    def preceding(self, key: Key) -> Q:
        """The rows that come before `key` in this order."""
        return self._beyond(key, "gt" if self.descending else "lt")

    def _beyond(self, key: Key, comparison: str) -> Q:
        clauses = [
            Q(
                **dict(zip(self.columns[:i], key[:i], strict=True)),
                **{f"{column}__{comparison}": key[i]},
            )
            for i, column in enumerate(self.columns)
        ]
        return Q(*clauses, join_type="OR")


@dataclass(frozen=True)
class Slice(Generic[ModelT]):
    rows: list[ModelT]
    has_next: bool
    has_previous: bool
    total: int


async def window_rows(counted: QuerySet[ModelT], keyset: Keyset, window: Window) -> Slice[ModelT]:
    """The rows of `counted` in `window`, in the keyset's order, and how many `counted` holds."""
    total = await counted.count()
    ranged = counted
    if window.after is not None:
        ranged = ranged.filter(keyset.past(window.after))
    if window.before is not None:
        ranged = ranged.filter(keyset.preceding(window.before))
    rows = await ranged.order_by(*keyset.order(reverse=window.backward)).limit(window.size + 1)
    more = len(rows) > window.size
    rows = rows[: window.size]
    if window.backward:
        rows.reverse()
    before_after = window.after is not None and (
        await counted.filter(~keyset.past(window.after)).exists()
    )
    after_before = window.before is not None and (
        await counted.filter(~keyset.preceding(window.before)).exists()
    )
    return Slice(
        rows,
        has_next=(more and not window.backward) or after_before,
        has_previous=(more and window.backward) or before_after,
        total=total,
    )
