"""Query fields."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry

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
from app.services import account_reads, reads
from app.services.records import Owned

RecordT = TypeVar("RecordT")


async def visible_contract(info: Info, actor: Actor, contract_id: int | None) -> Contract | None:
    if contract_id is None:
        return None
    record = await info.context.loaders.contract_by_id.load(contract_id)
    if record is None or not reads.can_see(actor, record):
        return None
    return Contract.from_record(record)


async def visible_milestone(info: Info, actor: Actor, milestone_id: int | None) -> Milestone | None:
    if milestone_id is None:
        return None
    milestone = await load_milestone(info, milestone_id)
    if milestone is None:
        return None
    contract = await info.context.loaders.contract_by_id.load(milestone._record.contract_id)
    return milestone if contract is not None and reads.can_see(actor, contract) else None


@dataclass(frozen=True)
class _OwnedType(Generic[RecordT]):
    """A type of a contract's objects: how one is found by id, and built once it is visible."""

    find: Callable[[int], Awaitable[Owned[RecordT] | None]]
    build: Callable[[RecordT, str], Node]


_OWNED_BY_CONTRACT: dict[str, _OwnedType[Any]] = {
    "Submission": _OwnedType(reads.submission, Submission.from_record),
    "ContractEvent": _OwnedType(reads.event, ContractEvent.from_record),
    "LedgerEntry": _OwnedType(reads.entry, LedgerEntry.from_record),
    "ChangeRequest": _OwnedType(reads.change_request, ChangeRequest.from_record),
    "RefundRequest": _OwnedType(reads.refund_request, RefundRequest.from_record),
    "Dispute": _OwnedType(reads.dispute, Dispute.from_record),
}


async def _resolve_node(info: Info, actor: Actor, type_name: str, pk: int) -> Node | None:
    if type_name == "User":
        user = await info.context.loaders.user_by_id.load(pk)
        return User.from_record(user) if user else None
    if type_name == "Contract":
        return await visible_contract(info, actor, pk)
    if type_name == "Milestone":
        return await visible_milestone(info, actor, pk)
    if type_name == "ApiToken":
        token = await account_reads.own_token(actor.user_id, pk)
        return ApiToken.from_record(token) if token else None
    owned_type = _OWNED_BY_CONTRACT.get(type_name)
    owned = await owned_type.find(pk) if owned_type is not None else None
    if owned_type is None or owned is None:
        return None
    contract = await visible_contract(info, actor, owned.contract_id)
    return owned_type.build(owned.record, contract.currency) if contract else None


@strawberry.type
class Query:
    @strawberry.field(description="The caller.")
    async def viewer(self, info: Info) -> User:
        actor = await info.context.actor()
        record = await info.context.loaders.user_by_id.load(actor.user_id)
        assert record is not None
        return User.from_record(record)

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
        for record in page.rows:
            info.context.loaders.contract_by_id.prime(record.id, record)
        edges = [
            ContractEdge(
                cursor=contracts_cursor(record.created_at, record.id),
                node=Contract.from_record(record),
            )
            for record in page.rows
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
        records = await account_reads.live_tokens(info.context.runtime, actor.user_id)
        return [ApiToken.from_record(t) for t in records]
