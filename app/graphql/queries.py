"""Query fields."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from app.domain.permissions import Actor
from app.graphql.accounts import ApiToken
from app.graphql.context import Info
from app.graphql.enums import ContractStatus, Role
from app.graphql.errors import bad_request
from app.graphql.ids import decode_any, decode_id
from app.graphql.leaf_types import Node, User
from app.graphql.notifications import Notification
from app.graphql.pagination import (
    MAX_PAGE,
    After,
    Before,
    First,
    Last,
    contracts_cursor,
    contracts_window,
    page_info,
)
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
    load_escrow,
    load_milestone,
)
from app.graphql.webhooks import WebhookDelivery, WebhookEndpoint
from app.services import account_reads, notifications, reads, webhooks
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
    if type_name == "Escrow":
        contract = await visible_contract(info, actor, pk)
        return await load_escrow(info, contract._record) if contract else None
    if type_name == "ApiToken":
        token = await account_reads.own_token(actor.user_id, pk)
        return ApiToken.from_record(token) if token else None
    if type_name == "Notification":
        (notification,) = await notifications.notifications_by_id([pk])
        if notification is None or notification.recipient_id != actor.user_id:
            return None
        return Notification.from_record(notification)
    if type_name == "WebhookEndpoint":
        endpoint = await webhooks.endpoint(actor, pk)
        return WebhookEndpoint.from_record(endpoint) if endpoint else None
    if type_name == "WebhookDelivery":
        delivery = await webhooks.delivery(actor, pk)
        return WebhookDelivery.from_record(delivery) if delivery else None
    owned_type = _OWNED_BY_CONTRACT.get(type_name)
    owned = await owned_type.find(pk) if owned_type is not None else None
    if owned_type is None or owned is None:
        return None
    contract = await visible_contract(info, actor, owned.contract_id)
    return owned_type.build(owned.record, contract.currency) if contract else None


async def _node(info: Info, actor: Actor, global_id: str) -> Node | None:
    decoded = decode_any(global_id)
    return await _resolve_node(info, actor, *decoded) if decoded else None


MAX_NODES = MAX_PAGE  # ids in one `nodes` call

ContractId = Annotated[strawberry.ID, strawberry.argument(description="The contract's id.")]
MilestoneId = Annotated[strawberry.ID, strawberry.argument(description="The milestone's id.")]


@strawberry.type(
    description="Reads. Every field needs a bearer token (READ scope is enough) except "
    "`policy`; without one: UNAUTHENTICATED. Unknown, malformed and hidden ids read as null."
)
class Query:
    @strawberry.field(description="The caller: the user the bearer token belongs to.")
    async def viewer(self, info: Info) -> User:
        actor = await info.context.actor()
        record = await info.context.loaders.user_by_id.load(actor.user_id)
        assert record is not None
        return User.from_record(record)

    @strawberry.field(
        description="Any object by its global id; null if unknown, malformed or not visible "
        "to the viewer (a contract's objects to its parties and admins; a token, a notification, "
        "a webhook endpoint and its deliveries to their owner only)."
    )
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
    ) -> Node | None:
        return await _node(info, await info.context.actor(), id)

    @strawberry.field(
        description=f"Objects by their global ids, in the order asked, as `node` reads each: "
        f"null for an unknown, malformed or hidden one. At most {MAX_NODES} ids "
        "(more: BAD_REQUEST)."
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(
                description=f"Global ids, at most {MAX_NODES}; repeats are answered each time."
            ),
        ],
    ) -> list[Node | None]:
        actor = await info.context.actor()
        if len(ids) > MAX_NODES:
            raise bad_request(f"ids must hold at most {MAX_NODES} ids")
        return list(await asyncio.gather(*(_node(info, actor, i) for i in ids)))

    @strawberry.field(
        description="A contract by id: for its parties and admins; null for anyone else, as "
        "for an unknown id."
    )
    async def contract(self, info: Info, id: ContractId) -> Contract | None:
        actor = await info.context.actor()
        return await visible_contract(info, actor, decode_id(id, "Contract"))

    @strawberry.field(
        description="The viewer's own contracts (as client or freelancer; admins too see only "
        "their own here), newest first. Pages forward with `first`/`after`, backward with "
        "`last`/`before`."
    )
    async def contracts(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        status: Annotated[
            ContractStatus | None,
            strawberry.argument(description="Only the contracts in this status; any by default."),
        ] = None,
        role: Annotated[
            Role | None,
            strawberry.argument(
                description="Only the contracts where the viewer has this role; either by default."
            ),
        ] = None,
    ) -> ContractConnection:
        actor = await info.context.actor()
        page = await reads.contracts_page(
            actor, contracts_window(first, after, last, before), status=status, role=role
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
            page_info=page_info([e.cursor for e in edges], page),
            total_count=page.total,
        )

    @strawberry.field(
        description="A milestone by id: for its contract's parties and admins; null for anyone "
        "else, and for a milestone deleted by a change request."
    )
    async def milestone(self, info: Info, id: MilestoneId) -> Milestone | None:
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
