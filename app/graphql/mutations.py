"""Contract and milestone mutations: decode ids, call one service, shape the payload."""

from __future__ import annotations

from datetime import date
from typing import TypeVar

import strawberry

from app.domain.errors import ErrorCode, refuse
from app.domain.milestones import MilestoneDraft
from app.graphql.context import Info
from app.graphql.errors import UserError
from app.graphql.ids import decode_id
from app.graphql.outcomes import Run, outcome_errors, run_mutation
from app.graphql.queries import visible_contract, visible_milestone
from app.graphql.scalars import Decimal
from app.graphql.types import Contract, Milestone
from app.services import contracts


@strawberry.type
class ContractPayload:
    """The shape of every payload that returns the contract it touched."""

    contract: Contract | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MilestonePayload:
    """The shape of every payload that returns the milestone it touched."""

    milestone: Milestone | None = None
    contract: Contract | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateContractPayload(ContractPayload):
    pass


@strawberry.type
class AcceptContractPayload(ContractPayload):
    pass


@strawberry.type
class DeclineContractPayload(ContractPayload):
    pass


@strawberry.type
class EndContractPayload(ContractPayload):
    pass


@strawberry.type
class PayBonusPayload(ContractPayload):
    pass


@strawberry.type
class FundMilestonePayload(MilestonePayload):
    pass


@strawberry.type
class SubmitMilestonePayload(MilestonePayload):
    pass


@strawberry.type
class RequestRevisionPayload(MilestonePayload):
    pass


@strawberry.type
class ReleaseMilestonePayload(MilestonePayload):
    pass


@strawberry.type
class CompleteMilestonePayload(MilestonePayload):
    pass


CP = TypeVar("CP", bound=ContractPayload)
MP = TypeVar("MP", bound=MilestonePayload)


@strawberry.input
class MilestoneInput:
    title: str
    description: str | None = None
    amount: Decimal | None = None
    due_date: date | None = None
    unit_price: Decimal | None = None
    max_units: int | None = None

    def draft(self) -> MilestoneDraft:
        return MilestoneDraft(
            title=self.title,
            description=self.description,
            amount=self.amount,
            due_date=self.due_date,
            unit_price=self.unit_price,
            max_units=self.max_units,
        )


@strawberry.input
class CreateContractInput:
    freelancer_id: strawberry.ID
    title: str
    description: str | None = None
    currency: str | None = None
    milestones: list[MilestoneInput]


@strawberry.input
class AcceptContractInput:
    contract_id: strawberry.ID


@strawberry.input
class DeclineContractInput:
    contract_id: strawberry.ID
    reason: str | None = None


@strawberry.input
class EndContractInput:
    contract_id: strawberry.ID
    reason: str | None = None


@strawberry.input
class FundMilestoneInput:
    milestone_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class SubmitMilestoneInput:
    milestone_id: strawberry.ID
    message: str | None = None
    attachments: list[str] | None = None
    requested_amount: Decimal | None = None
    units: int | None = None


@strawberry.input
class RequestRevisionInput:
    milestone_id: strawberry.ID
    message: str | None = None


@strawberry.input
class ReleaseMilestoneInput:
    milestone_id: strawberry.ID
    amount: Decimal | None = None
    end_contract: bool = False
    idempotency_key: str | None = None


@strawberry.input
class CompleteMilestoneInput:
    milestone_id: strawberry.ID


@strawberry.input
class PayBonusInput:
    contract_id: strawberry.ID
    amount: Decimal
    note: str | None = None
    idempotency_key: str | None = None


def node_id(global_id: str, type_name: str, field: str) -> int:
    pk = decode_id(global_id, type_name)
    if pk is None:
        raise refuse(ErrorCode.NOT_FOUND, f"No such {type_name.lower()}", [field])
    return pk


async def _contract_payload(info: Info, payload: type[CP], run: Run) -> CP:
    actor, outcome = await run_mutation(info, run)
    return payload(
        contract=await visible_contract(info, actor, outcome.contract_id),
        user_errors=outcome_errors(outcome),
    )


async def _milestone_payload(info: Info, payload: type[MP], run: Run) -> MP:
    actor, outcome = await run_mutation(info, run)
    return payload(
        milestone=await visible_milestone(info, actor, outcome.milestone_id),
        contract=await visible_contract(info, actor, outcome.contract_id),
        user_errors=outcome_errors(outcome),
    )


