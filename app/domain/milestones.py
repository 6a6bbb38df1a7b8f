"""Milestones and their submissions: fields, statuses and the validation of new ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from app.domain.checks import Checks
from app.domain.errors import ErrorCode
from app.domain.money import format_amount
from app.domain.policy import Policy

MAX_TITLE = 200
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


@dataclass(kw_only=True)
class MilestoneFields:
    """What a party sets on a milestone, each None when not given: the one list of them.

    A new milestone (`commands.NewMilestone`) and a proposed change (`requests.MilestoneChange`)
    are both this, so a field added here is taken by both and stored with a change request
    without another edit.
    """

    title: str | None = None
    description: str | None = None
    amount: int | None = None
    due_date: date | None = None
    unit_price: int | None = None
    max_units: int | None = None


def given_fields(values: MilestoneFields) -> dict[str, Any]:
    """The fields that were given, by name."""
    return {
        f.name: getattr(values, f.name)
        for f in fields(MilestoneFields)
        if getattr(values, f.name) is not None
    }


def new_milestone(
    values: MilestoneFields, policy: Policy, path: Sequence[str], check: Checks
) -> Milestone | None:
    """Validate a new milestone's fields, reporting every bad one under `path`."""
    before = len(check.problems)
    title = (values.title or "").strip()
    if not title:
        check.add(ErrorCode.INVALID_INPUT, "A milestone needs a title", [*path, "title"])
    elif len(title) > MAX_TITLE:
        check.add(ErrorCode.INVALID_INPUT, f"Title is longer than {MAX_TITLE}", [*path, "title"])
    description = check.text(values.description, [*path, "description"])
    amount = check.amount(values.amount, [*path, "amount"], maximum=policy.max_amount)
    unit_price: int | None = None
    if values.unit_price is not None or values.max_units is not None:
        amount, unit_price = _piece_rate(values, amount, path, check, policy.max_amount)
    elif values.amount is None:
        check.add(ErrorCode.INVALID_INPUT, "A milestone needs an amount", [*path, "amount"])
    if amount is not None and amount < policy.minimum_milestone_amount:
        check.add(
            ErrorCode.AMOUNT_TOO_SMALL,
            f"A milestone is at least {format_amount(policy.minimum_milestone_amount)}",
            [*path, "amount"],
        )
    if len(check.problems) > before or amount is None:
        return None
    return Milestone(
        id=None,
        position=0,
        title=title,
        description=description,
        amount=amount,
        due_date=values.due_date,
        unit_price=unit_price,
        max_units=values.max_units if unit_price is not None else None,
    )


def _piece_rate(
    values: MilestoneFields,
    amount: int | None,
    path: Sequence[str],
    check: Checks,
    maximum: int,
) -> tuple[int | None, int | None]:
    """A piece-rate milestone's amount (unit price * maximum units) and unit price."""
    unit_price = check.amount(values.unit_price, [*path, "unit_price"], maximum=maximum)
    if values.unit_price is None:
        check.add(
            ErrorCode.INVALID_INPUT,
            "A piece-rate milestone needs a unit price",
            [*path, "unit_price"],
        )
    if values.max_units is None or values.max_units < 1:
        check.add(
            ErrorCode.INVALID_INPUT,
            "The maximum number of units is a whole number of at least 1",
            [*path, "max_units"],
        )
        return amount, unit_price
    if unit_price is None:
        return amount, unit_price
    product = unit_price * values.max_units
    if product > maximum:
        check.add(
            ErrorCode.INVALID_AMOUNT,
            f"The unit price times the maximum units exceeds the maximum of"
            f" {format_amount(maximum)}",
            [*path, "amount"],
        )
    elif amount is not None and amount != product:
        check.add(
            ErrorCode.INVALID_INPUT,
            f"The amount must equal the unit price times the maximum units"
            f" ({format_amount(product)})",
            [*path, "amount"],
        )
    return product, unit_price
