"""Refund requests: the client asks for escrow back, the freelancer answers.

A request pauses the milestone's review clock; declining resumes it. Approving (or leaving
the request unanswered past `respond_by`, see `Contract.apply_deadlines`) posts the refund
through `Escrow._approve_refund`.
"""

from __future__ import annotations

from app.domain.checks import checking
from app.domain.clock import pause_review, resume_review
from app.domain.commands import RequestRefund, RespondToRefundRequest
from app.domain.errors import ErrorCode, refuse
from app.domain.escrow import Escrow
from app.domain.events import EventType
from app.domain.money import format_amount
from app.domain.permissions import Action, Actor
from app.domain.requests import MAX_REFUND_REQUESTS, RefundRequest, RefundStatus


class RefundActions(Escrow):
    def request_refund(self, actor: Actor, command: RequestRefund) -> RefundRequest:
        milestone = self.milestone(command.milestone_id)
        self.authorize(actor, Action.REQUEST_REFUND)
        with checking(command.rejected) as check:
            value = check.amount(command.amount, ["amount"], maximum=self.policy.max_amount)
            text = check.text(command.reason, ["reason"])
        self._require_open(Action.REQUEST_REFUND)
        self._require_milestone(milestone, Action.REQUEST_REFUND)
        self._require_no_refund(milestone)
        if sum(1 for r in self.refunds if r.milestone_id == milestone.id) >= MAX_REFUND_REQUESTS:
            raise refuse(
                ErrorCode.INVALID_STATE,
                f"A milestone takes at most {MAX_REFUND_REQUESTS} refund requests: release it,"
                " or open a dispute",
                ["milestone_id"],
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
        pause_review(milestone, self.now)
        self._emit(
            EventType.REFUND_REQUESTED, actor.user_id, milestone, amount=value, message=text or None
        )
        return request

    def answer_refund(self, actor: Actor, command: RespondToRefundRequest) -> RefundRequest:
        request = self.refund_request(command.refund_request_id)
        self.authorize(actor, Action.ANSWER_REFUND)
        with checking(command.rejected) as check:
            text = check.text(command.message, ["message"])
        if request.status is not RefundStatus.PENDING:
            raise refuse(ErrorCode.INVALID_STATE, f"The refund request is {request.status}")
        request.response = text or None
        if command.approve:
            self._approve_refund(request, actor.user_id)
        else:
            milestone = self.milestone(request.milestone_id)
            request.status = RefundStatus.DECLINED
            request.resolved_at = self.now
            resume_review(milestone, self.now)
            self._emit(EventType.REFUND_DECLINED, actor.user_id, milestone, message=text or None)
        return request
