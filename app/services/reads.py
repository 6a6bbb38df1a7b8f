"""Reads: who may see what, the pages of the connections, batched look-ups for the GraphQL
loaders, and a contract's objects by id with the contract they belong to (one statement each).
Every read returns records (`app.services.records`), not rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from app.db import models
from app.domain.ledger import LedgerTotals
from app.domain.milestones import Milestone, Submission
from app.domain.permissions import Actor, ContractStatus, Role
from app.domain.requests import ChangeRequest, Dispute, RefundRequest
from app.services.mappers import (
    CHANGE_REQUESTS,
    DISPUTES,
    REFUND_REQUESTS,
    SUBMISSIONS,
    RecordMap,
)
from app.services.records import (
    CONTRACTS,
    ENTRIES,
    EVENTS,
    STORED_MILESTONES,
    USERS,
    ContractRecord,
    EntryRecord,
    EventRecord,
    MilestoneRecord,
    Owned,
    UserRecord,
)
from app.services.repository import ledger_totals
from app.services.windows import Keyset, Window, window_rows

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

RecordT = TypeVar("RecordT")
OwnedT = TypeVar("OwnedT", bound="DataclassInstance")


def visible_filter(actor: Actor) -> Q:
    return Q(client_id=actor.user_id) | Q(freelancer_id=actor.user_id)


def can_see(actor: Actor, contract: ContractRecord) -> bool:
    return actor.is_admin or actor.user_id in (contract.client_id, contract.freelancer_id)


async def users_by_id(ids: Sequence[int]) -> list[UserRecord | None]:
    records = {u.id: USERS.from_row(u) for u in await models.User.filter(id__in=set(ids))}
    return [records.get(i) for i in ids]


async def contracts_by_id(ids: Sequence[int]) -> list[ContractRecord | None]:
    rows = await models.Contract.filter(id__in=set(ids))
    records = {c.id: CONTRACTS.from_row(c) for c in rows}
    return [records.get(i) for i in ids]


async def contract_by_id(contract_id: int) -> ContractRecord | None:
    return (await contracts_by_id([contract_id]))[0]


async def milestones_by_id(ids: Sequence[int]) -> list[MilestoneRecord | None]:
    rows = await models.Milestone.filter(id__in=set(ids), deleted=False)
    records = {m.id: STORED_MILESTONES.from_row(m) for m in rows}
    return [records.get(i) for i in ids]


async def milestones_by_contract(ids: Sequence[int]) -> list[list[MilestoneRecord]]:
    grouped: dict[int, list[MilestoneRecord]] = defaultdict(list)
    for record in await milestones_of_contracts(list(set(ids))):
        grouped[record.contract_id].append(record)
    return [grouped[i] for i in ids]


async def submissions_by_milestone(ids: Sequence[int]) -> list[list[Submission]]:
    grouped: dict[int, list[Submission]] = defaultdict(list)
    for row in await models.Submission.filter(milestone_id__in=set(ids)).order_by("id"):
        grouped[row.milestone_id].append(SUBMISSIONS.from_row(row))
    return [grouped[i] for i in ids]


async def ledger_totals_by_contract(ids: Sequence[int]) -> list[LedgerTotals]:
    totals = await ledger_totals(set(ids))
    return [totals[i] for i in ids]


def allocated(milestones: Sequence[Milestone]) -> int:
    """Escrow allocated to active milestones; the rest of what is held is available."""
    return sum(m.remaining for m in milestones if m.is_active)


@dataclass(frozen=True)
class Page(Generic[RecordT]):
    rows: list[RecordT]
    has_next: bool
    has_previous: bool
    total: int


CONTRACT_KEYS = Keyset(("created_at", "id"), descending=True)
CONTRACT_ORDER = CONTRACT_KEYS.order()
EVENT_KEYS = Keyset(("sequence",))
ENTRY_KEYS = Keyset(("id",))


def own_contracts(
    actor: Actor, status: ContractStatus | None, role: Role | None
) -> QuerySet[models.Contract]:
    """The contracts a page of the viewer's own holds: as the given role (either by default),
    in the given status."""
    if role is Role.CLIENT:
        query = models.Contract.filter(client_id=actor.user_id)
    elif role is Role.FREELANCER:
        query = models.Contract.filter(freelancer_id=actor.user_id)
    else:
        query = models.Contract.filter(visible_filter(actor))
    return query if status is None else query.filter(status=status)


def contracts_after(cursor: tuple[datetime, int]) -> Q:
    """The contracts after `cursor` (createdAt, id) in `CONTRACT_ORDER`."""
    return CONTRACT_KEYS.past(cursor)


async def page(
    query: QuerySet[Any], keys: Keyset, window: Window, records: RecordMap[OwnedT]
) -> Page[OwnedT]:
    """A page of a connection's records: the rows of `window` in `keys` order, with the
    count; shared by every connection of the read side."""
    found = await window_rows(query, keys, window)
    return Page(
        rows=[records.from_row(row) for row in found.rows],
        has_next=found.has_next,
        total=found.total,
        has_previous=found.has_previous,
    )


async def contracts_page(
    actor: Actor, window: Window, *, status: ContractStatus | None, role: Role | None
) -> Page[ContractRecord]:
    """The viewer's own contracts, newest first (`CONTRACT_ORDER`)."""
    return await page(own_contracts(actor, status, role), CONTRACT_KEYS, window, CONTRACTS)


