"""Milestone change requests: checking a batch of changes and applying it to the plan.

Changes apply in list order, each to the result of the one before; afterwards positions are
1..n. Only future (`NOT_FUNDED`) milestones may change, and nothing may be placed at or before
an active or finished one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.checks import Checks
from app.domain.errors import DomainError, ErrorCode, Problem
from app.domain.milestones import (
    MAX_TITLE,
    Milestone,
    MilestoneStatus,
    given_fields,
    new_milestone,
)
from app.domain.money import format_amount
from app.domain.policy import Policy
from app.domain.requests import ChangeAction, MilestoneChange

MAX_CHANGES = 200
UNKNOWN_ID = -1  # a milestone id that was given but names no milestone: NOT_FOUND on apply


def check_changes(
    proposed: Sequence[MilestoneChange], policy: Policy, check: Checks
) -> list[MilestoneChange]:
    """Check each change on its own (fields, amounts), reporting every bad field; the changes
    as they will be stored (titles trimmed, a new milestone's amount worked out)."""
    if not proposed:
        check.add(ErrorCode.INVALID_INPUT, "Propose at least one change", ["changes"])
    if len(proposed) > MAX_CHANGES:
        check.add(ErrorCode.INVALID_INPUT, f"At most {MAX_CHANGES} changes", ["changes"])
    return [_check_one(c, ("changes", str(i)), policy, check) for i, c in enumerate(proposed)]


def _check_one(
    proposed: MilestoneChange, path: tuple[str, ...], policy: Policy, check: Checks
) -> MilestoneChange:
    title = proposed.title.strip() if proposed.title is not None else None
    change = dataclasses.replace(proposed, title=title)
    if proposed.action is ChangeAction.ADD:
        if proposed.milestone_id is not None:
            check.add(ErrorCode.INVALID_INPUT, "ADD takes no milestone", [*path, "milestone_id"])
        milestone = new_milestone(proposed, policy, path, check)
        change.amount = milestone.amount if milestone is not None else None
        change.unit_price = milestone.unit_price if milestone is not None else None
    else:
        _check_edit(proposed, change, path, policy, check)
    if proposed.action is ChangeAction.MOVE and proposed.position is None:
        check.add(ErrorCode.INVALID_INPUT, "MOVE needs a position", [*path, "position"])
    if proposed.action is ChangeAction.UPDATE and not given_fields(proposed):
        check.add(ErrorCode.INVALID_INPUT, "UPDATE changes at least one field", path)
    return change


def _check_edit(
    proposed: MilestoneChange,
    change: MilestoneChange,
    path: tuple[str, ...],
    policy: Policy,
    check: Checks,
) -> None:
    """An UPDATE, DELETE or MOVE: the fields it gives, each on its own."""
    if proposed.milestone_id is None:
        check.add(
            ErrorCode.INVALID_INPUT,
            f"{proposed.action} needs a milestone",
            [*path, "milestone_id"],
        )
    change.amount = check.amount(proposed.amount, [*path, "amount"], maximum=policy.max_amount)
    change.unit_price = check.amount(
        proposed.unit_price, [*path, "unit_price"], maximum=policy.max_amount
    )
    if change.title is not None and not 1 <= len(change.title) <= MAX_TITLE:
        check.add(
            ErrorCode.INVALID_INPUT,
            f"A title has 1 to {MAX_TITLE} characters",
            [*path, "title"],
        )
    check.text(proposed.description, [*path, "description"])
    if proposed.max_units is not None and proposed.max_units < 1:
        check.add(
            ErrorCode.INVALID_INPUT,
            "The maximum number of units is at least 1",
            [*path, "max_units"],
        )


@dataclass
class Plan:
    """The milestones after a batch of changes, and the ones it deleted."""

    milestones: list[Milestone]
    deleted: list[Milestone]


def apply_changes(
    milestones: Sequence[Milestone], changes: Sequence[MilestoneChange], policy: Policy
) -> Plan:
    """Apply `changes` to copies of `milestones`; raise DomainError for any that cannot apply."""
    plan = [dataclasses.replace(m) for m in milestones]
    deleted: list[Milestone] = []
    problems: list[Problem] = []
    for i, change in enumerate(changes):
        path = ("changes", str(i))
        try:
            _apply(plan, deleted, change, policy, path)
        except DomainError as error:
            problems.extend(error.problems)
    if len(plan) > policy.max_milestones_per_contract:
        problems.append(
            Problem(
                ErrorCode.TOO_MANY_MILESTONES,
                f"A contract has at most {policy.max_milestones_per_contract} milestones",
                ("changes",),
            )
        )
    if problems:
        raise DomainError(problems)
    for position, milestone in enumerate(plan, start=1):
        milestone.position = position
    return Plan(milestones=plan, deleted=deleted)


def _locked(plan: Sequence[Milestone]) -> int:
    """How many milestones, from the first, are active or finished."""
    return max(
        (i + 1 for i, m in enumerate(plan) if m.status is not MilestoneStatus.NOT_FUNDED),
        default=0,
    )


def _apply(
    plan: list[Milestone],
    deleted: list[Milestone],
    change: MilestoneChange,
    policy: Policy,
    path: tuple[str, ...],
) -> None:
    locked = _locked(plan)
    if change.action is ChangeAction.ADD:
        position = change.position if change.position is not None else len(plan) + 1
        _check_position(position, locked, len(plan) + 1, path)
        assert change.title is not None and change.amount is not None
        change.added = Milestone(
            id=None,
            position=position,
            title=change.title,
            description=change.description or "",
            amount=change.amount,
            due_date=change.due_date,
            unit_price=change.unit_price,
            max_units=change.max_units if change.unit_price is not None else None,
        )
        plan.insert(position - 1, change.added)
        return
    index = next((i for i, m in enumerate(plan) if m.id == change.milestone_id), None)
    if index is None:
        raise DomainError.one(ErrorCode.NOT_FOUND, "No such milestone", [*path, "milestone_id"])
    target = plan[index]
    if target.status is not MilestoneStatus.NOT_FUNDED:
        raise DomainError.one(
            ErrorCode.MILESTONE_NOT_EDITABLE,
            f"Milestone {target.position} is {target.status}; only future milestones change",
            [*path, "milestone_id"],
        )
    if change.action is ChangeAction.DELETE:
        deleted.append(plan.pop(index))
    elif change.action is ChangeAction.MOVE:
        assert change.position is not None
        _check_position(change.position, locked, len(plan), path)
        plan.insert(change.position - 1, plan.pop(index))
    else:
        _update(target, change, policy, path)


def _check_position(position: int, locked: int, last: int, path: tuple[str, ...]) -> None:
    if 1 <= position <= locked:
        raise DomainError.one(
            ErrorCode.MILESTONE_NOT_EDITABLE,
            "Nothing may be placed at or before an active or finished milestone",
            [*path, "position"],
        )
    if not 1 <= position <= last:
        raise DomainError.one(
            ErrorCode.INVALID_INPUT, f"position must be between 1 and {last}", [*path, "position"]
        )


def _update(
    target: Milestone, change: MilestoneChange, policy: Policy, path: tuple[str, ...]
) -> None:
    if change.title is not None:
        target.title = change.title
    if change.description is not None:
        target.description = change.description
    if change.due_date is not None:
        target.due_date = change.due_date
    if change.unit_price is not None or change.max_units is not None:
        unit_price = change.unit_price if change.unit_price is not None else target.unit_price
        max_units = change.max_units if change.max_units is not None else target.max_units
        if unit_price is None or max_units is None:
            raise DomainError.one(
                ErrorCode.INVALID_INPUT,
                "A piece-rate milestone needs both a unit price and a maximum of units",
                [*path, "unit_price"],
            )
        product = unit_price * max_units
        if product > policy.max_amount:
            raise DomainError.one(
                ErrorCode.INVALID_AMOUNT,
                f"The unit price times the maximum units exceeds the maximum of"
                f" {format_amount(policy.max_amount)}",
                [*path, "amount"],
            )
        if change.amount is not None and change.amount != product:
            raise DomainError.one(
                ErrorCode.INVALID_INPUT,
                f"The amount must equal the unit price times the maximum units"
                f" ({format_amount(product)})",
                [*path, "amount"],
            )
        target.unit_price, target.max_units, target.amount = unit_price, max_units, product
    elif change.amount is not None:
        if target.is_piece_rate:
            raise DomainError.one(
                ErrorCode.INVALID_INPUT,
                "A piece-rate milestone's amount follows its unit price and maximum units",
                [*path, "amount"],
            )
        target.amount = change.amount
    if target.amount < policy.minimum_milestone_amount:
        raise DomainError.one(
            ErrorCode.AMOUNT_TOO_SMALL,
            f"A milestone is at least {format_amount(policy.minimum_milestone_amount)}",
            [*path, "amount"],
        )
