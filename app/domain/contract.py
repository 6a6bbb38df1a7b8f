"""The contract aggregate: a contract, its milestones and the state machine that moves money.

Every action checks in the order of the product contract (permission, then input, then
state) and raises `DomainError` before it changes anything it will be persisted with. A
successful action appends the ledger entries it pays with to `entries` and the events it
causes to `events`; the service persists both with the changed rows in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from app.domain.changes import ChangeDraft, apply_changes, parse_changes
from app.domain.errors import DomainError, ErrorCode, InputProblems, refuse
from app.domain.events import Event, EventType
from app.domain.ledger import Entry, EntryKind, LedgerTotals
from app.domain.milestones import (
    MAX_SUBMISSIONS,
    MAX_TITLE,
    Milestone,
    MilestoneDraft,
    MilestoneStatus,
    Submission,
    SubmissionStatus,
    check_text,
    parse_milestone,
    parse_optional_amount,
)
from app.domain.money import CURRENCIES, DEFAULT_CURRENCY, fee, format_amount, parse_amount
from app.domain.policy import Policy
from app.domain.requests import (
    MAX_CHANGE_REQUESTS,
    MAX_REFUND_REQUESTS,
    ChangeRequest,
    ChangeRequestStatus,
    Dispute,
    DisputeStatus,
    RefundRequest,
    RefundStatus,
)
from app.domain.urls import MAX_URL, is_web_url

MAX_ATTACHMENTS = 20


class ContractStatus(StrEnum):
    OFFERED = "OFFERED"
    ACTIVE = "ACTIVE"
    DECLINED = "DECLINED"
    ENDED = "ENDED"


class Role(StrEnum):
    CLIENT = "CLIENT"
    FREELANCER = "FREELANCER"


class Action(StrEnum):
    ACCEPT = "accept the offer"
    DECLINE = "decline the offer"
    END = "end the contract"
    FUND = "fund a milestone"
    SUBMIT = "submit work"
    REQUEST_REVISION = "request a revision"
    RELEASE = "release payment"
    COMPLETE = "complete a piece-rate milestone"
    PAY_BONUS = "pay a bonus"
    PROPOSE_CHANGES = "propose milestone changes"
    ANSWER_CHANGES = "answer a change request"
    REQUEST_REFUND = "request a refund"
    ANSWER_REFUND = "answer a refund request"
    OPEN_DISPUTE = "open a dispute"
    WITHDRAW_DISPUTE = "withdraw a dispute"
    RESOLVE_DISPUTE = "resolve a dispute"


# Who may take each action: one party, or None for either party. Admins only watch, except
# that resolving a dispute is theirs alone.
PERMISSIONS: Mapping[Action, Role | None] = {
    Action.ACCEPT: Role.FREELANCER,
    Action.DECLINE: Role.FREELANCER,
    Action.END: None,
    Action.FUND: Role.CLIENT,
    Action.SUBMIT: Role.FREELANCER,
    Action.REQUEST_REVISION: Role.CLIENT,
    Action.RELEASE: Role.CLIENT,
    Action.COMPLETE: Role.CLIENT,
    Action.PAY_BONUS: Role.CLIENT,
    Action.PROPOSE_CHANGES: None,
    Action.ANSWER_CHANGES: None,
    Action.REQUEST_REFUND: Role.CLIENT,
    Action.ANSWER_REFUND: Role.FREELANCER,
    Action.OPEN_DISPUTE: None,
    Action.WITHDRAW_DISPUTE: None,
}

_WORKING = frozenset(
    {MilestoneStatus.FUNDED, MilestoneStatus.SUBMITTED, MilestoneStatus.REVISION_REQUESTED}
)
# The milestone state machine: the statuses each action may start from.
TRANSITIONS: Mapping[Action, frozenset[MilestoneStatus]] = {
    Action.FUND: frozenset({MilestoneStatus.NOT_FUNDED}),
    Action.SUBMIT: frozenset({MilestoneStatus.FUNDED, MilestoneStatus.REVISION_REQUESTED}),
    Action.REQUEST_REVISION: frozenset({MilestoneStatus.SUBMITTED}),
    Action.RELEASE: _WORKING,
    Action.COMPLETE: frozenset({MilestoneStatus.FUNDED, MilestoneStatus.REVISION_REQUESTED}),
    Action.REQUEST_REFUND: _WORKING,
    Action.OPEN_DISPUTE: _WORKING,
}


@dataclass(frozen=True)
class Actor:
    user_id: int
    is_admin: bool = False


@dataclass
class Contract:
    id: int | None
    client_id: int
    freelancer_id: int
    title: str
    description: str
    currency: str
    status: ContractStatus
    created_at: datetime
    now: datetime
    policy: Policy
    accepted_at: datetime | None = None
    ended_at: datetime | None = None
    last_sequence: int = 0
    milestones: list[Milestone] = field(default_factory=list)
    ledger: LedgerTotals = field(default_factory=LedgerTotals.empty)
    refunds: list[RefundRequest] = field(default_factory=list)
    disputes: list[Dispute] = field(default_factory=list)
    change_requests: list[ChangeRequest] = field(default_factory=list)
    deleted_milestones: list[Milestone] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    # --- creation ---------------------------------------------------------------------

    @classmethod
    def offer(
        cls,
        *,
        client_id: int,
        freelancer_id: int,
        title: str | None,
        description: str | None,
        currency: str | None,
        milestones: Sequence[MilestoneDraft],
        policy: Policy,
        now: datetime,
    ) -> Contract:
        problems = InputProblems()
        clean_title = (title or "").strip()
        if not clean_title:
            problems.add(ErrorCode.INVALID_INPUT, "A contract needs a title", ["title"])
        elif len(clean_title) > MAX_TITLE:
            problems.add(ErrorCode.INVALID_INPUT, f"Title is longer than {MAX_TITLE}", ["title"])
        clean_description = check_text(description, ["description"], problems)
        chosen_currency = currency if currency is not None else DEFAULT_CURRENCY
        if chosen_currency not in CURRENCIES:
            problems.add(
                ErrorCode.INVALID_INPUT,
                f"Currency must be one of {', '.join(sorted(CURRENCIES))}",
                ["currency"],
            )
        if client_id == freelancer_id:
            problems.add(ErrorCode.INVALID_INPUT, "You cannot hire yourself", ["freelancerId"])
        if not milestones:
            problems.add(ErrorCode.INVALID_INPUT, "A contract needs a milestone", ["milestones"])
        if len(milestones) > policy.max_milestones_per_contract:
            problems.add(
                ErrorCode.TOO_MANY_MILESTONES,
                f"A contract has at most {policy.max_milestones_per_contract} milestones",
                ["milestones"],
            )
        parsed = [
            parse_milestone(draft, policy, ["milestones", str(i)], problems)
            for i, draft in enumerate(milestones)
        ]
        problems.raise_if_any()
        contract = cls(
            id=None,
            client_id=client_id,
            freelancer_id=freelancer_id,
            title=clean_title,
            description=clean_description,
            currency=chosen_currency,
            status=ContractStatus.OFFERED,
            created_at=now,
            now=now,
            policy=policy,
        )
        for position, milestone in enumerate(parsed, start=1):
            assert milestone is not None
            milestone.position = position
            contract.milestones.append(milestone)
        contract._emit(EventType.CONTRACT_OFFERED, client_id)
        return contract

    # --- reading ----------------------------------------------------------------------

    def role_of(self, actor: Actor) -> Role | None:
        if actor.user_id == self.client_id:
            return Role.CLIENT
        if actor.user_id == self.freelancer_id:
            return Role.FREELANCER
        return None

    def is_visible_to(self, actor: Actor) -> bool:
        return actor.is_admin or self.role_of(actor) is not None

    @property
    def active_milestone(self) -> Milestone | None:
        return next((m for m in self.milestones if m.is_active), None)

    @property
    def allocated(self) -> int:
        return sum(m.remaining for m in self.milestones if m.is_active)

    @property
    def available(self) -> int:
        """Escrow held for the contract but allocated to no active milestone."""
        return self.ledger.held - self.allocated

    def milestone(self, milestone_id: int) -> Milestone:
        for milestone in self.milestones:
            if milestone.id == milestone_id:
                return milestone
        raise refuse(ErrorCode.NOT_FOUND, "No such milestone", ["milestoneId"])

    def pending_refund(self, milestone: Milestone) -> RefundRequest | None:
        return next(
            (
                r
                for r in self.refunds
                if r.milestone_id == milestone.id and r.status is RefundStatus.PENDING
            ),
            None,
        )

    @property
    def pending_change_request(self) -> ChangeRequest | None:
        return next(
            (c for c in self.change_requests if c.status is ChangeRequestStatus.PENDING), None
        )

    def refund_request(self, refund_id: int) -> RefundRequest:
        found = next((r for r in self.refunds if r.id == refund_id), None)
        if found is None:
            raise refuse(ErrorCode.NOT_FOUND, "No such refund request", ["refundRequestId"])
        return found

    def dispute(self, dispute_id: int) -> Dispute:
        found = next((d for d in self.disputes if d.id == dispute_id), None)
        if found is None:
            raise refuse(ErrorCode.NOT_FOUND, "No such dispute", ["disputeId"])
        return found

    def change_request(self, change_request_id: int) -> ChangeRequest:
        found = next((c for c in self.change_requests if c.id == change_request_id), None)
        if found is None:
            raise refuse(ErrorCode.NOT_FOUND, "No such change request", ["changeRequestId"])
        return found

    # --- the offer ----------------------------------------------------------------------

    def accept(self, actor: Actor) -> None:
        self.authorize(actor, Action.ACCEPT)
        self._require_status(ContractStatus.OFFERED, "accepted")
        self.status = ContractStatus.ACTIVE
        self.accepted_at = self.now
        self._emit(EventType.CONTRACT_ACCEPTED, actor.user_id)

    def decline(self, actor: Actor, reason: str | None) -> None:
        self.authorize(actor, Action.DECLINE)
        problems = InputProblems()
        text = check_text(reason, ["reason"], problems)
        problems.raise_if_any()
        self._require_status(ContractStatus.OFFERED, "declined")
        self._close(actor, ContractStatus.DECLINED, text)

    def end(self, actor: Actor, reason: str | None) -> None:
        role = self._require(actor, None, Action.END)
        if self.status is ContractStatus.OFFERED and role is not Role.CLIENT:
            raise refuse(ErrorCode.NOT_PERMITTED, "Only the client may withdraw an offer")
        problems = InputProblems()
        text = check_text(reason, ["reason"], problems)
        problems.raise_if_any()
        if self.status is ContractStatus.ACTIVE:
            if any(
                m.status in (MilestoneStatus.SUBMITTED, MilestoneStatus.DISPUTED)
                for m in self.milestones
            ):
                raise refuse(
                    ErrorCode.INVALID_STATE,
                    "A contract cannot end while a milestone is submitted or disputed",
                )
            if role is Role.CLIENT and self.active_milestone is not None:
                raise refuse(
                    ErrorCode.ACTIVE_MILESTONE_FUNDED,
                    "Release the funded milestone or request a refund before ending",
                )
        elif self.status is not ContractStatus.OFFERED:
            raise refuse(ErrorCode.INVALID_STATE, f"The contract is already {self.status}")
        self._close(actor, ContractStatus.ENDED, text)

    # --- milestones -----------------------------------------------------------------------

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
                ["milestoneId"],
            )
        first = next(m for m in self.milestones if m.status is MilestoneStatus.NOT_FUNDED)
        if first is not milestone:
            raise refuse(
                ErrorCode.MILESTONE_OUT_OF_ORDER,
                f"Milestone {first.position} must be funded first",
                ["milestoneId"],
            )
        self._allocate(milestone, milestone.amount)
        milestone.status = MilestoneStatus.FUNDED
        milestone.funded_at = self.now
        self._emit(EventType.MILESTONE_FUNDED, actor.user_id, milestone, amount=milestone.amount)
        return milestone

    def submit(
        self,
        actor: Actor,
        milestone_id: int,
        *,
        message: str | None,
        attachments: Sequence[str],
        requested_amount: str | None,
        units: int | None,
    ) -> Milestone:
        milestone = self.milestone(milestone_id)
        self.authorize(actor, Action.SUBMIT)
        problems = InputProblems()
        text = check_text(message, ["message"], problems)
        urls = self._check_attachments(attachments, problems)
        requested = parse_optional_amount(
            requested_amount, ["requestedAmount"], problems, maximum=self.policy.max_amount
        )
        if milestone.is_piece_rate:
            remaining_units = (milestone.max_units or 0) - milestone.units_released
            if units is None:
                problems.add(
                    ErrorCode.INVALID_INPUT, "A piece-rate submission needs units", ["units"]
                )
            elif not 1 <= units <= remaining_units:
                problems.add(
                    ErrorCode.INVALID_INPUT,
                    f"units must be between 1 and the {remaining_units} that remain",
                    ["units"],
                )
            else:
                due = units * (milestone.unit_price or 0)
                if requested is not None and requested != due:
                    problems.add(
                        ErrorCode.INVALID_INPUT,
                        f"requestedAmount must equal units * unitPrice ({format_amount(due)})",
                        ["requestedAmount"],
                    )
                requested = due
        elif units is not None:
            problems.add(
                ErrorCode.INVALID_INPUT, "units applies to piece-rate milestones only", ["units"]
            )
        problems.raise_if_any()
        self._require_open(Action.SUBMIT)
        self._require_milestone(milestone, Action.SUBMIT)
        self._require_no_refund(milestone)
        if milestone.submissions >= MAX_SUBMISSIONS:
            raise refuse(
                ErrorCode.INVALID_STATE,
                f"A milestone takes at most {MAX_SUBMISSIONS} submissions: release it, or"
                " change or dispute it",
                ["milestoneId"],
            )
        amount = requested if requested is not None else milestone.funded_amount
        submission = Submission(
            id=None,
            message=text,
            attachments=urls,
            requested_amount=amount,
            units=units,
            status=SubmissionStatus.PENDING,
            created_at=self.now,
        )
        milestone.latest_submission = submission
        milestone.status = MilestoneStatus.SUBMITTED
        milestone.submitted_at = self.now
        milestone.auto_release_at = self.now + self.policy.auto_release_after
        self._emit(
            EventType.MILESTONE_SUBMITTED,
            actor.user_id,
            milestone,
            amount=amount,
            message=text or None,
        )
        return milestone

    def request_revision(self, actor: Actor, milestone_id: int, message: str | None) -> Milestone:
        milestone = self.milestone(milestone_id)
        self.authorize(actor, Action.REQUEST_REVISION)
        problems = InputProblems()
        text = check_text(message, ["message"], problems)
        problems.raise_if_any()
        self._require_open(Action.REQUEST_REVISION)
        self._require_milestone(milestone, Action.REQUEST_REVISION)
        milestone.status = MilestoneStatus.REVISION_REQUESTED
        milestone.auto_release_at = None
        if milestone.latest_submission is not None:
            milestone.latest_submission.status = SubmissionStatus.REVISION_REQUESTED
        self._emit(
            EventType.MILESTONE_REVISION_REQUESTED, actor.user_id, milestone, message=text or None
        )
        return milestone

    def release(
        self,
        actor: Actor,
        milestone_id: int,
        *,
        amount: str | None,
        end_contract: bool,
    ) -> Milestone:
        milestone = self.milestone(milestone_id)
        self.authorize(actor, Action.RELEASE)
        problems = InputProblems()
        value = parse_optional_amount(
            amount, ["amount"], problems, maximum=self.policy.max_amount
        )
        problems.raise_if_any()
        self._require_open(Action.RELEASE)
        self._require_milestone(milestone, Action.RELEASE)
        if end_contract and any(m.status is MilestoneStatus.NOT_FUNDED for m in self.milestones):
            raise refuse(
                ErrorCode.INVALID_STATE,
                "The contract cannot end while milestones remain unfunded",
                ["endContract"],
            )
        submission = milestone.latest_submission
        if submission is not None and submission.status is not SubmissionStatus.PENDING:
            submission = None
        if milestone.is_piece_rate:
            if milestone.status is not MilestoneStatus.SUBMITTED or submission is None:
                raise refuse(
                    ErrorCode.INVALID_STATE,
                    "A piece-rate milestone is paid for submitted units only",
                    ["milestoneId"],
                )
            due = (submission.units or 0) * (milestone.unit_price or 0)
            if value is not None and value != due:
                raise refuse(
                    ErrorCode.INVALID_AMOUNT,
                    f"The amount must equal the submitted units * unitPrice ({format_amount(due)})",
                    ["amount"],
                )
            value = due
            units_left = (milestone.max_units or 0) - milestone.units_released
            if end_contract and (submission.units or 0) < units_left:
                raise refuse(
                    ErrorCode.INVALID_STATE,
                    "The contract cannot end while units of this milestone remain",
                    ["endContract"],
                )
        elif value is None:
            pending = milestone.status is MilestoneStatus.SUBMITTED and submission is not None
            value = submission.requested_amount if submission and pending else milestone.remaining
        self._withdraw_refund(milestone)
        self._settle(milestone, value, actor.user_id)
        if end_contract:
            self._close(actor, ContractStatus.ENDED, "")
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
                ["milestoneId"],
            )
        self._require_milestone(milestone, Action.COMPLETE)
        self._withdraw_refund(milestone)
        milestone.auto_release_at = None
        milestone.review_seconds_left = None
        milestone.status = (
            MilestoneStatus.RELEASED if milestone.units_released else MilestoneStatus.CANCELLED
        )
        # No money moves: the unpaid escrow is now available. The event tells the parties
        # that the milestone is finished.
        self._emit(
            EventType.MILESTONE_RELEASED,
            actor.user_id,
            milestone,
            message="Completed by the client",
        )
        return milestone

    def pay_bonus(self, actor: Actor, amount: str | None, note: str | None) -> None:
        self.authorize(actor, Action.PAY_BONUS)
        problems = InputProblems()
        value = parse_optional_amount(
            amount, ["amount"], problems, maximum=self.policy.max_amount
        )
        if amount is None:
            problems.add(ErrorCode.INVALID_AMOUNT, "A bonus needs an amount", ["amount"])
        paid = self.ledger.by_kind[EntryKind.BONUS]
        if value is not None and paid + value > self.policy.max_amount:
            problems.add(
                ErrorCode.INVALID_AMOUNT,
                f"A contract's bonuses add up to at most {format_amount(self.policy.max_amount)}"
                f" ({format_amount(self.policy.max_amount - paid)} left)",
                ["amount"],
            )
        text = check_text(note, ["note"], problems)
        problems.raise_if_any()
        assert value is not None
        if self.status is not ContractStatus.ACTIVE:
            raise refuse(ErrorCode.INVALID_STATE, "A bonus is paid on an active contract only")
        self._record(Entry(EntryKind.BONUS, value))
        self._record_fee(EntryKind.PROCESSING_FEE, value, self.policy.client_processing_fee_bps)
        self._record_fee(EntryKind.SERVICE_FEE, value, self.policy.freelancer_service_fee_bps)
        self._emit(EventType.BONUS_PAID, actor.user_id, amount=value, message=text)

    # --- refunds --------------------------------------------------------------------------

    def request_refund(
        self, actor: Actor, milestone_id: int, amount: str | None, reason: str | None
    ) -> RefundRequest:
        milestone = self.milestone(milestone_id)
        self.authorize(actor, Action.REQUEST_REFUND)
        problems = InputProblems()
        value = parse_optional_amount(
            amount, ["amount"], problems, maximum=self.policy.max_amount
        )
        text = check_text(reason, ["reason"], problems)
        problems.raise_if_any()
        self._require_open(Action.REQUEST_REFUND)
        self._require_milestone(milestone, Action.REQUEST_REFUND)
        self._require_no_refund(milestone)
        if sum(1 for r in self.refunds if r.milestone_id == milestone.id) >= MAX_REFUND_REQUESTS:
            raise refuse(
                ErrorCode.INVALID_STATE,
                f"A milestone takes at most {MAX_REFUND_REQUESTS} refund requests: release it,"
                " or open a dispute",
                ["milestoneId"],
            )
        if value is None:
            value = milestone.remaining
        elif value > milestone.remaining:
            raise refuse(
                ErrorCode.INVALID_AMOUNT,
                f"At most the milestone's escrow, {format_amount(milestone.remaining)}",
                ["amount"],
            )
        request = RefundRequest(
            id=None,
            milestone_id=self._id_of(milestone),
            amount=value,
            reason=text,
            status=RefundStatus.PENDING,
            respond_by=self.now + self.policy.refund_response_window,
            created_at=self.now,
        )
        self.refunds.append(request)
        self._pause_review(milestone)
        self._emit(
            EventType.REFUND_REQUESTED, actor.user_id, milestone, amount=value, message=text or None
        )
        return request

    def answer_refund(
        self, actor: Actor, refund_id: int, *, approve: bool, message: str | None
    ) -> RefundRequest:
        request = self.refund_request(refund_id)
        self.authorize(actor, Action.ANSWER_REFUND)
        problems = InputProblems()
        text = check_text(message, ["message"], problems)
        problems.raise_if_any()
        if request.status is not RefundStatus.PENDING:
            raise refuse(ErrorCode.INVALID_STATE, f"The refund request is {request.status}")
        request.response = text or None
        if approve:
            self._approve_refund(request, actor.user_id)
        else:
            milestone = self.milestone(request.milestone_id)
            request.status = RefundStatus.DECLINED
            request.resolved_at = self.now
            self._resume_review(milestone)
            self._emit(EventType.REFUND_DECLINED, actor.user_id, milestone, message=text or None)
        return request

    def _approve_refund(self, request: RefundRequest, actor_id: int | None) -> None:
        """The amount goes back to the client; the rest of a fixed-price milestone's escrow is
        released to the freelancer, while a piece-rate milestone's rest becomes available."""
        milestone = self.milestone(request.milestone_id)
        request.status = RefundStatus.APPROVED
        request.resolved_at = self.now
        self._emit(EventType.REFUND_APPROVED, actor_id, milestone, amount=request.amount)
        self._refund(milestone, min(request.amount, milestone.remaining), actor_id)
        if milestone.remaining and not milestone.is_piece_rate:
            self._pay_out(milestone, milestone.remaining, actor_id)
        self._finish(milestone)

    def _withdraw_refund(self, milestone: Milestone) -> None:
        request = self.pending_refund(milestone)
        if request is not None:
            request.status = RefundStatus.WITHDRAWN
            request.resolved_at = self.now

    # --- disputes -------------------------------------------------------------------------

    def open_dispute(self, actor: Actor, milestone_id: int, reason: str | None) -> Dispute:
        milestone = self.milestone(milestone_id)
        self.authorize(actor, Action.OPEN_DISPUTE)
        problems = InputProblems()
        text = check_text(reason, ["reason"], problems)
        if not text.strip():
            problems.add(ErrorCode.INVALID_INPUT, "A dispute needs a reason", ["reason"])
        problems.raise_if_any()
        self._require_open(Action.OPEN_DISPUTE)
        self._require_milestone(milestone, Action.OPEN_DISPUTE)
        self._require_no_refund(milestone)
        dispute = Dispute(
            id=None,
            milestone_id=self._id_of(milestone),
            opened_by=actor.user_id,
            reason=text,
            status=DisputeStatus.OPEN,
            previous_status=milestone.status,
            created_at=self.now,
        )
        self.disputes.append(dispute)
        self._pause_review(milestone)
        milestone.status = MilestoneStatus.DISPUTED
        self._emit(EventType.DISPUTE_OPENED, actor.user_id, milestone, message=text)
        return dispute

    def withdraw_dispute(self, actor: Actor, dispute_id: int) -> Dispute:
        dispute = self.dispute(dispute_id)
        self.authorize(actor, Action.WITHDRAW_DISPUTE)
        if actor.user_id != dispute.opened_by:
            raise refuse(ErrorCode.NOT_PERMITTED, "Only who opened the dispute may withdraw it")
        if dispute.status is not DisputeStatus.OPEN:
            raise refuse(ErrorCode.INVALID_STATE, f"The dispute is {dispute.status}")
        milestone = self.milestone(dispute.milestone_id)
        dispute.status = DisputeStatus.WITHDRAWN
        dispute.resolved_at = self.now
        milestone.status = dispute.previous_status
        self._resume_review(milestone)
        self._emit(EventType.DISPUTE_WITHDRAWN, actor.user_id, milestone)
        return dispute

    def resolve_dispute(
        self,
        actor: Actor,
        dispute_id: int,
        *,
        freelancer_amount: str,
        client_amount: str,
        note: str | None,
    ) -> Dispute:
        dispute = self.dispute(dispute_id)
        self.authorize(actor, Action.RESOLVE_DISPUTE)
        problems = InputProblems()
        to_freelancer = self._parse_part(freelancer_amount, "freelancerAmount", problems)
        to_client = self._parse_part(client_amount, "clientAmount", problems)
        text = check_text(note, ["note"], problems)
        problems.raise_if_any()
        assert to_freelancer is not None and to_client is not None
        if dispute.status is not DisputeStatus.OPEN:
            raise refuse(ErrorCode.INVALID_STATE, f"The dispute is {dispute.status}")
        milestone = self.milestone(dispute.milestone_id)
        if to_freelancer + to_client != milestone.remaining:
            raise refuse(
                ErrorCode.INVALID_AMOUNT,
                "The parts must add up to the milestone's escrow, "
                f"{format_amount(milestone.remaining)}",
                ["freelancerAmount"],
            )
        dispute.status = DisputeStatus.RESOLVED
        dispute.freelancer_amount, dispute.client_amount = to_freelancer, to_client
        dispute.note, dispute.resolved_by, dispute.resolved_at = (
            text or None,
            actor.user_id,
            self.now,
        )
        self._emit(
            EventType.DISPUTE_RESOLVED,
            actor.user_id,
            milestone,
            amount=to_freelancer + to_client,
            message=text or None,
        )
        if to_client:
            self._refund(milestone, to_client, actor.user_id)
        if to_freelancer:
            self._pay_out(milestone, to_freelancer, actor.user_id)
        self._finish(milestone)
        return dispute

    def _parse_part(self, text: str, field_name: str, problems: InputProblems) -> int | None:
        try:
            return parse_amount(
                text, [field_name], allow_zero=True, maximum=self.policy.max_amount
            )
        except DomainError as error:
            problems.extend(error)
            return None

    # --- change requests ------------------------------------------------------------------

    def propose_changes(
        self, actor: Actor, drafts: Sequence[ChangeDraft], message: str | None
    ) -> ChangeRequest:
        self.authorize(actor, Action.PROPOSE_CHANGES)
        problems = InputProblems()
        text = check_text(message, ["message"], problems)
        try:
            changes = parse_changes(drafts, self.policy)
        except DomainError as error:
            problems.extend(error)
        problems.raise_if_any()
        if self.status is not ContractStatus.ACTIVE:
            raise refuse(ErrorCode.INVALID_STATE, "Milestones change only on an active contract")
        if self.pending_change_request is not None:
            raise refuse(
                ErrorCode.CHANGE_REQUEST_PENDING,
                "Another change request is pending; it must be answered or withdrawn first",
            )
        if len(self.change_requests) >= MAX_CHANGE_REQUESTS:
            raise refuse(
                ErrorCode.INVALID_STATE,
                f"A contract takes at most {MAX_CHANGE_REQUESTS} change requests: to change its"
                " milestones again, end it and offer a new contract",
            )
        apply_changes(self.milestones, changes, self.policy)
        request = ChangeRequest(
            id=None,
            proposed_by=actor.user_id,
            message=text,
            changes=changes,
            status=ChangeRequestStatus.PENDING,
            created_at=self.now,
        )
        self.change_requests.append(request)
        self._emit(
            EventType.CHANGE_REQUEST_PROPOSED,
            actor.user_id,
            message=text or None,
            change_request=request,
        )
        return request

    def accept_change_request(self, actor: Actor, change_request_id: int) -> ChangeRequest:
        request = self._answerable(actor, change_request_id)
        try:
            plan = apply_changes(self.milestones, request.changes, self.policy)
        except DomainError as error:
            raise refuse(
                ErrorCode.STALE_CHANGE_REQUEST,
                "The contract moved on since this request was made: "
                + "; ".join(p.message for p in error.problems),
            ) from None
        self.milestones = plan.milestones
        self.deleted_milestones.extend(plan.deleted)
        request.status = ChangeRequestStatus.ACCEPTED
        request.resolved_at = self.now
        self._emit(EventType.CHANGE_REQUEST_ACCEPTED, actor.user_id, change_request=request)
        return request

    def decline_change_request(
        self, actor: Actor, change_request_id: int, reason: str | None
    ) -> ChangeRequest:
        problems = InputProblems()
        text = check_text(reason, ["reason"], problems)
        request = self._answerable(actor, change_request_id, problems)
        request.status = ChangeRequestStatus.DECLINED
        request.resolved_at = self.now
        request.reason = text or None
        self._emit(
            EventType.CHANGE_REQUEST_DECLINED,
            actor.user_id,
            message=text or None,
            change_request=request,
        )
        return request

    def withdraw_change_request(self, actor: Actor, change_request_id: int) -> ChangeRequest:
        request = self.change_request(change_request_id)
        self.authorize(actor, Action.ANSWER_CHANGES)
        if actor.user_id != request.proposed_by:
            raise refuse(ErrorCode.NOT_PERMITTED, "Only who proposed the changes may withdraw them")
        if request.status is not ChangeRequestStatus.PENDING:
            raise refuse(ErrorCode.INVALID_STATE, f"The change request is {request.status}")
        self._withdraw_change_request(request, actor.user_id)
        return request

    def _answerable(
        self, actor: Actor, change_request_id: int, problems: InputProblems | None = None
    ) -> ChangeRequest:
        """The pending request, answered by the party who did not propose it."""
        request = self.change_request(change_request_id)
        self.authorize(actor, Action.ANSWER_CHANGES)
        if actor.user_id == request.proposed_by:
            raise refuse(
                ErrorCode.NOT_PERMITTED, "The other party answers a change request; withdraw it"
            )
        if problems is not None:
            problems.raise_if_any()
        if request.status is not ChangeRequestStatus.PENDING:
            raise refuse(ErrorCode.INVALID_STATE, f"The change request is {request.status}")
        return request

    def _withdraw_change_request(self, request: ChangeRequest, actor_id: int) -> None:
        request.status = ChangeRequestStatus.WITHDRAWN
        request.resolved_at = self.now
        self._emit(EventType.CHANGE_REQUEST_WITHDRAWN, actor_id, change_request=request)

    # --- deadlines --------------------------------------------------------------------------

    def apply_deadlines(self) -> bool:
        """Take every deadline that has passed: refund requests unanswered in time are
        approved, submitted work unreviewed in time is released. Returns whether any fired."""
        fired = False
        for milestone in list(self.milestones):
            request = self.pending_refund(milestone)
            if request is not None:
                if request.respond_by <= self.now:
                    self._approve_refund(request, None)
                    fired = True
                continue
            due = milestone.auto_release_at
            submission = milestone.latest_submission
            if (
                milestone.status is MilestoneStatus.SUBMITTED
                and due is not None
                and due <= self.now
                and submission is not None
            ):
                self._settle(milestone, min(submission.requested_amount, milestone.remaining), None)
                fired = True
        return fired

    @property
    def next_deadline(self) -> datetime | None:
        deadlines = [m.auto_release_at for m in self.milestones if m.auto_release_at] + [
            r.respond_by for r in self.refunds if r.status is RefundStatus.PENDING
        ]
        return min(deadlines, default=None)

    # --- money movements ------------------------------------------------------------------

    def _allocate(self, milestone: Milestone, amount: int) -> None:
        """Put `amount` more escrow behind `milestone`: available funds first, then a charge."""
        charge = amount - min(self.available, amount)
        if charge:
            self._record(Entry(EntryKind.FUNDING, charge, milestone.id))
            self._record_fee(
                EntryKind.PROCESSING_FEE,
                charge,
                self.policy.client_processing_fee_bps,
                milestone.id,
            )
        if (
            self.ledger.by_kind[EntryKind.INITIATION_FEE] == 0
            and self.policy.contract_initiation_fee
        ):
            self._record(
                Entry(EntryKind.INITIATION_FEE, self.policy.contract_initiation_fee, milestone.id)
            )
        milestone.funded_amount += amount

    def _settle(self, milestone: Milestone, amount: int, actor_id: int | None) -> None:
        """Pay for the milestone's work: all of it, or the submitted units of a piece-rate one
        (which stays active while units remain)."""
        submission = milestone.latest_submission
        self._pay_out(milestone, amount, actor_id)
        if milestone.is_piece_rate and submission is not None:
            milestone.units_released += submission.units or 0
            if milestone.units_released < (milestone.max_units or 0):
                milestone.status = MilestoneStatus.FUNDED
                return
        milestone.status = MilestoneStatus.RELEASED

    def _finish(self, milestone: Milestone) -> None:
        """A milestone ended with money going both ways: RELEASED if the freelancer got any."""
        milestone.status = (
            MilestoneStatus.RELEASED if milestone.released_amount else MilestoneStatus.REFUNDED
        )
        milestone.auto_release_at = None
        milestone.review_seconds_left = None

    def _pay_out(self, milestone: Milestone, amount: int, actor_id: int | None) -> None:
        """Release `amount` of the milestone to the freelancer, topping its escrow up first."""
        if amount > milestone.remaining:
            self._allocate(milestone, amount - milestone.remaining)
        self._record(Entry(EntryKind.RELEASE, amount, milestone.id))
        self._record_fee(
            EntryKind.SERVICE_FEE, amount, self.policy.freelancer_service_fee_bps, milestone.id
        )
        milestone.released_amount += amount
        milestone.released_at = self.now
        milestone.auto_release_at = None
        submission = milestone.latest_submission
        if submission is not None and submission.status is SubmissionStatus.PENDING:
            submission.status = SubmissionStatus.RELEASED
        self._emit(EventType.MILESTONE_RELEASED, actor_id, milestone, amount=amount)

    def _refund(self, milestone: Milestone, amount: int, actor_id: int | None) -> None:
        self._record(Entry(EntryKind.REFUND, amount, milestone.id))
        milestone.refunded_amount += amount
        self._emit(EventType.MILESTONE_REFUNDED, actor_id, milestone, amount=amount)

    def _close(self, actor: Actor, status: ContractStatus, reason: str) -> None:
        """Decline, withdraw or end: every escrowed cent goes back to the client."""
        was_offer = self.status is ContractStatus.OFFERED
        pending = self.pending_change_request
        if pending is not None:
            self._withdraw_change_request(pending, actor.user_id)
        for milestone in self.milestones:
            if milestone.is_active:
                self._withdraw_refund(milestone)
                if milestone.remaining:
                    self._refund(milestone, milestone.remaining, actor.user_id)
                self._finish(milestone)
            elif milestone.status is MilestoneStatus.NOT_FUNDED:
                milestone.status = MilestoneStatus.CANCELLED
        unallocated = self.available
        if unallocated:
            self._record(Entry(EntryKind.REFUND, unallocated))
        refundable = (EntryKind.INITIATION_FEE, EntryKind.PROCESSING_FEE) if was_offer else ()
        if self.ledger.total_released == 0:
            refundable = tuple({*refundable, EntryKind.INITIATION_FEE})
        for kind in sorted(refundable):
            outstanding = self.ledger.fee_outstanding(kind)
            if outstanding:
                self._record(Entry(EntryKind.FEE_REFUND, outstanding, refunded_fee=kind))
        self.status = status
        self.ended_at = self.now
        event = (
            EventType.CONTRACT_DECLINED
            if status is ContractStatus.DECLINED
            else EventType.CONTRACT_ENDED
        )
        self._emit(event, actor.user_id, amount=unallocated or None, message=reason or None)

    def _record(self, entry: Entry) -> None:
        self.entries.append(entry)
        self.ledger.add(entry)

    def _record_fee(
        self, kind: EntryKind, base: int, bps: int, milestone_id: int | None = None
    ) -> None:
        amount = fee(base, bps)
        if amount:
            self._record(Entry(kind, amount, milestone_id))

    def _emit(
        self,
        type_: EventType,
        actor_id: int | None,
        milestone: Milestone | None = None,
        *,
        amount: int | None = None,
        message: str | None = None,
        change_request: ChangeRequest | None = None,
    ) -> None:
        self.last_sequence += 1
        self.events.append(
            Event(
                sequence=self.last_sequence,
                type=type_,
                actor_id=actor_id,
                milestone_id=milestone.id if milestone is not None else None,
                amount=amount,
                message=message,
                change_request=change_request,
            )
        )

    def _pause_review(self, milestone: Milestone) -> None:
        """Stop the review clock, keeping the time that was left."""
        if milestone.auto_release_at is not None:
            left = max(0, int((milestone.auto_release_at - self.now).total_seconds()))
            milestone.review_seconds_left = left
            milestone.auto_release_at = None

    def _resume_review(self, milestone: Milestone) -> None:
        if milestone.review_seconds_left is not None:
            if milestone.status is MilestoneStatus.SUBMITTED:
                milestone.auto_release_at = self.now + timedelta(
                    seconds=milestone.review_seconds_left
                )
            milestone.review_seconds_left = None

    @staticmethod
    def _id_of(milestone: Milestone) -> int:
        assert milestone.id is not None, "a stored milestone has an id"
        return milestone.id

    # --- checks ---------------------------------------------------------------------------

    def authorize(self, actor: Actor, action: Action) -> None:
        if action is Action.RESOLVE_DISPUTE:
            if not actor.is_admin:
                raise refuse(ErrorCode.NOT_PERMITTED, "Only an admin may resolve a dispute")
            return
        self._require(actor, PERMISSIONS[action], str(action))

    def _require(self, actor: Actor, role: Role | None, doing: str) -> Role:
        """The actor must be a party (and the given one); admins only watch."""
        actual = self.role_of(actor)
        if actual is None or (role is not None and actual is not role):
            who = f"the {role.lower()}" if role is not None else "a party to the contract"
            raise refuse(ErrorCode.NOT_PERMITTED, f"Only {who} may {doing}")
        return actual

    def _require_status(self, status: ContractStatus, verb: str) -> None:
        if self.status is not status:
            raise refuse(
                ErrorCode.INVALID_STATE, f"The contract is {self.status}; it cannot be {verb}"
            )

    def _require_open(self, action: Action, *, allow_offer: bool = False) -> None:
        if self.status is ContractStatus.ACTIVE:
            return
        if self.status is ContractStatus.OFFERED and allow_offer:
            return
        raise refuse(
            ErrorCode.INVALID_STATE, f"Cannot {action} while the contract is {self.status}"
        )

    def _require_no_refund(self, milestone: Milestone) -> None:
        if self.pending_refund(milestone) is not None:
            raise refuse(
                ErrorCode.REFUND_PENDING,
                "A refund request on this milestone awaits the freelancer's answer",
                ["milestoneId"],
            )

    @staticmethod
    def _require_milestone(milestone: Milestone, action: Action) -> None:
        if milestone.status not in TRANSITIONS[action]:
            raise refuse(
                ErrorCode.INVALID_STATE,
                f"Cannot {action} on a milestone that is {milestone.status}",
                ["milestoneId"],
            )

    @staticmethod
    def _check_attachments(attachments: Sequence[str], problems: InputProblems) -> list[str]:
        if len(attachments) > MAX_ATTACHMENTS:
            problems.add(
                ErrorCode.INVALID_INPUT,
                f"At most {MAX_ATTACHMENTS} attachments",
                ["attachments"],
            )
        for i, url in enumerate(attachments):
            if not is_web_url(url):
                problems.add(
                    ErrorCode.INVALID_INPUT,
                    f"An attachment is an absolute http(s) URL with a host, of at most {MAX_URL}"
                    " characters",
                    ["attachments", str(i)],
                )
        return list(attachments)