async def events_page(contract_id: int, window: Window) -> Page[EventRecord]:
    query = models.ContractEvent.filter(contract_id=contract_id)
    return await page(query, EVENT_KEYS, window, EVENTS)


async def entries_page(contract_id: int, window: Window) -> Page[EntryRecord]:
    query = models.LedgerEntry.filter(contract_id=contract_id)
    return await page(query, ENTRY_KEYS, window, ENTRIES)


async def change_requests_by_contract(ids: Sequence[int]) -> list[list[ChangeRequest]]:
    grouped: dict[int, list[ChangeRequest]] = defaultdict(list)
    for row in await models.ChangeRequest.filter(contract_id__in=set(ids)).order_by("id"):
        grouped[row.contract_id].append(CHANGE_REQUESTS.from_row(row))
    return [grouped[i] for i in ids]


async def change_requests_by_id(ids: Sequence[int]) -> list[ChangeRequest | None]:
    rows = await models.ChangeRequest.filter(id__in=set(ids))
    records = {c.id: CHANGE_REQUESTS.from_row(c) for c in rows}
    return [records.get(i) for i in ids]


async def refunds_by_milestone(ids: Sequence[int]) -> list[list[RefundRequest]]:
    grouped: dict[int, list[RefundRequest]] = defaultdict(list)
    for row in await models.RefundRequest.filter(milestone_id__in=set(ids)).order_by("id"):
        grouped[row.milestone_id].append(REFUND_REQUESTS.from_row(row))
    return [grouped[i] for i in ids]


async def disputes_by_milestone(ids: Sequence[int]) -> list[list[Dispute]]:
    grouped: dict[int, list[Dispute]] = defaultdict(list)
    for row in await models.Dispute.filter(milestone_id__in=set(ids)).order_by("id"):
        grouped[row.milestone_id].append(DISPUTES.from_row(row))
    return [grouped[i] for i in ids]


async def events_after(contract_id: int, sequence: int, limit: int) -> list[EventRecord]:
    rows = (
        await models.ContractEvent.filter(contract_id=contract_id, sequence__gt=sequence)
        .order_by("sequence")
        .limit(limit)
    )
    return [EVENTS.from_row(row) for row in rows]


async def own_contract_currencies(actor: Actor) -> dict[int, str]:
    """The viewer's own contracts (as client or freelancer), with their currencies."""
    rows = await models.Contract.filter(visible_filter(actor)).only("id", "currency")
    return {row.id: row.currency for row in rows}


async def milestones_of_contracts(contract_ids: Sequence[int]) -> list[MilestoneRecord]:
    """The milestones of these contracts, by contract and position; deleted ones are absent."""
    if not contract_ids:
        return []
    rows = await models.Milestone.filter(
        contract_id__in=list(contract_ids), deleted=False
    ).order_by("contract_id", "position")
    return [STORED_MILESTONES.from_row(row) for row in rows]


OwnedRow = TypeVar(
    "OwnedRow",
    models.ContractEvent,
    models.LedgerEntry,
    models.ChangeRequest,
    models.RefundRequest,
    models.Dispute,
)


async def _owned(
    model: type[OwnedRow], records: RecordMap[OwnedT], pk: int
) -> Owned[OwnedT] | None:
    row = await model.filter(id=pk).first()
    return Owned(records.from_row(row), row.contract_id) if row is not None else None


async def event(pk: int) -> Owned[EventRecord] | None:
    return await _owned(models.ContractEvent, EVENTS, pk)


async def entry(pk: int) -> Owned[EntryRecord] | None:
    return await _owned(models.LedgerEntry, ENTRIES, pk)


async def change_request(pk: int) -> Owned[ChangeRequest] | None:
    return await _owned(models.ChangeRequest, CHANGE_REQUESTS, pk)


async def refund_request(pk: int) -> Owned[RefundRequest] | None:
    return await _owned(models.RefundRequest, REFUND_REQUESTS, pk)


async def dispute(pk: int) -> Owned[Dispute] | None:
    return await _owned(models.Dispute, DISPUTES, pk)


async def submission(pk: int) -> Owned[Submission] | None:
    row = await models.Submission.filter(id=pk).select_related("milestone").first()
    return Owned(SUBMISSIONS.from_row(row), row.milestone.contract_id) if row else None
