"""Business refusals.

A `DomainError` carries one or more `Problem`s; the GraphQL layer turns each into a `UserError`.
A problem's `field` is its path in the command (`app.domain.commands`), by the command's own
field names, such as ("milestones", "0", "unit_price"); the GraphQL layer writes it in
camelCase. Every refusal is raised before the aggregate is persisted, so a refused action
changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    NOT_PERMITTED = "NOT_PERMITTED"
    INVALID_STATE = "INVALID_STATE"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    AMOUNT_TOO_SMALL = "AMOUNT_TOO_SMALL"
    TOO_MANY_MILESTONES = "TOO_MANY_MILESTONES"
    MILESTONE_OUT_OF_ORDER = "MILESTONE_OUT_OF_ORDER"
    ANOTHER_MILESTONE_ACTIVE = "ANOTHER_MILESTONE_ACTIVE"
    MILESTONE_NOT_EDITABLE = "MILESTONE_NOT_EDITABLE"
    CHANGE_REQUEST_PENDING = "CHANGE_REQUEST_PENDING"
    STALE_CHANGE_REQUEST = "STALE_CHANGE_REQUEST"
    ACTIVE_MILESTONE_FUNDED = "ACTIVE_MILESTONE_FUNDED"
    REFUND_PENDING = "REFUND_PENDING"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    INVALID_INPUT = "INVALID_INPUT"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"


@dataclass(frozen=True)
class Problem:
    code: ErrorCode
    message: str
    field: tuple[str, ...] | None = None


class DomainError(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = tuple(problems)

    @classmethod
    def one(cls, code: ErrorCode, message: str, field: Sequence[str] | None = None) -> DomainError:
        return cls([Problem(code, message, tuple(field) if field is not None else None)])

    @property
    def code(self) -> ErrorCode:
        return self.problems[0].code


def refuse(code: ErrorCode, message: str, field: Sequence[str] | None = None) -> DomainError:
    return DomainError.one(code, message, field)
