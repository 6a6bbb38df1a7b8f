"""Milestone change requests: parsing a batch of changes and applying it to the plan.

Changes apply in list order, each to the result of the one before; afterwards positions are
1..n. Only future (`NOT_FUNDED`) milestones may change, and nothing may be placed at or before
an active or finished one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass

from app.domain.errors import DomainError, ErrorCode, InputProblems, Problem
from app.domain.milestones import (
    MAX_TEXT,
    MAX_TITLE,
    Milestone,
    MilestoneDraft,
    MilestoneStatus,
    given_fields,
    parse_milestone,
    parse_optional_amount,
    plain_fields,
)
from app.domain.money import format_amount
from app.domain.policy import Policy
from app.domain.requests import ChangeAction, MilestoneChange

MAX_CHANGES = 200
UNKNOWN_ID = -1  # a milestone id that was given but could not be decoded


@dataclass
class ChangeDraft(MilestoneDraft):
    """A change as the client sent it: amounts as text, nothing checked yet."""

    action: ChangeAction
    _: KW_ONLY
    milestone_id: int | None = None
    position: int | None = None


def parse_changes(drafts: Sequence[ChangeDraft], policy: Policy) -> list[MilestoneChange]:
    """Check each change on its own (fields, amounts); report every bad field at once."""
    problems = InputProblems()
    if not drafts:
        problems.add(ErrorCode.INVALID_INPUT, "Propose at least one change", ["changes"])
    if len(drafts) > MAX_CHANGES:
        problems.add(ErrorCode.INVALID_INPUT, f"At most {MAX_CHANGES} changes", ["changes"])
    changes = [_parse_one(d, ["changes", str(i)], policy, problems) for i, d in enumerate(drafts)]
    problems.raise_if_any()
    return changes


def _parse_one(
    draft: ChangeDraft, path: list[str], policy: Policy, problems: InputProblems
) -> MilestoneChange:
    change = MilestoneChange(
        action=draft.action,
        milestone_id=draft.milestone_id,
        position=draft.position,
        **plain_fields(draft),
    )
    if change.title is not None:
        change.title = change.title.strip()
    if draft.action is ChangeAction.ADD:
        if draft.milestone_id is not None:
            problems.add(
                ErrorCode.INVALID_INPUT, "ADD takes no milestoneId", [*path, "milestoneId"]
            )
        milestone = parse_milestone(draft, policy, path, problems)
        if milestone is not None:
            change.amount = milestone.amount
            change.unit_price = milestone.unit_price
    else:
        if draft.milestone_id is None:
            problems.add(
                ErrorCode.INVALID_INPUT,
                f"{draft.action} needs a milestoneId",
                [*path, "milestoneId"],
            )
        change.amount = parse_optional_amount(
            draft.amount, [*path, "amount"], problems, maximum=policy.max_amount
        )
        change.unit_price = parse_optional_amount(
            draft.unit_price, [*path, "unitPrice"], problems, maximum=policy.max_amount
        )
        if change.title is not None and not 1 <= len(change.title) <= MAX_TITLE:
            problems.add(
                ErrorCode.INVALID_INPUT,
                f"A title has 1 to {MAX_TITLE} characters",
                [*path, "title"],
            )
        if draft.description is not None and len(draft.description) > MAX_TEXT:
            problems.add(
                ErrorCode.INVALID_INPUT,
                f"Description is longer than {MAX_TEXT}",
                [*path, "description"],
            )
        if draft.max_units is not None and draft.max_units < 1:
            problems.add(ErrorCode.INVALID_INPUT, "maxUnits is at least 1", [*path, "maxUnits"])
    if draft.action is ChangeAction.MOVE and draft.position is None:
        problems.add(ErrorCode.INVALID_INPUT, "MOVE needs a position", [*path, "position"])
    if draft.action is ChangeAction.UPDATE and not given_fields(draft):
        problems.add(ErrorCode.INVALID_INPUT, "UPDATE changes at least one field", path)
    return change


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
        raise DomainError.one(ErrorCode.NOT_FOUND, "No such milestone", [*path, "milestoneId"])
    target = plan[index]
    if target.status is not MilestoneStatus.NOT_FUNDED:
        raise DomainError.one(
            ErrorCode.MILESTONE_NOT_EDITABLE,
            f"Milestone {target.position} is {target.status}; only future milestones change",
            [*path, "milestoneId"],
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
                "A piece-rate milestone needs both unitPrice and maxUnits",
                [*path, "unitPrice"],
            )
        product = unit_price * max_units
        if product > policy.max_amount:
            raise DomainError.one(
                ErrorCode.INVALID_AMOUNT,
                f"unitPrice * maxUnits exceeds the maximum of {format_amount(policy.max_amount)}",
                [*path, "amount"],
            )
        if change.amount is not None and change.amount != product:
            raise DomainError.one(
                ErrorCode.INVALID_INPUT,
                f"amount must equal unitPrice * maxUnits ({format_amount(product)})",
                [*path, "amount"],
            )
        target.unit_price, target.max_units, target.amount = unit_price, max_units, product
    elif change.amount is not None:
        if target.is_piece_rate:
            raise DomainError.one(
                ErrorCode.INVALID_INPUT,
                "A piece-rate milestone's amount follows unitPrice and maxUnits",
                [*path, "amount"],
            )
        target.amount = change.amount
    if target.amount < policy.minimum_milestone_amount:
        raise DomainError.one(
            ErrorCode.AMOUNT_TOO_SMALL,
            f"A milestone is at least {format_amount(policy.minimum_milestone_amount)}",
            [*path, "amount"],
        )
