"""The writers of a plan: for each selection, once per plan, a function that writes the response
dict of one row, so a request runs no dispatch on field kinds: its text is one dict display of
the selection's keys (`_compiled`), each value a constant or a call of the field's getter.

A writer reads the relations it follows and the viewer it shows private fields to from its
`Source` (the request's run), and counts on it the objects of every list it writes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from graphql import GraphQLEnumType
from graphql.type.scalars import serialize_int, serialize_string

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
_global_id = lru_cache(maxsize=65_536)(encode_id)  # the same rows are read again and again
Write = Callable[[Source, Row, str], dict[str, Any]]


def _id(type_name: str) -> Get:
    return lambda source, row, currency: _global_id(type_name, row["id"])


def _shown(name: str) -> Get:
    return lambda source, row, currency: row[name] if source.shown(row["id"]) else None


_INT = range(-(2**31), 2**31)  # what `Int` serialises; it refuses the rest


def _leaf(name: str, serialize: Callable[[Any], Any]) -> Get:
    """A leaf by its scalar's or enum's serializer; a `String` that is a str, an `Int` that is
    an int in range and an enum value seen before are written without calling it (to the same
    value)."""
    if serialize is serialize_string:

        def text(source: Source, row: Row, currency: str) -> Any:
            value = row[name]
            return value if value is None or type(value) is str else serialize(value)

        return text
    if serialize is serialize_int:

        def number(source: Source, row: Row, currency: str) -> Any:
            value = row[name]
            if value is None or (type(value) is int and value in _INT):
                return value
            return serialize(value)

        return number
    if isinstance(getattr(serialize, "__self__", None), GraphQLEnumType):
        names: dict[Any, Any] = {}

        def member(source: Source, row: Row, currency: str) -> Any:
            value = row[name]
            if value is None:
                return None
            if value not in names:
                names[value] = serialize(value)
            return names[value]

        return member

    def get(source: Source, row: Row, currency: str) -> Any:
        value = row[name]
        return None if value is None else serialize(value)

    return get


def _money(name: str, selection: tuple[Field, ...]) -> Get:
    """A `Money` object written in one step: its `amount` and `currency` are strings, which
    their scalars (`Decimal`, `String`) write as they are."""
    values = {"amount": "_amount(cents)", "currency": "currency"}
    entries = [
        (f.key, repr(f.name) if f.kind is Kind.TYPENAME else values[f.name]) for f in selection
    ]
    body = f"cents = row[{name!r}]\nif cents is None:\n    return None\nreturn {_display(entries)}"
    return _compiled(body, {"_amount": _amount})


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
    scope: dict[str, Any] = {}
    entries = []
    for number, field in enumerate(selection):
        if field.kind is Kind.TYPENAME:
            entries.append((field.key, repr(field.name)))
        else:
            scope[f"get{number}"] = _getter(field)
            entries.append((field.key, f"get{number}(source, row, currency)"))
    body = f"currency = row.get('currency', currency)\nreturn {_display(entries)}"
    return _compiled(body, scope)


def _display(entries: list[tuple[str, str]]) -> str:
    """A dict display of response keys (GraphQL names, so plain identifiers) and expressions."""
    return "{" + ", ".join(f"{key!r}: {value}" for key, value in entries) + "}"


def _compiled(body: str, scope: dict[str, Any]) -> Write:
    """A function of `(source, row, currency)` with this body: one dict display per object
    instead of a call per field through a loop (the writers run once per object of every
    response)."""
    code = "def write(source, row, currency):\n" + textwrap.indent(body, "    ")
    exec(code, scope)  # the text holds only names of the schema and repr()s
    function: Write = scope["write"]
    return function


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
