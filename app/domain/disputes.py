"""Disputes: either party stops a milestone's work and payment until an admin splits it.

Opening pauses the review clock; withdrawing puts the milestone back in the status it was
disputed from and resumes the clock. `resolve_dispute` is the dispute split: the admin's two
parts must add up to the milestone's escrow; the client's part is refunded, the freelancer's
released (with its service fee).
"""

from __future__ import annotations

from app.domain.checks import checking
from app.domain.clock import pause_review, resume_review
from app.domain.commands import OpenDispute, ResolveDispute
from app.domain.errors import ErrorCode, refuse
from app.domain.escrow import Escrow
from app.domain.events import EventType
from app.domain.money import format_amount
from app.domain.permissions import Action, Actor, milestone_target
from app.domain.requests import Dispute, DisputeStatus


class DisputeActions(Escrow):
    def open_dispute(self, actor: Actor, command: OpenDispute) -> Dispute:
        milestone = self.milestone(command.milestone_id)
        self.authorize(actor, Action.OPEN_DISPUTE)
        with checking(command.rejected) as check:
            text = check.text(command.reason, ["reason"])
            if not text.strip():
                check.add(ErrorCode.INVALID_INPUT, "A dispute needs a reason", ["reason"])
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
        pause_review(milestone, self.now)
        milestone.status = milestone_target(Action.OPEN_DISPUTE)
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
        resume_review(milestone, self.now)
        self._emit(EventType.DISPUTE_WITHDRAWN, actor.user_id, milestone)
        return dispute

    def resolve_dispute(self, actor: Actor, command: ResolveDispute) -> Dispute:
        dispute = self.dispute(command.dispute_id)
        self.authorize(actor, Action.RESOLVE_DISPUTE)
        maximum = self.policy.max_amount
        with checking(command.rejected) as check:
            to_freelancer = check.amount(
                command.freelancer_amount, ["freelancer_amount"], maximum=maximum, allow_zero=True
            )
            to_client = check.amount(
                command.client_amount, ["client_amount"], maximum=maximum, allow_zero=True
            )
            text = check.text(command.note, ["note"])
        assert to_freelancer is not None and to_client is not None
        if dispute.status is not DisputeStatus.OPEN:
            raise refuse(ErrorCode.INVALID_STATE, f"The dispute is {dispute.status}")
        milestone = self.milestone(dispute.milestone_id)
        if to_freelancer + to_client != milestone.remaining:
            raise refuse(
                ErrorCode.INVALID_AMOUNT,
                "The parts must add up to the milestone's escrow, "
                f"{format_amount(milestone.remaining)}",
                ["freelancer_amount"],
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
        self._finish(milestone, Action.RESOLVE_DISPUTE)
        return dispute
