"""Rows <-> domain records, derived from the records' dataclass fields.

Tortoise maps rows to its models, not to the domain's dataclasses, so this module does the rest
once: a field is stored in the column of the same name, a `StrEnum` field is read back from its
text and a date goes into JSON as ISO text. What differs from that (a column named otherwise, a
field that is not stored, a value read or written another way) is listed once, in the record's
`RecordMap` below; a new field that follows the rule needs no edit here.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from app.domain.milestones import Milestone, Submission
from app.domain.requests import ChangeRequest, Dispute, MilestoneChange, RefundRequest

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")
Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _field_type(record: type[Any], name: str) -> Any:
    """The field's type, `X | None` taken as `X`."""
    hint = typing.get_type_hints(record)[name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        given = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return given[0] if len(given) == 1 else hint
    return hint


def _reader(kind: Any) -> Convert:
    """How a stored value of a field of type `kind` becomes the field's value."""
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return lambda value: None if value is None else kind(value)
    return _same


@dataclass(frozen=True)
class RecordMap(Generic[R]):
    """How one kind of record is stored: by field name, except what is listed here."""

    record: type[R]
    columns: Mapping[str, str] = field(default_factory=dict)  # field -> its column's name
    transient: frozenset[str] = frozenset()  # fields that are not stored
    read: Mapping[str, Convert] = field(default_factory=dict)  # column value -> field value
    write: Mapping[str, Convert] = field(default_factory=dict)  # field value -> column value

    @cached_property
    def stored(self) -> tuple[tuple[str, str, Convert, Convert], ...]:
        """(field, column, read, write) of every stored field."""
        return tuple(
            (
                f.name,
                self.columns.get(f.name, f.name),
                self.read.get(f.name) or _reader(_field_type(self.record, f.name)),
                self.write.get(f.name, _same),
            )
            for f in dataclasses.fields(self.record)
            if f.init and f.name not in self.transient
        )

    def from_row(self, row: object) -> R:
        return self.record(
            **{name: read(getattr(row, column)) for name, column, read, _ in self.stored}
        )

    def values(self, record: R) -> dict[str, Any]:
        """Column values to insert or update the record with (all but its id)."""
        return {
            column: write(getattr(record, name))
            for name, column, _, write in self.stored
            if name != "id"
        }


def _to_json(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value


def _json_reader(kind: Any) -> Convert:
    if kind is date:
        return lambda value: None if value is None else date.fromisoformat(value)
    return _reader(kind)


_CHANGE_FIELDS = tuple(
    (f.name, _json_reader(_field_type(MilestoneChange, f.name)))
    for f in dataclasses.fields(MilestoneChange)
    if f.name != "added"  # the milestone an ADD created, known by `milestone_id` once stored
)


def change_to_json(change: MilestoneChange) -> dict[str, Any]:
    return {name: _to_json(getattr(change, name)) for name, _ in _CHANGE_FIELDS}


def change_from_json(data: Mapping[str, Any]) -> MilestoneChange:
    """A stored change; a field it was stored without (added since) is None, "not given"."""
    return MilestoneChange(**{name: read(data.get(name)) for name, read in _CHANGE_FIELDS})


MILESTONES = RecordMap(
    Milestone,
    transient=frozenset({"latest_submission", "submissions"}),  # loaded apart, for the active one
    read={"position": lambda position: position or 0},  # a deleted milestone has none
)
SUBMISSIONS = RecordMap(Submission, read={"attachments": list})
REFUND_REQUESTS = RecordMap(RefundRequest)
DISPUTES = RecordMap(
    Dispute, columns={"opened_by": "opened_by_id", "resolved_by": "resolved_by_id"}
)
CHANGE_REQUESTS = RecordMap(
    ChangeRequest,
    columns={"proposed_by": "proposed_by_id"},
    read={"changes": lambda changes: [change_from_json(c) for c in changes]},
    write={"changes": lambda changes: [change_to_json(c) for c in changes]},
)
