"""Mutations for change requests, refunds and disputes."""

from __future__ import annotations

from datetime import date
from typing import TypeVar

import strawberry

from app.db import models
from app.domain.changes import UNKNOWN_ID, ChangeDraft
from app.domain.requests import ChangeAction
from app.graphql.context import Info
from app.graphql.errors import UserError
from app.graphql.ids import decode_id
from app.graphql.mutations import node_id
from app.graphql.outcomes import Run, outcome_errors, run_mutation
from app.graphql.queries import visible_contract, visible_milestone
from app.graphql.request_types import ChangeRequest, Dispute, RefundRequest
from app.graphql.scalars import Decimal
from app.graphql.types import Contract, Milestone
from app.services import requests


@strawberry.type
class ChangeRequestPayload:
    """The shape of every change request payload."""

    change_request: ChangeRequest | None = None
    contract: Contract | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RefundRequestPayload:
    """The shape of every refund payload."""

    refund_request: RefundRequest | None = None
    milestone: Milestone | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DisputePayload:
    """The shape of every dispute payload."""

    dispute: Dispute | None = None
    milestone: Milestone | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ProposeMilestoneChangesPayload(ChangeRequestPayload):
    pass


@strawberry.type
class AcceptChangeRequestPayload(ChangeRequestPayload):
    pass


@strawberry.type
class DeclineChangeRequestPayload(ChangeRequestPayload):
    pass


@strawberry.type
class WithdrawChangeRequestPayload(ChangeRequestPayload):
    pass


@strawberry.type
class RequestRefundPayload(RefundRequestPayload):
    pass


@strawberry.type
class RespondToRefundRequestPayload(RefundRequestPayload):
    pass


@strawberry.type
class OpenDisputePayload(DisputePayload):
    pass


@strawberry.type
class WithdrawDisputePayload(DisputePayload):
    pass


@strawberry.type
class ResolveDisputePayload(DisputePayload):
    pass


CRP = TypeVar("CRP", bound=ChangeRequestPayload)
RRP = TypeVar("RRP", bound=RefundRequestPayload)
DP = TypeVar("DP", bound=DisputePayload)


@strawberry.input
class MilestoneChangeInput:
    action: ChangeAction
    milestone_id: strawberry.ID | None = None
    title: str | None = None
    description: str | None = None
    amount: Decimal | None = None
    due_date: date | None = None
    position: int | None = None
    unit_price: Decimal | None = None
    max_units: int | None = None

    def draft(self) -> ChangeDraft:
        milestone_id = None
        if self.milestone_id is not None:
            milestone_id = decode_id(self.milestone_id, "Milestone") or UNKNOWN_ID
        return ChangeDraft(
            action=self.action,
            milestone_id=milestone_id,
            title=self.title,
            description=self.description,
            amount=self.amount,
            due_date=self.due_date,
            position=self.position,
            unit_price=self.unit_price,
            max_units=self.max_units,
        )


@strawberry.input
class ProposeMilestoneChangesInput:
    contract_id: strawberry.ID
    message: str | None = None
    changes: list[MilestoneChangeInput]


@strawberry.input
class AcceptChangeRequestInput:
    change_request_id: strawberry.ID


@strawberry.input
class WithdrawChangeRequestInput:
    change_request_id: strawberry.ID


@strawberry.input
class DeclineChangeRequestInput:
    change_request_id: strawberry.ID
    reason: str | None = None


@strawberry.input
class RequestRefundInput:
    milestone_id: strawberry.ID
    amount: Decimal | None = None
    reason: str | None = None


@strawberry.input
class RespondToRefundRequestInput:
    refund_request_id: strawberry.ID
    approve: bool
    message: str | None = None


@strawberry.input
class OpenDisputeInput:
    milestone_id: strawberry.ID
    reason: str


@strawberry.input
class WithdrawDisputeInput:
    dispute_id: strawberry.ID


@strawberry.input
class ResolveDisputeInput:
    dispute_id: strawberry.ID
    freelancer_amount: Decimal
    client_amount: Decimal
    note: str | None = None
    idempotency_key: str | None = None


async def _change_request_payload(info: Info, payload: type[CRP], run: Run) -> CRP:
    actor, outcome = await run_mutation(info, run)
    contract = await visible_contract(info, actor, outcome.contract_id)
    row = None
    if contract is not None and outcome.change_request_id is not None:
        row = await info.context.loaders.change_request_by_id.load(outcome.change_request_id)
    return payload(
        change_request=ChangeRequest.from_row(row, contract.currency) if row and contract else None,
        contract=contract,
        user_errors=outcome_errors(outcome),
    )


async def _refund_payload(info: Info, payload: type[RRP], run: Run) -> RRP:
    actor, outcome = await run_mutation(info, run)
    milestone = await visible_milestone(info, actor, outcome.milestone_id)
    row = None
    if milestone is not None and outcome.refund_request_id is not None:
        row = await models.RefundRequest.filter(id=outcome.refund_request_id).first()
    return payload(
        refund_request=RefundRequest.from_row(row, milestone.amount.currency)
        if row and milestone
        else None,
        milestone=milestone,
        user_errors=outcome_errors(outcome),
    )


