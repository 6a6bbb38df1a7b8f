"""Milestones and their submissions: fields, statuses and the validation of new ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from app.domain.errors import DomainError, ErrorCode, InputProblems
from app.domain.money import format_amount, parse_amount
from app.domain.policy import Policy

MAX_TITLE = 200
MAX_TEXT = 10_000
MAX_SUBMISSIONS = 10  # per milestone: revision rounds end; the GraphQL node count relies on it


class MilestoneStatus(StrEnum):
    NOT_FUNDED = "NOT_FUNDED"
    FUNDED = "FUNDED"
    SUBMITTED = "SUBMITTED"
    REVISION_REQUESTED = "REVISION_REQUESTED"
    RELEASED = "RELEASED"
    REFUNDED = "REFUNDED"
    DISPUTED = "DISPUTED"
    CANCELLED = "CANCELLED"


class SubmissionStatus(StrEnum):
    PENDING = "PENDING"
    RELEASED = "RELEASED"
    REVISION_REQUESTED = "REVISION_REQUESTED"


ACTIVE_STATUSES = frozenset(
    {
        MilestoneStatus.FUNDED,
        MilestoneStatus.SUBMITTED,
        MilestoneStatus.REVISION_REQUESTED,
        MilestoneStatus.DISPUTED,
    }
)


@dataclass
class Submission:
    id: int | None
    message: str
    attachments: list[str]
    requested_amount: int
    units: int | None
    status: SubmissionStatus
    created_at: datetime


@dataclass
class Milestone:
    id: int | None
    position: int
    title: str
    description: str
    amount: int
    due_date: date | None
    status: MilestoneStatus = MilestoneStatus.NOT_FUNDED
    unit_price: int | None = None
    max_units: int | None = None
    units_released: int = 0
    funded_amount: int = 0
    released_amount: int = 0
    refunded_amount: int = 0
    auto_release_at: datetime | None = None
    funded_at: datetime | None = None
    submitted_at: datetime | None = None
    released_at: datetime | None = None
    review_seconds_left: int | None = None
    latest_submission: Submission | None = field(default=None, compare=False)
    submissions: int = field(default=0, compare=False)  # loaded for the active one only

    @property
    def remaining(self) -> int:
        """Escrow still allocated to this milestone."""
        return self.funded_amount - self.released_amount - self.refunded_amount

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_piece_rate(self) -> bool:
        return self.unit_price is not None


AmountT = TypeVar("AmountT")


@dataclass(kw_only=True)
class MilestoneFields(Generic[AmountT]):
    """What a party sets on a milestone, each None when not given: the one list of them.

    A draft (amounts as the client's text) and a proposed change (amounts in cents) are both
    this, so a field added here is taken by both and stored with a change request without
    another edit; only the amounts (`AMOUNT_FIELDS`) differ between the two.
    """

    title: str | None = None
    description: str | None = None
    amount: AmountT | None = None
    due_date: date | None = None
    unit_price: AmountT | None = None
    max_units: int | None = None


AMOUNT_FIELDS = frozenset({"amount", "unit_price"})


def given_fields(values: MilestoneFields[Any]) -> dict[str, Any]:
    """The fields that were given, by name."""
    return {
        f.name: getattr(values, f.name)
        for f in fields(MilestoneFields)
        if getattr(values, f.name) is not None
    }


def plain_fields(values: MilestoneFields[Any]) -> dict[str, Any]:
    """The fields a draft and a change hold alike (every one but the amounts), by name."""
    return {
        f.name: getattr(values, f.name)
        for f in fields(MilestoneFields)
        if f.name not in AMOUNT_FIELDS
    }


@dataclass(kw_only=True)
class MilestoneDraft(MilestoneFields[str]):
    """Milestone fields as a client sent them: text, not yet parsed."""


def parse_milestone(
    draft: MilestoneDraft, policy: Policy, path: Sequence[str], problems: InputProblems
) -> Milestone | None:
    """Validate a new milestone's fields, reporting every bad one under `path`."""
    before = len(problems.problems)
    title = (draft.title or "").strip()
    if not title:
        problems.add(ErrorCode.INVALID_INPUT, "A milestone needs a title", [*path, "title"])
    elif len(title) > MAX_TITLE:
        problems.add(ErrorCode.INVALID_INPUT, f"Title is longer than {MAX_TITLE}", [*path, "title"])
    description = draft.description or ""
    if len(description) > MAX_TEXT:
        problems.add(
            ErrorCode.INVALID_INPUT,
            f"Description is longer than {MAX_TEXT}",
            [*path, "description"],
        )
    amount = _parse_into(draft.amount, [*path, "amount"], problems, policy.max_amount)
    unit_price: int | None = None
    if draft.unit_price is not None or draft.max_units is not None:
        amount, unit_price = _parse_piece_rate(draft, amount, path, problems, policy.max_amount)
    elif draft.amount is None:
        problems.add(ErrorCode.INVALID_INPUT, "A milestone needs an amount", [*path, "amount"])
    if amount is not None and amount < policy.minimum_milestone_amount:
        problems.add(
            ErrorCode.AMOUNT_TOO_SMALL,
            f"A milestone is at least {format_amount(policy.minimum_milestone_amount)}",
            [*path, "amount"],
        )
    if len(problems.problems) > before or amount is None:
        return None
    return Milestone(
        id=None,
        position=0,
        title=title,
        description=description,
        amount=amount,
        due_date=draft.due_date,
        unit_price=unit_price,
        max_units=draft.max_units if unit_price is not None else None,
    )


def _parse_piece_rate(
    draft: MilestoneDraft,
    amount: int | None,
    path: Sequence[str],
    problems: InputProblems,
    maximum: int,
) -> tuple[int | None, int | None]:
    """A piece-rate milestone's amount (unitPrice * maxUnits) and unit price."""
    unit_price = _parse_into(draft.unit_price, [*path, "unitPrice"], problems, maximum)
    if draft.unit_price is None:
        problems.add(
            ErrorCode.INVALID_INPUT,
            "A piece-rate milestone needs unitPrice",
            [*path, "unitPrice"],
        )
    if draft.max_units is None or draft.max_units < 1:
        problems.add(
            ErrorCode.INVALID_INPUT,
            "maxUnits must be a whole number of at least 1",
            [*path, "maxUnits"],
        )
        return amount, unit_price
    if unit_price is None:
        return amount, unit_price
    product = unit_price * draft.max_units
    if product > maximum:
        problems.add(
            ErrorCode.INVALID_AMOUNT,
            f"unitPrice * maxUnits exceeds the maximum of {format_amount(maximum)}",
            [*path, "amount"],
        )
    elif amount is not None and amount != product:
        problems.add(
            ErrorCode.INVALID_INPUT,
            f"amount must equal unitPrice * maxUnits ({format_amount(product)})",
            [*path, "amount"],
        )
    return product, unit_price


def _parse_into(
    text: str | None, path: Sequence[str], problems: InputProblems, maximum: int
) -> int | None:
    if text is None:
        return None
    try:
        return parse_amount(text, path, maximum=maximum)
    except DomainError as error:
        problems.extend(error)
        return None


def parse_optional_amount(
    text: str | None, path: Sequence[str], problems: InputProblems, *, maximum: int
) -> int | None:
    return _parse_into(text, path, problems, maximum)


def check_text(
    value: str | None, path: Sequence[str], problems: InputProblems, limit: int = MAX_TEXT
) -> str:
    text = value or ""
    if len(text) > limit:
        problems.add(ErrorCode.INVALID_INPUT, f"Longer than {limit} characters", path)
    return text
