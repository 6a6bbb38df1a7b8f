"""The input types of the mutations, one `NameInput` per mutation of the table in mutations.py,
and the nested inputs they hold. Each is read into its command (`app.domain.commands`, whose
field names are these python names) by `app.graphql.commands`."""

from __future__ import annotations

from datetime import date

import strawberry

from app.graphql.enums import ChangeAction, Scope
from app.graphql.scalars import Decimal

# accounts


@strawberry.input
class RegisterInput:
    name: str
    email: str
    password: str


@strawberry.input
class LoginInput:
    email: str
    password: str


@strawberry.input
class CreateApiTokenInput:
    name: str
    scopes: list[Scope]


@strawberry.input
class RevokeApiTokenInput:
    id: strawberry.ID


# contracts and milestones


@strawberry.input
class MilestoneInput:
    title: str
    description: str | None = None
    amount: Decimal | None = None
    due_date: date | None = None
    unit_price: Decimal | None = None
    max_units: int | None = None


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
class PayBonusInput:
    contract_id: strawberry.ID
    amount: Decimal
    note: str | None = None
    idempotency_key: str | None = None


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


# change requests, refunds and disputes


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


@strawberry.input
class ProposeMilestoneChangesInput:
    contract_id: strawberry.ID
    message: str | None = None
    changes: list[MilestoneChangeInput]


@strawberry.input
class AcceptChangeRequestInput:
    change_request_id: strawberry.ID


@strawberry.input
class DeclineChangeRequestInput:
    change_request_id: strawberry.ID
    reason: str | None = None


@strawberry.input
class WithdrawChangeRequestInput:
    change_request_id: strawberry.ID


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
