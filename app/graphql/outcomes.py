"""Payload shapes: what every payload of one kind holds, and how it reads, fresh, the objects
its service touched. A contract use case returns an `Outcome` naming them by id (a refusal
touched nothing, so its outcome names none); the account services return what they made, which
`app.services.account_reads` turns into records.

Each `NamePayload` type of the schema is a subclass of one of these, made by
`mutation_fields.MutationRow`; the shapes themselves are not in the schema."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Self, TypeVar

import strawberry

from app.graphql.accounts import ApiToken
from app.graphql.compiled.payloads import outcome_errors
from app.graphql.errors import UserError
from app.graphql.leaf_types import User
from app.graphql.mutation_fields import Caller, touched, user_errors_field
from app.graphql.queries import visible_contract, visible_milestone
from app.graphql.types import ChangeRequest, Contract, Dispute, Milestone, RefundRequest
from app.services import account_reads, reads
from app.services.accounts import IssuedToken
from app.services.records import Owned
from app.services.unit import Outcome

RecordT = TypeVar("RecordT")
RequestT = TypeVar("RequestT")


@strawberry.type
class ContractPayload:
    """The shape of every payload that returns the contract it touched."""

    contract: Contract | None = touched("contract")
    user_errors: list[UserError] = user_errors_field()

    @classmethod
    async def read(cls, caller: Caller, outcome: Outcome) -> Self:
        return cls(
            contract=await visible_contract(caller.info, caller.actor, outcome.contract_id),
            user_errors=outcome_errors(outcome),
        )


@strawberry.type
class MilestonePayload:
    """The shape of every payload that returns the milestone it touched."""

    milestone: Milestone | None = touched("milestone")
    contract: Contract | None = touched("contract")
    user_errors: list[UserError] = user_errors_field()

    @classmethod
    async def read(cls, caller: Caller, outcome: Outcome) -> Self:
        info, actor = caller.info, caller.actor
        return cls(
            milestone=await visible_milestone(info, actor, outcome.milestone_id),
            contract=await visible_contract(info, actor, outcome.contract_id),
            user_errors=outcome_errors(outcome),
        )


@strawberry.type
class ChangeRequestPayload:
    """The shape of every change request payload."""

    change_request: ChangeRequest | None = touched("change request")
    contract: Contract | None = touched("contract")
    user_errors: list[UserError] = user_errors_field()

    @classmethod
    async def read(cls, caller: Caller, outcome: Outcome) -> Self:
        info = caller.info
        contract = await visible_contract(info, caller.actor, outcome.contract_id)
        record = None
        if contract is not None and outcome.change_request_id is not None:
            loader = info.context.loaders.change_request_by_id
            record = await loader.load(outcome.change_request_id)
        return cls(
            change_request=ChangeRequest.from_record(record, contract.currency)
            if record and contract
            else None,
            contract=contract,
            user_errors=outcome_errors(outcome),
        )


async def _milestone_and_request(
    caller: Caller,
    outcome: Outcome,
    find: Callable[[int], Awaitable[Owned[RecordT] | None]],
    request_id: int | None,
    build: Callable[[RecordT, str], RequestT],
) -> tuple[Milestone | None, RequestT | None]:
    """The milestone a refund or dispute use case touched and, if it is visible, the request."""
    milestone = await visible_milestone(caller.info, caller.actor, outcome.milestone_id)
    if milestone is None or request_id is None:
        return milestone, None
    found = await find(request_id)
    return milestone, build(found.record, milestone.amount.currency) if found else None


@strawberry.type
class RefundRequestPayload:
    """The shape of every refund payload."""

    refund_request: RefundRequest | None = touched("refund request")
    milestone: Milestone | None = touched("milestone")
    user_errors: list[UserError] = user_errors_field()

    @classmethod
    async def read(cls, caller: Caller, outcome: Outcome) -> Self:
        milestone, request = await _milestone_and_request(
            caller,
            outcome,
            reads.refund_request,
            outcome.refund_request_id,
            RefundRequest.from_record,
        )
        return cls(refund_request=request, milestone=milestone, user_errors=outcome_errors(outcome))


@strawberry.type
class DisputePayload:
    """The shape of every dispute payload."""

    dispute: Dispute | None = touched("dispute")
    milestone: Milestone | None = touched("milestone")
    user_errors: list[UserError] = user_errors_field()

    @classmethod
    async def read(cls, caller: Caller, outcome: Outcome) -> Self:
        milestone, dispute = await _milestone_and_request(
            caller, outcome, reads.dispute, outcome.dispute_id, Dispute.from_record
        )
        return cls(dispute=dispute, milestone=milestone, user_errors=outcome_errors(outcome))


@strawberry.type
class AuthPayload:
    """The shape of register's and login's payloads: the caller and a session token."""

    user: User | None = touched("signed-in user")
    token: str | None = strawberry.field(
        default=None,
        description="The session's bearer token, for `Authorization: Bearer <token>` and the "
        "WebSocket `connection_init` payload; it expires after `SESSION_TTL`.",
    )
    user_errors: list[UserError] = user_errors_field()

    @classmethod
    async def read(cls, caller: Caller, session: account_reads.Session) -> Self:
        user, token = account_reads.session_record(session)
        return cls(user=User.from_record(user, is_caller=True), token=token)


@strawberry.type
class IssuedTokenPayload:
    """The shape of createApiToken's payload: the secret, shown once, and the token."""

    token: str | None = strawberry.field(default=None, description="The secret; shown once.")
    api_token: ApiToken | None = touched("new API token (its id revokes it)")
    user_errors: list[UserError] = user_errors_field()

    @classmethod
    async def read(cls, caller: Caller, issued: IssuedToken) -> Self:
        secret, token = account_reads.issued_record(issued)
        return cls(token=secret, api_token=ApiToken.from_record(token))


@strawberry.type
class ApiTokenPayload:
    """The shape of revokeApiToken's payload: the token as it is now."""

    api_token: ApiToken | None = touched("revoked token")
    user_errors: list[UserError] = user_errors_field()

    @classmethod
    async def read(cls, caller: Caller, token: account_reads.RevokedToken) -> Self:
        return cls(api_token=ApiToken.from_record(account_reads.token_record(token)))
