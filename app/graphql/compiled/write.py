"""The writers of a plan: for each selection, once per plan, a function that writes the response
dict of one row, so a request runs no dispatch on field kinds.

A writer reads the relations it follows and the viewer it shows private fields to from its
`Source` (the request's run), and counts on it the objects of every list it writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from app.domain.money import format_amount
from app.graphql.compiled.columns import Columns, columns
from app.graphql.compiled.plan import Field, Kind, Plan
from app.graphql.ids import encode_id
from app.services.read_rows import Row


class Source(Protocol):
    objects: int

    def related(self, field: Field, row: Row) -> Any: ...

    def shown(self, user_id: int) -> bool: ...


Get = Callable[[Source, Row, str], Any]
_amount = lru_cache(maxsize=4096)(format_amount)  # amounts repeat: milestones of one price
Write = Callable[[Source, Row, str], dict[str, Any]]


def _constant(value: str) -> Get:
    return lambda source, row, currency: value


def _id(type_name: str) -> Get:
    return lambda source, row, currency: encode_id(type_name, row["id"])


def _shown(name: str) -> Get:
    return lambda source, row, currency: row[name] if source.shown(row["id"]) else None


def _leaf(name: str, serialize: Callable[[Any], Any]) -> Get:
    def get(source: Source, row: Row, currency: str) -> Any:
        value = row[name]
        return None if value is None else serialize(value)

    return get


def _money(name: str, selection: tuple[Field, ...]) -> Get:
    """A `Money` object written in one step: its `amount` and `currency` are strings, which
    their scalars (`Decimal`, `String`) write as they are."""
    picks = tuple((f.key, f.name, f.kind is Kind.TYPENAME) for f in selection)

    def get(source: Source, row: Row, currency: str) -> Any:
        cents = row[name]
        if cents is None:
            return None
        values = {"amount": _amount(cents), "currency": currency}
        return {key: part if constant else values[part] for key, part, constant in picks}

    return get


def _nested(field: Field, write: Write) -> Get:
    name = field.name
    relation = field.kind is Kind.RELATION

    def get(source: Source, row: Row, currency: str) -> Any:
        value = source.related(field, row) if relation else row[name]
        if value is None:
            return None
        if isinstance(value, list):
            source.objects += len(value)
            return [write(source, item, currency) for item in value]
        return write(source, value, currency)

    return get


def _getter(field: Field) -> Get:
    kind = field.kind
    if kind is Kind.TYPENAME:
        return _constant(field.name)
    if kind is Kind.ID:
        return _id(field.name)
    if kind is Kind.SHOWN:
        return _shown(field.name)
    if kind is Kind.LEAF:
        assert field.serialize is not None
        return _leaf(field.name, field.serialize)
    if kind is Kind.MONEY:
        return _money(field.name, field.selection)
    return _nested(field, writer(field.selection))


def writer(selection: tuple[Field, ...]) -> Write:
    """The writer of one object; a row with a `currency` (a contract's) sets the currency of
    the money fields in it and below it."""
    getters = tuple((field.key, _getter(field)) for field in selection)

    def write(source: Source, row: Row, currency: str) -> dict[str, Any]:
        currency = row.get("currency", currency)
        return {key: get(source, row, currency) for key, get in getters}

    return write


@dataclass(frozen=True)
class Prepared:
    """A plan with the writers of its root fields (none for a root `__typename`; one per
    type for `node`) and the fields its loaders read."""

    plan: Plan
    writers: Mapping[str, Write]
    variants: Mapping[str, Mapping[str, Write]]
    columns: Mapping[str, Columns]


def prepare(plan: Plan) -> Prepared:
    return Prepared(
        plan,
        {f.key: writer(f.selection) for f in plan.fields if f.kind is not Kind.TYPENAME},
        {f.key: {t: writer(v) for t, v in f.variants} for f in plan.fields if f.variants},
        columns(plan),
    )
