"""The milestone work cycle: fund, submit, request a revision, release, complete, pay a bonus.

One milestone is active at a time (`fund` refuses while `Contract.active_milestone` is set),
and milestones are funded in their order.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.checks import Checks, checking
from app.domain.clock import clear_review, start_review, stop_review
from app.domain.commands import PayBonus, ReleaseMilestone, RequestRevision, SubmitMilestone
from app.domain.errors import ErrorCode, refuse
from app.domain.escrow import Escrow
from app.domain.events import EventType
from app.domain.ledger import Entry, EntryKind
from app.domain.milestones import (
    MAX_SUBMISSIONS,
    Milestone,
    MilestoneStatus,
    Submission,
    SubmissionStatus,
)
from app.domain.money import format_amount
from app.domain.permissions import Action, Actor, ContractStatus, milestone_target
from app.domain.urls import MAX_URL, is_web_url

MAX_ATTACHMENTS = 20


class MilestoneWork(Escrow):
    def fund(self, actor: Actor, milestone_id: int) -> Milestone:
        milestone = self.milestone(milestone_id)
        self.authorize(actor, Action.FUND)
        self._require_open(Action.FUND, allow_offer=milestone.position == 1)
        self._require_milestone(milestone, Action.FUND)
        active = self.active_milestone
        if active is not None:
            raise refuse(
                ErrorCode.ANOTHER_MILESTONE_ACTIVE,
                f"Milestone {active.position} is still active",
                ["milestone_id"],
            )
        first = next(m for m in self.milestones if m.status is MilestoneStatus.NOT_FUNDED)
        if first is not milestone:
            raise refuse(
                ErrorCode.MILESTONE_OUT_OF_ORDER,
                f"Milestone {first.position} must be funded first",
                ["milestone_id"],
            )
        self._allocate(milestone, milestone.amount)
        milestone.status = milestone_target(Action.FUND)
        milestone.funded_at = self.now
        self._emit(EventType.MILESTONE_FUNDED, actor.user_id, milestone, amount=milestone.amount)
        return milestone

    def submit(self, actor: Actor, command: SubmitMilestone) -> Milestone:
        milestone = self.milestone(command.milestone_id)
        self.authorize(actor, Action.SUBMIT)
        units = command.units
        with checking(command.rejected) as check:
            text = check.text(command.message, ["message"])
            urls = _check_attachments(command.attachments, check)
            requested = check.amount(
                command.requested_amount, ["requested_amount"], maximum=self.policy.max_amount
            )
            requested = _check_units(milestone, units, requested, check)
        self._require_submittable(milestone)
        amount = requested if requested is not None else milestone.funded_amount
        milestone.latest_submission = Submission(
            id=None,
            message=text,
            attachments=urls,
            requested_amount=amount,
            units=units,
            status=SubmissionStatus.PENDING,
            created_at=self.now,
        )
        milestone.status = milestone_target(Action.SUBMIT)
        milestone.submitted_at = self.now
        start_review(milestone, self.now, self.policy.auto_release_after)
        self._emit(
            EventType.MILESTONE_SUBMITTED,
            actor.user_id,
            milestone,
            amount=amount,
            message=text or None,
        )
        return milestone

    def _require_submittable(self, milestone: Milestone) -> None:
        self._require_open(Action.SUBMIT)
        self._require_milestone(milestone, Action.SUBMIT)
        self._require_no_refund(milestone)
        if milestone.submissions >= MAX_SUBMISSIONS:
            raise refuse(
                ErrorCode.INVALID_STATE,
                f"A milestone takes at most {MAX_SUBMISSIONS} submissions: release it, or"
                " change or dispute it",
                ["milestone_id"],
            )

    def request_revision(self, actor: Actor, command: RequestRevision) -> Milestone:
        milestone = self.milestone(command.milestone_id)
        self.authorize(actor, Action.REQUEST_REVISION)
        with checking(command.rejected) as check:
            text = check.text(command.message, ["message"])
        self._require_open(Action.REQUEST_REVISION)
        self._require_milestone(milestone, Action.REQUEST_REVISION)
        milestone.status = milestone_target(Action.REQUEST_REVISION)
        stop_review(milestone)
        if milestone.latest_submission is not None:
            milestone.latest_submission.status = SubmissionStatus.REVISION_REQUESTED
        self._emit(
            EventType.MILESTONE_REVISION_REQUESTED, actor.user_id, milestone, message=text or None
        )
        return milestone

    def release(self, actor: Actor, command: ReleaseMilestone) -> Milestone:
        milestone = self.milestone(command.milestone_id)
        self.authorize(actor, Action.RELEASE)
        end_contract = command.end_contract
        with checking(command.rejected) as check:
            value = check.amount(command.amount, ["amount"], maximum=self.policy.max_amount)
        self._require_open(Action.RELEASE)
        self._require_milestone(milestone, Action.RELEASE)
        if end_contract and any(m.status is MilestoneStatus.NOT_FUNDED for m in self.milestones):
            raise refuse(
                ErrorCode.INVALID_STATE,
                "The contract cannot end while milestones remain unfunded",
                ["end_contract"],
            )
        submission = milestone.latest_submission
        if submission is not None and submission.status is not SubmissionStatus.PENDING:
            submission = None
        if milestone.is_piece_rate:
            value = _piece_rate_release(milestone, submission, value, end_contract=end_contract)
        elif value is None:
            pending = milestone.status is MilestoneStatus.SUBMITTED and submission is not None
            value = submission.requested_amount if submission and pending else milestone.remaining
        self._withdraw_refund(milestone)
        self._settle(milestone, value, actor.user_id)
        if end_contract:
            self._close(actor, Action.END, "")
        return milestone

    def complete(self, actor: Actor, milestone_id: int) -> Milestone:
        """The client ends a piece-rate milestone; its unpaid escrow becomes available."""
        milestone = self.milestone(milestone_id)
        self.authorize(actor, Action.COMPLETE)
        self._require_open(Action.COMPLETE)
        if not milestone.is_piece_rate:
            raise refuse(
                ErrorCode.INVALID_STATE,
                "Only a piece-rate milestone is completed; release a fixed-price one",
                ["milestone_id"],
            )
        self._require_milestone(milestone, Action.COMPLETE)
        self._withdraw_refund(milestone)
        clear_review(milestone)
        milestone.status = milestone_target(Action.COMPLETE, in_full=bool(milestone.units_released))
        # No money moves: the unpaid escrow is now available. The event tells the parties
        # that the milestone is finished.
        self._emit(
            EventType.MILESTONE_RELEASED,
            actor.user_id,
            milestone,
            message="Completed by the client",
        )
        return milestone

    def pay_bonus(self, actor: Actor, command: PayBonus) -> None:
        self.authorize(actor, Action.PAY_BONUS)
        with checking(command.rejected) as check:
            value = check.amount(command.amount, ["amount"], maximum=self.policy.max_amount)
            paid = self.ledger.by_kind[EntryKind.BONUS]
            if value is not None and paid + value > self.policy.max_amount:
                check.add(
                    ErrorCode.INVALID_AMOUNT,
                    "A contract's bonuses add up to at most"
                    f" {format_amount(self.policy.max_amount)}"
                    f" ({format_amount(self.policy.max_amount - paid)} left)",
                    ["amount"],
                )
            text = check.text(command.note, ["note"])
        assert value is not None
        if self.status is not ContractStatus.ACTIVE:
            raise refuse(ErrorCode.INVALID_STATE, "A bonus is paid on an active contract only")
        self._record(Entry(EntryKind.BONUS, value))
        self._record_fee(EntryKind.PROCESSING_FEE, value, self.policy.client_processing_fee_bps)
        self._record_fee(EntryKind.SERVICE_FEE, value, self.policy.freelancer_service_fee_bps)
        self._emit(EventType.BONUS_PAID, actor.user_id, amount=value, message=text)


def _check_attachments(attachments: Sequence[str], check: Checks) -> list[str]:
    if len(attachments) > MAX_ATTACHMENTS:
        check.add(
            ErrorCode.INVALID_INPUT,
            f"At most {MAX_ATTACHMENTS} attachments",
            ["attachments"],
        )
    for i, url in enumerate(attachments):
        if not is_web_url(url):
            check.add(
                ErrorCode.INVALID_INPUT,
                f"An attachment is an absolute http(s) URL with a host, of at most {MAX_URL}"
                " characters",
                ["attachments", str(i)],
            )
    return list(attachments)


def _check_units(
    milestone: Milestone, units: int | None, requested: int | None, check: Checks
) -> int | None:
    """The submission's units: a piece-rate one asks for units * unit price, others none."""
    if not milestone.is_piece_rate:
        if units is not None:
            check.add(
                ErrorCode.INVALID_INPUT, "units applies to piece-rate milestones only", ["units"]
            )
        return requested
    remaining_units = (milestone.max_units or 0) - milestone.units_released
    if units is None:
        check.add(ErrorCode.INVALID_INPUT, "A piece-rate submission needs units", ["units"])
        return requested
    if not 1 <= units <= remaining_units:
        check.add(
            ErrorCode.INVALID_INPUT,
            f"units must be between 1 and the {remaining_units} that remain",
            ["units"],
        )
        return requested
    due = units * (milestone.unit_price or 0)
    if requested is not None and requested != due:
        check.add(
            ErrorCode.INVALID_INPUT,
            f"The requested amount must equal the units times the unit price"
            f" ({format_amount(due)})",
            ["requested_amount"],
        )
    return due


def _piece_rate_release(
    milestone: Milestone, submission: Submission | None, value: int | None, *, end_contract: bool
) -> int:
    """A piece-rate milestone pays exactly the submitted units."""
    if milestone.status is not MilestoneStatus.SUBMITTED or submission is None:
        raise refuse(
            ErrorCode.INVALID_STATE,
            "A piece-rate milestone is paid for submitted units only",
            ["milestone_id"],
        )
    due = (submission.units or 0) * (milestone.unit_price or 0)
    if value is not None and value != due:
        raise refuse(
            ErrorCode.INVALID_AMOUNT,
            "The amount must equal the submitted units times the unit price"
            f" ({format_amount(due)})",
            ["amount"],
        )
    units_left = (milestone.max_units or 0) - milestone.units_released
    if end_contract and (submission.units or 0) < units_left:
        raise refuse(
            ErrorCode.INVALID_STATE,
            "The contract cannot end while units of this milestone remain",
            ["end_contract"],
        )
    return due
