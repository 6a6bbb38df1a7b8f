"""The commands the API takes, one frozen dataclass each, with typed values: ids as int,
amounts as integer cents, dates and enums. The GraphQL layer (`app.graphql.commands`) builds
each from its mutation's input, whose python field names are the command's: a problem's field
path names command fields, such as ("milestones", "0", "unit_price"), and the GraphQL layer
writes it in camelCase. The account commands are in `app.services.accounts` (their scopes are
`app.auth`'s, which the domain does not import).

`rejected` holds what the edge refused while reading the input (an amount that is not a
number). An action reports those with its own input problems, after its permission check
(docs/rules.md#the-order-of-checks), and never reads a refused field (`app.domain.checks`).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.errors import Problem
from app.domain.milestones import MilestoneFields
from app.domain.requests import MilestoneChange


@dataclass(frozen=True, kw_only=True)
class Command:
    rejected: tuple[Problem, ...] = ()


@dataclass(kw_only=True)
class NewMilestone(MilestoneFields):
    """A milestone of an offer, as its client sets it."""


# contracts and milestones


@dataclass(frozen=True, kw_only=True)
class CreateContract(Command):
    freelancer_id: int
    title: str
    description: str | None = None
    currency: str | None = None
    milestones: tuple[NewMilestone, ...]


@dataclass(frozen=True, kw_only=True)
class AcceptContract(Command):
    contract_id: int


@dataclass(frozen=True, kw_only=True)
class DeclineContract(Command):
    contract_id: int
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class EndContract(Command):
    contract_id: int
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class PayBonus(Command):
    contract_id: int
    amount: int
    note: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class FundMilestone(Command):
    milestone_id: int
    idempotency_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class SubmitMilestone(Command):
    milestone_id: int
    message: str | None = None
    attachments: tuple[str, ...] = ()
    requested_amount: int | None = None
    units: int | None = None


@dataclass(frozen=True, kw_only=True)
class RequestRevision(Command):
    milestone_id: int
    message: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReleaseMilestone(Command):
    milestone_id: int
    amount: int | None = None
    end_contract: bool = False
    idempotency_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class CompleteMilestone(Command):
    milestone_id: int


# change requests, refunds and disputes


@dataclass(frozen=True, kw_only=True)
class ProposeMilestoneChanges(Command):
    contract_id: int
    message: str | None = None
    changes: tuple[MilestoneChange, ...]


@dataclass(frozen=True, kw_only=True)
class AcceptChangeRequest(Command):
    change_request_id: int


@dataclass(frozen=True, kw_only=True)
class DeclineChangeRequest(Command):
    change_request_id: int
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class WithdrawChangeRequest(Command):
    change_request_id: int


@dataclass(frozen=True, kw_only=True)
class RequestRefund(Command):
    milestone_id: int
    amount: int | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class RespondToRefundRequest(Command):
    refund_request_id: int
    approve: bool
    message: str | None = None


@dataclass(frozen=True, kw_only=True)
class OpenDispute(Command):
    milestone_id: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class WithdrawDispute(Command):
    dispute_id: int


@dataclass(frozen=True, kw_only=True)
class ResolveDispute(Command):
    dispute_id: int
    freelancer_amount: int
    client_amount: int
    note: str | None = None
    idempotency_key: str | None = None
