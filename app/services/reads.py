"""Reads: who may see what, and batched look-ups for the GraphQL loaders (one statement each)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from tortoise.expressions import Q

from app.db import models
from app.domain.ledger import LedgerTotals
from app.domain.milestones import ACTIVE_STATUSES, MilestoneStatus
from app.domain.permissions import Actor, ContractStatus, Role
from app.services.repository import ledger_totals

RowT = TypeVar("RowT")


def visible_filter(actor: Actor) -> Q:
    return Q(client_id=actor.user_id) | Q(freelancer_id=actor.user_id)


def can_see(actor: Actor, contract: models.Contract) -> bool:
    return actor.is_admin or actor.user_id in (contract.client_id, contract.freelancer_id)


async def users_by_id(ids: Sequence[int]) -> list[models.User | None]:
    rows = {u.id: u for u in await models.User.filter(id__in=set(ids))}
    return [rows.get(i) for i in ids]


async def contracts_by_id(ids: Sequence[int]) -> list[models.Contract | None]:
    rows = {c.id: c for c in await models.Contract.filter(id__in=set(ids))}
    return [rows.get(i) for i in ids]


async def milestones_by_id(ids: Sequence[int]) -> list[models.Milestone | None]:
    rows = {m.id: m for m in await models.Milestone.filter(id__in=set(ids), deleted=False)}
    return [rows.get(i) for i in ids]


async def milestones_by_contract(ids: Sequence[int]) -> list[list[models.Milestone]]:
    grouped: dict[int, list[models.Milestone]] = defaultdict(list)
    for row in await models.Milestone.filter(contract_id__in=set(ids), deleted=False).order_by(
        "contract_id", "position"
    ):
        grouped[row.contract_id].append(row)
    return [grouped[i] for i in ids]


async def submissions_by_milestone(ids: Sequence[int]) -> list[list[models.Submission]]:
    grouped: dict[int, list[models.Submission]] = defaultdict(list)
    for row in await models.Submission.filter(milestone_id__in=set(ids)).order_by("id"):
        grouped[row.milestone_id].append(row)
    return [grouped[i] for i in ids]


async def ledger_totals_by_contract(ids: Sequence[int]) -> list[LedgerTotals]:
    totals = await ledger_totals(set(ids))
    return [totals[i] for i in ids]


def allocated(milestones: Sequence[models.Milestone]) -> int:
    """Escrow allocated to active milestones; the rest of what is held is available."""
    return sum(
        m.funded_amount - m.released_amount - m.refunded_amount
        for m in milestones
        if MilestoneStatus(m.status) in ACTIVE_STATUSES
    )


@dataclass(frozen=True)
class Page(Generic[RowT]):
    rows: list[RowT]
    has_next: bool
    total: int


async def contracts_page(
    actor: Actor,
    *,
    first: int,
    after: tuple[datetime, int] | None,
    status: ContractStatus | None,
    role: Role | None,
) -> Page[models.Contract]:
    """The viewer's own contracts, newest first (createdAt, then id, descending)."""
    if role is Role.CLIENT:
        query = models.Contract.filter(client_id=actor.user_id)
    elif role is Role.FREELANCER:
        query = models.Contract.filter(freelancer_id=actor.user_id)
    else:
        query = models.Contract.filter(visible_filter(actor))
    if status is not None:
        query = query.filter(status=status)
    total = await query.count()
    if after is not None:
        created_at, pk = after
        query = query.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=pk))
    rows = await query.order_by("-created_at", "-id").limit(first + 1)
    return Page(rows=rows[:first], has_next=len(rows) > first, total=total)


async def events_page(
    contract_id: int, *, first: int, after: int | None
) -> Page[models.ContractEvent]:
    query = models.ContractEvent.filter(contract_id=contract_id)
    total = await query.count()
    if after is not None:
        query = query.filter(sequence__gt=after)
    rows = await query.order_by("sequence").limit(first + 1)
    return Page(rows=rows[:first], has_next=len(rows) > first, total=total)


async def entries_page(
    contract_id: int, *, first: int, after: int | None
) -> Page[models.LedgerEntry]:
    query = models.LedgerEntry.filter(contract_id=contract_id)
    total = await query.count()
    if after is not None:
        query = query.filter(id__gt=after)
    rows = await query.order_by("id").limit(first + 1)
    return Page(rows=rows[:first], has_next=len(rows) > first, total=total)


async def change_requests_by_contract(ids: Sequence[int]) -> list[list[models.ChangeRequest]]:
    grouped: dict[int, list[models.ChangeRequest]] = defaultdict(list)
    for row in await models.ChangeRequest.filter(contract_id__in=set(ids)).order_by("id"):
        grouped[row.contract_id].append(row)
    return [grouped[i] for i in ids]


async def change_requests_by_id(ids: Sequence[int]) -> list[models.ChangeRequest | None]:
    rows = {c.id: c for c in await models.ChangeRequest.filter(id__in=set(ids))}
    return [rows.get(i) for i in ids]


async def refunds_by_milestone(ids: Sequence[int]) -> list[list[models.RefundRequest]]:
    grouped: dict[int, list[models.RefundRequest]] = defaultdict(list)
    for row in await models.RefundRequest.filter(milestone_id__in=set(ids)).order_by("id"):
        grouped[row.milestone_id].append(row)
    return [grouped[i] for i in ids]


async def disputes_by_milestone(ids: Sequence[int]) -> list[list[models.Dispute]]:
    grouped: dict[int, list[models.Dispute]] = defaultdict(list)
    for row in await models.Dispute.filter(milestone_id__in=set(ids)).order_by("id"):
        grouped[row.milestone_id].append(row)
    return [grouped[i] for i in ids]


async def events_after(contract_id: int, sequence: int, limit: int) -> list[models.ContractEvent]:
    return (
        await models.ContractEvent.filter(contract_id=contract_id, sequence__gt=sequence)
        .order_by("sequence")
        .limit(limit)
    )


async def own_contract_currencies(actor: Actor) -> dict[int, str]:
    """The viewer's own contracts (as client or freelancer), with their currencies."""
    rows = await models.Contract.filter(visible_filter(actor)).only("id", "currency")
    return {row.id: row.currency for row in rows}


async def milestones_of_contracts(contract_ids: Sequence[int]) -> list[models.Milestone]:
    if not contract_ids:
        return []
    return await models.Milestone.filter(
        contract_id__in=list(contract_ids), deleted=False
    ).order_by("contract_id", "position")
