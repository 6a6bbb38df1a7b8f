"""Change requests: one party proposes milestone changes, the other accepts or declines.

A proposal is checked against the contract as it is then (`apply_changes`), and checked
again on accept: if the contract moved on so that the changes no longer apply, accepting
refuses with STALE_CHANGE_REQUEST and changes nothing.
"""

from __future__ import annotations

from app.domain.changes import apply_changes, check_changes
from app.domain.checks import Checks, checking
from app.domain.commands import DeclineChangeRequest, ProposeMilestoneChanges
from app.domain.errors import DomainError, ErrorCode, refuse
from app.domain.events import EventType
from app.domain.permissions import Action, Actor, ContractStatus
from app.domain.requests import MAX_CHANGE_REQUESTS, ChangeRequest, ChangeRequestStatus
from app.domain.state import ContractState


class ChangeRequestActions(ContractState):
    def propose_changes(self, actor: Actor, command: ProposeMilestoneChanges) -> ChangeRequest:
        self.authorize(actor, Action.PROPOSE_CHANGES)
        with checking(command.rejected) as check:
            text = check.text(command.message, ["message"])
            changes = check_changes(command.changes, self.policy, check)
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

    def decline_change_request(self, actor: Actor, command: DeclineChangeRequest) -> ChangeRequest:
        check = Checks(command.rejected)
        text = check.text(command.reason, ["reason"])
        request = self._answerable(actor, command.change_request_id, check)
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
        self, actor: Actor, change_request_id: int, check: Checks | None = None
    ) -> ChangeRequest:
        """The pending request, answered by the party who did not propose it."""
        request = self.change_request(change_request_id)
        self.authorize(actor, Action.ANSWER_CHANGES)
        if actor.user_id == request.proposed_by:
            raise refuse(
                ErrorCode.NOT_PERMITTED, "The other party answers a change request; withdraw it"
            )
        if check is not None:  # the input is judged after the permission, before the state
            check.raise_if_any()
        if request.status is not ChangeRequestStatus.PENDING:
            raise refuse(ErrorCode.INVALID_STATE, f"The change request is {request.status}")
        return request
