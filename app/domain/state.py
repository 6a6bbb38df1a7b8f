"""The aggregate's state: a contract's fields, the lookups and checks every action shares.

`ContractState` is the base of the action modules (`escrow`, `work`, `refunds`, `disputes`,
`change_requests`), which `app.domain.contract.Contract` combines into the aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.domain.errors import ErrorCode, refuse
from app.domain.events import Event, EventType
from app.domain.ledger import Entry, LedgerTotals
from app.domain.milestones import Milestone
from app.domain.permissions import (
    TRANSITIONS,
    Action,
    Actor,
    ContractStatus,
    Role,
    check_permission,
)
from app.domain.policy import Policy
from app.domain.requests import (
    ChangeRequest,
    ChangeRequestStatus,
    Dispute,
    RefundRequest,
    RefundStatus,
)


@dataclass
class ContractState:
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
        """The one milestone at work, if any: funding waits until it is finished."""
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
        raise refuse(ErrorCode.NOT_FOUND, "No such milestone", ["milestone_id"])

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
            raise refuse(ErrorCode.NOT_FOUND, "No such refund request", ["refund_request_id"])
        return found

    def dispute(self, dispute_id: int) -> Dispute:
        found = next((d for d in self.disputes if d.id == dispute_id), None)
        if found is None:
            raise refuse(ErrorCode.NOT_FOUND, "No such dispute", ["dispute_id"])
        return found

    def change_request(self, change_request_id: int) -> ChangeRequest:
        found = next((c for c in self.change_requests if c.id == change_request_id), None)
        if found is None:
            raise refuse(ErrorCode.NOT_FOUND, "No such change request", ["change_request_id"])
        return found

    # --- checks ---------------------------------------------------------------------------

    def authorize(self, actor: Actor, action: Action) -> Role | None:
        """Refuse unless the actor may take `action` (`permissions.RULES`); their role."""
        return check_permission(action, actor, self.role_of(actor))

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
                ["milestone_id"],
            )

    @staticmethod
    def _require_milestone(milestone: Milestone, action: Action) -> None:
        if milestone.status not in TRANSITIONS[action]:
            raise refuse(
                ErrorCode.INVALID_STATE,
                f"Cannot {action} on a milestone that is {milestone.status}",
                ["milestone_id"],
            )

    # --- bookkeeping ----------------------------------------------------------------------

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

    def _withdraw_refund(self, milestone: Milestone) -> None:
        request = self.pending_refund(milestone)
        if request is not None:
            request.status = RefundStatus.WITHDRAWN
            request.resolved_at = self.now

    def _withdraw_change_request(self, request: ChangeRequest, actor_id: int) -> None:
        request.status = ChangeRequestStatus.WITHDRAWN
        request.resolved_at = self.now
        self._emit(EventType.CHANGE_REQUEST_WITHDRAWN, actor_id, change_request=request)

    @staticmethod
    def _id_of(milestone: Milestone) -> int:
        assert milestone.id is not None, "a stored milestone has an id"
        return milestone.id
