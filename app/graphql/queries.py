"""Query fields."""

from __future__ import annotations

import strawberry

from app.db import models
from app.domain.permissions import Actor
from app.graphql.accounts import ApiToken
from app.graphql.context import Info
from app.graphql.enums import ContractStatus, Role
from app.graphql.ids import decode_any, decode_id
from app.graphql.leaf_types import Node, User
from app.graphql.pagination import PageInfo, after_contract, contracts_cursor, page_size
from app.graphql.types import (
    ChangeRequest,
    Contract,
    ContractConnection,
    ContractEdge,
    ContractEvent,
    Dispute,
    LedgerEntry,
    Milestone,
    Policy,
    RefundRequest,
    Submission,
    load_milestone,
)
from app.services import reads
from app.services.accounts import live_tokens_of


async def visible_contract(info: Info, actor: Actor, contract_id: int | None) -> Contract | None:
    if contract_id is None:
        return None
    row = await info.context.loaders.contract_by_id.load(contract_id)
    if row is None or not reads.can_see(actor, row):
        return None
    return Contract.from_row(row)


async def visible_milestone(info: Info, actor: Actor, milestone_id: int | None) -> Milestone | None:
    if milestone_id is None:
        return None
    milestone = await load_milestone(info, milestone_id)
    if milestone is None:
        return None
    contract = await info.context.loaders.contract_by_id.load(milestone._row.contract_id)
    return milestone if contract is not None and reads.can_see(actor, contract) else None


async def _resolve_node(info: Info, actor: Actor, type_name: str, pk: int) -> Node | None:
    if type_name == "User":
        user = await info.context.loaders.user_by_id.load(pk)
        return User.from_row(user) if user else None
    if type_name == "Contract":
        return await visible_contract(info, actor, pk)
    if type_name == "Milestone":
        return await visible_milestone(info, actor, pk)
    if type_name == "ApiToken":
        token = await models.ApiToken.filter(id=pk, user_id=actor.user_id).first()
        return ApiToken.from_row(token) if token else None
    owner = await _owner_of(type_name, pk)
    if owner is None:
        return None
    row, contract_id = owner
    contract = await visible_contract(info, actor, contract_id)
    if contract is None:
        return None
    if isinstance(row, models.Submission):
        return Submission.from_row(row, contract.currency)
    if isinstance(row, models.ChangeRequest):
        return ChangeRequest.from_row(row, contract.currency)
    if isinstance(row, models.RefundRequest):
        return RefundRequest.from_row(row, contract.currency)
    if isinstance(row, models.Dispute):
        return Dispute.from_row(row, contract.currency)
    if isinstance(row, models.ContractEvent):
        return ContractEvent.from_row(row, contract.currency)
    return LedgerEntry.from_row(row, contract.currency)


Owned = (
    models.Submission
    | models.ContractEvent
    | models.LedgerEntry
    | models.ChangeRequest
    | models.RefundRequest
    | models.Dispute
)
_OWNED_BY_CONTRACT: dict[
    str,
    type[
        models.ContractEvent
        | models.LedgerEntry
        | models.ChangeRequest
        | models.RefundRequest
        | models.Dispute
    ],
] = {
    "ContractEvent": models.ContractEvent,
    "LedgerEntry": models.LedgerEntry,
    "ChangeRequest": models.ChangeRequest,
    "RefundRequest": models.RefundRequest,
    "Dispute": models.Dispute,
}


async def _owner_of(type_name: str, pk: int) -> tuple[Owned, int] | None:
    """A contract's object by type and id, with the id of the contract it belongs to."""
    model = _OWNED_BY_CONTRACT.get(type_name)
    if model is not None:
        row = await model.filter(id=pk).first()
        return (row, row.contract_id) if row else None
    if type_name == "Submission":
        submission = await models.Submission.filter(id=pk).select_related("milestone").first()
        return (submission, submission.milestone.contract_id) if submission else None
    return None


@strawberry.type
class Query:
    @strawberry.field(description="The caller.")
    async def viewer(self, info: Info) -> User:
        actor = await info.context.actor()
        row = await info.context.loaders.user_by_id.load(actor.user_id)
        assert row is not None
        return User.from_row(row)

    @strawberry.field(description="Any object by its global id; null if unknown or hidden.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        actor = await info.context.actor()
        decoded = decode_any(id)
        return await _resolve_node(info, actor, *decoded) if decoded else None

    @strawberry.field
    async def contract(self, info: Info, id: strawberry.ID) -> Contract | None:
        actor = await info.context.actor()
        return await visible_contract(info, actor, decode_id(id, "Contract"))

    @strawberry.field(description="The viewer's own contracts, newest first.")
    async def contracts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: ContractStatus | None = None,
        role: Role | None = None,
    ) -> ContractConnection:
        actor = await info.context.actor()
        page = await reads.contracts_page(
            actor,
            first=page_size(first),
            after=after_contract(after),
            status=status,
            role=role,
        )
        for row in page.rows:
            info.context.loaders.contract_by_id.prime(row.id, row)
        edges = [
            ContractEdge(
                cursor=contracts_cursor(row.created_at, row.id),
                node=Contract.from_row(row),
            )
            for row in page.rows
        ]
        return ContractConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=page.total,
        )

    @strawberry.field
    async def milestone(self, info: Info, id: strawberry.ID) -> Milestone | None:
        actor = await info.context.actor()
        return await visible_milestone(info, actor, decode_id(id, "Milestone"))

    @strawberry.field(description="The fees, limits and windows in force. Needs no token.")
    def policy(self, info: Info) -> Policy:
        return Policy.of(info.context.runtime.policy)

    @strawberry.field(
        description="The viewer's tokens that still work, oldest first: API tokens, and the "
        "sessions that `login` and `register` opened (`isSession`), each revocable by "
        "`revokeApiToken`."
    )
    async def api_tokens(self, info: Info) -> list[ApiToken]:
        actor = await info.context.actor()
        rows = await live_tokens_of(info.context.runtime, actor.user_id)
        return [ApiToken.from_row(t) for t in rows]