@strawberry.type
class ContractMutation:
    @strawberry.mutation(description="Offer a contract to a freelancer, with its milestones.")
    async def create_contract(
        self, info: Info, input: CreateContractInput
    ) -> CreateContractPayload:
        runtime = info.context.runtime
        return await _contract_payload(
            info,
            CreateContractPayload,
            lambda actor: contracts.create_contract(
                runtime,
                actor,
                freelancer_id=decode_id(input.freelancer_id, "User"),
                title=input.title,
                description=input.description,
                currency=input.currency,
                milestones=[m.draft() for m in input.milestones],
            ),
        )

    @strawberry.mutation(description="The freelancer accepts an offer.")
    async def accept_contract(
        self, info: Info, input: AcceptContractInput
    ) -> AcceptContractPayload:
        runtime = info.context.runtime
        return await _contract_payload(
            info,
            AcceptContractPayload,
            lambda actor: contracts.accept_contract(
                runtime, actor, node_id(input.contract_id, "Contract", "contractId")
            ),
        )

    @strawberry.mutation(description="The freelancer declines an offer; everything is refunded.")
    async def decline_contract(
        self, info: Info, input: DeclineContractInput
    ) -> DeclineContractPayload:
        runtime = info.context.runtime
        return await _contract_payload(
            info,
            DeclineContractPayload,
            lambda actor: contracts.decline_contract(
                runtime, actor, node_id(input.contract_id, "Contract", "contractId"), input.reason
            ),
        )

    @strawberry.mutation(description="End an active contract, or withdraw an offer.")
    async def end_contract(self, info: Info, input: EndContractInput) -> EndContractPayload:
        runtime = info.context.runtime
        return await _contract_payload(
            info,
            EndContractPayload,
            lambda actor: contracts.end_contract(
                runtime, actor, node_id(input.contract_id, "Contract", "contractId"), input.reason
            ),
        )

    @strawberry.mutation(description="Pay the freelancer a bonus; it bypasses escrow.")
    async def pay_bonus(self, info: Info, input: PayBonusInput) -> PayBonusPayload:
        runtime = info.context.runtime
        return await _contract_payload(
            info,
            PayBonusPayload,
            lambda actor: contracts.pay_bonus(
                runtime,
                actor,
                node_id(input.contract_id, "Contract", "contractId"),
                amount=input.amount,
                note=input.note,
                idempotency_key=input.idempotency_key,
            ),
        )

    @strawberry.mutation(description="The client funds the next milestone into escrow.")
    async def fund_milestone(self, info: Info, input: FundMilestoneInput) -> FundMilestonePayload:
        runtime = info.context.runtime
        return await _milestone_payload(
            info,
            FundMilestonePayload,
            lambda actor: contracts.fund_milestone(
                runtime,
                actor,
                node_id(input.milestone_id, "Milestone", "milestoneId"),
                input.idempotency_key,
            ),
        )

    @strawberry.mutation(description="The freelancer submits work on the active milestone.")
    async def submit_milestone(
        self, info: Info, input: SubmitMilestoneInput
    ) -> SubmitMilestonePayload:
        runtime = info.context.runtime
        return await _milestone_payload(
            info,
            SubmitMilestonePayload,
            lambda actor: contracts.submit_milestone(
                runtime,
                actor,
                node_id(input.milestone_id, "Milestone", "milestoneId"),
                message=input.message,
                attachments=input.attachments or [],
                requested_amount=input.requested_amount,
                units=input.units,
            ),
        )

    @strawberry.mutation(description="The client asks for changes to submitted work.")
    async def request_revision(
        self, info: Info, input: RequestRevisionInput
    ) -> RequestRevisionPayload:
        runtime = info.context.runtime
        return await _milestone_payload(
            info,
            RequestRevisionPayload,
            lambda actor: contracts.request_revision(
                runtime,
                actor,
                node_id(input.milestone_id, "Milestone", "milestoneId"),
                input.message,
            ),
        )

    @strawberry.mutation(description="The client releases escrow to the freelancer.")
    async def release_milestone(
        self, info: Info, input: ReleaseMilestoneInput
    ) -> ReleaseMilestonePayload:
        runtime = info.context.runtime
        return await _milestone_payload(
            info,
            ReleaseMilestonePayload,
            lambda actor: contracts.release_milestone(
                runtime,
                actor,
                node_id(input.milestone_id, "Milestone", "milestoneId"),
                amount=input.amount,
                end_contract=input.end_contract,
                idempotency_key=input.idempotency_key,
            ),
        )

    @strawberry.mutation(
        description="The client ends a piece-rate milestone; its unpaid escrow becomes available."
    )
    async def complete_milestone(
        self, info: Info, input: CompleteMilestoneInput
    ) -> CompleteMilestonePayload:
        runtime = info.context.runtime
        return await _milestone_payload(
            info,
            CompleteMilestonePayload,
            lambda actor: contracts.complete_milestone(
                runtime, actor, node_id(input.milestone_id, "Milestone", "milestoneId")
            ),
        )
