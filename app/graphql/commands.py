"""A mutation's input read into its command (`app.domain.commands`): the one converter, driven
by the input's strawberry fields and the command's type hints, so a field added to both needs
no edit here.

- A `Decimal` becomes integer cents (`read_amount`: the syntax only; the domain judges the
  range). Every amount that is not a number with at most two decimals is collected into the
  command's `rejected`, so that the domain reports them after its permission check and with
  its own input problems (docs/rules.md#the-order-of-checks); the field holds 0, which no check
  reads.
- A global id becomes its primary key. An id field of the input itself that names no node of
  its type makes the mutation `NOT_FOUND` on that field at once; a nested one (a change's
  `milestone_id`) names something inside the aggregate, and reads as `UNKNOWN_ID`, which the
  domain answers `NOT_FOUND` on the same path. Which type each id names is declared by the
  mutation's row (`ids`, nested fields as "changes.milestone_id").
- A nested input becomes the record its command field holds, and a list a tuple; everything
  else (text, numbers, dates, enums) passes as it is. A field not given keeps the command's
  default.

Paths are python names (("changes", "0", "milestone_id")); `errors.user_errors` writes them in
camelCase.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import strawberry
from strawberry.types.base import StrawberryList, StrawberryOptional, has_object_definition

from app.domain.changes import UNKNOWN_ID
from app.domain.commands import Command
from app.domain.errors import DomainError, ErrorCode, Problem, refuse
from app.domain.money import read_amount
from app.graphql.ids import decode_id
from app.graphql.scalars import Decimal

C = TypeVar("C", bound=Command)

_hints = functools.cache(typing.get_type_hints)


@dataclass(frozen=True)
class GlobalId:
    """An input field holding the global id of a node of `type_name`: an id that names no such
    node is "No such <noun>" (the type name in lower case unless given), the same answer as
    for a node that does not exist or is hidden."""

    type_name: str
    noun: str | None = None


def to_command(input: object, command: type[C], ids: Mapping[str, GlobalId]) -> C:
    reader = _Reader(ids)
    values = reader.record(input, command, ())
    return command(**values, rejected=tuple(reader.rejected))


def unmatched_fields(input: type, record: type) -> list[str]:
    """The input's fields (dotted paths, nested inputs included) that the record lacks."""
    hints = _hints(record)
    unmatched: list[str] = []
    for field in _fields(input):
        if field.python_name not in hints:
            unmatched.append(field.python_name)
            continue
        kind = _bare(field.type)
        if isinstance(kind, type) and has_object_definition(kind):
            inner = unmatched_fields(kind, _item_hint(hints[field.python_name]))
            unmatched += [f"{field.python_name}.{name}" for name in inner]
    return unmatched


def id_fields(input: type) -> set[str]:
    """The dotted paths of the input's global id fields, nested inputs included."""
    found: set[str] = set()
    for field in _fields(input):
        kind = _bare(field.type)
        if kind is strawberry.ID:
            found.add(field.python_name)
        elif isinstance(kind, type) and has_object_definition(kind):
            found |= {f"{field.python_name}.{inner}" for inner in id_fields(kind)}
    return found


def _fields(input: object) -> Sequence[Any]:
    assert has_object_definition(input)
    fields: Sequence[Any] = input.__strawberry_definition__.fields
    return fields


def _bare(kind: Any) -> Any:
    """The type inside `X | None` and `list[X]`."""
    while isinstance(kind, StrawberryOptional | StrawberryList):
        kind = kind.of_type
    return kind


def _item_hint(hint: Any) -> Any:
    """`X` of a command field typed `X`, `X | None` or `tuple[X, ...]`."""
    args = [a for a in typing.get_args(hint) if a is not type(None) and a is not Ellipsis]
    return _item_hint(args[0]) if len(args) == 1 else hint


class _Reader:
    def __init__(self, ids: Mapping[str, GlobalId]) -> None:
        self.ids = ids
        self.rejected: list[Problem] = []

    def record(self, input: object, record: type, path: tuple[str, ...]) -> dict[str, Any]:
        hints = _hints(record)
        values: dict[str, Any] = {}
        for field in _fields(input):
            value = getattr(input, field.python_name)
            if value is not None:
                hint = hints[field.python_name]
                values[field.python_name] = self.value(
                    value, field.type, hint, (*path, field.python_name)
                )
        return values

    def value(self, value: Any, kind: Any, hint: Any, path: tuple[str, ...]) -> Any:
        if isinstance(kind, StrawberryOptional):
            return self.value(value, kind.of_type, hint, path)
        if isinstance(kind, StrawberryList):
            item = _item_hint(hint)
            return tuple(
                self.value(v, kind.of_type, item, (*path, str(i))) for i, v in enumerate(value)
            )
        if kind is Decimal:
            return self.amount(value, path)
        if kind is strawberry.ID:
            return self.global_id(value, path)
        if has_object_definition(value):
            record = _item_hint(hint)
            return record(**self.record(value, record, path))
        return value

    def amount(self, text: str, path: tuple[str, ...]) -> int:
        try:
            return read_amount(text, path)
        except DomainError as error:
            self.rejected.extend(error.problems)
            return 0

    def global_id(self, text: str, path: tuple[str, ...]) -> int:
        declared = self.ids[".".join(p for p in path if not p.isdigit())]
        pk = decode_id(text, declared.type_name)
        if pk is not None:
            return pk
        if len(path) > 1:
            return UNKNOWN_ID
        noun = declared.noun or declared.type_name.lower()
        raise refuse(ErrorCode.NOT_FOUND, f"No such {noun}", path)