async def _dispute_payload(info: Info, payload: type[DP], run: Run) -> DP:
    actor, outcome = await run_mutation(info, run)
    milestone = await visible_milestone(info, actor, outcome.milestone_id)
    row = None
    if milestone is not None and outcome.dispute_id is not None:
        row = await models.Dispute.filter(id=outcome.dispute_id).first()
    return payload(
        dispute=Dispute.from_row(row, milestone.amount.currency) if row and milestone else None,
        milestone=milestone,
        user_errors=outcome_errors(outcome),
    )


@strawberry.type
class RequestMutation:
    @strawberry.mutation(description="Propose changes to future milestones of an active contract.")
    async def propose_milestone_changes(
        self, info: Info, input: ProposeMilestoneChangesInput
    ) -> ProposeMilestoneChangesPayload:
        runtime = info.context.runtime
        return await _change_request_payload(
            info,
            ProposeMilestoneChangesPayload,
            lambda actor: requests.propose_changes(
                runtime,
                actor,
                node_id(input.contract_id, "Contract", "contractId"),
                changes=[c.draft() for c in input.changes],
                message=input.message,
            ),
        )

    @strawberry.mutation(description="The other party accepts: every change applies at once.")
    async def accept_change_request(
        self, info: Info, input: AcceptChangeRequestInput
    ) -> AcceptChangeRequestPayload:
        runtime = info.context.runtime
        return await _change_request_payload(
            info,
            AcceptChangeRequestPayload,
            lambda actor: requests.accept_change_request(
                runtime,
                actor,
                node_id(input.change_request_id, "ChangeRequest", "changeRequestId"),
            ),
        )

    @strawberry.mutation(description="The other party declines the change request.")
    async def decline_change_request(
        self, info: Info, input: DeclineChangeRequestInput
    ) -> DeclineChangeRequestPayload:
        runtime = info.context.runtime
        return await _change_request_payload(
            info,
            DeclineChangeRequestPayload,
            lambda actor: requests.decline_change_request(
                runtime,
                actor,
                node_id(input.change_request_id, "ChangeRequest", "changeRequestId"),
                input.reason,
            ),
        )

    @strawberry.mutation(description="The proposer withdraws the change request.")
    async def withdraw_change_request(
        self, info: Info, input: WithdrawChangeRequestInput
    ) -> WithdrawChangeRequestPayload:
        runtime = info.context.runtime
        return await _change_request_payload(
            info,
            WithdrawChangeRequestPayload,
            lambda actor: requests.withdraw_change_request(
                runtime,
                actor,
                node_id(input.change_request_id, "ChangeRequest", "changeRequestId"),
            ),
        )

    @strawberry.mutation(description="The client asks for an active milestone's escrow back.")
    async def request_refund(self, info: Info, input: RequestRefundInput) -> RequestRefundPayload:
        runtime = info.context.runtime
        return await _refund_payload(
            info,
            RequestRefundPayload,
            lambda actor: requests.request_refund(
                runtime,
                actor,
                node_id(input.milestone_id, "Milestone", "milestoneId"),
                amount=input.amount,
                reason=input.reason,
            ),
        )

    @strawberry.mutation(description="The freelancer approves or declines a refund request.")
    async def respond_to_refund_request(
        self, info: Info, input: RespondToRefundRequestInput
    ) -> RespondToRefundRequestPayload:
        runtime = info.context.runtime
        return await _refund_payload(
            info,
            RespondToRefundRequestPayload,
            lambda actor: requests.answer_refund(
                runtime,
                actor,
                node_id(input.refund_request_id, "RefundRequest", "refundRequestId"),
                approve=input.approve,
                message=input.message,
            ),
        )

    @strawberry.mutation(description="Either party freezes the active milestone for an admin.")
    async def open_dispute(self, info: Info, input: OpenDisputeInput) -> OpenDisputePayload:
        runtime = info.context.runtime
        return await _dispute_payload(
            info,
            OpenDisputePayload,
            lambda actor: requests.open_dispute(
                runtime,
                actor,
                node_id(input.milestone_id, "Milestone", "milestoneId"),
                input.reason,
            ),
        )

    @strawberry.mutation(description="Who opened the dispute withdraws it.")
    async def withdraw_dispute(
        self, info: Info, input: WithdrawDisputeInput
    ) -> WithdrawDisputePayload:
        runtime = info.context.runtime
        return await _dispute_payload(
            info,
            WithdrawDisputePayload,
            lambda actor: requests.withdraw_dispute(
                runtime, actor, node_id(input.dispute_id, "Dispute", "disputeId")
            ),
        )

    @strawberry.mutation(description="An admin splits the disputed escrow between the parties.")
    async def resolve_dispute(
        self, info: Info, input: ResolveDisputeInput
    ) -> ResolveDisputePayload:
        runtime = info.context.runtime
        return await _dispute_payload(
            info,
            ResolveDisputePayload,
            lambda actor: requests.resolve_dispute(
                runtime,
                actor,
                node_id(input.dispute_id, "Dispute", "disputeId"),
                freelancer_amount=input.freelancer_amount,
                client_amount=input.client_amount,
                note=input.note,
                idempotency_key=input.idempotency_key,
            ),
        )
