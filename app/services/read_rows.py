"""Rows for the compiled read path (`app.graphql.compiled`): one statement per relation for
every parent at once, each row a plain dict of its record's fields (named and converted as
the record's `RecordMap` says), not a record: the fields asked for, or all of them.

Derived values are the domain's: a contract's escrow is computed from its ledger totals and
its milestones' records, as `reads` computes it for the standard path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from app.db import models
from app.domain.ledger import LedgerTotals
from app.domain.milestones import Milestone
from app.domain.permissions import Actor, ContractStatus, Role
from app.services import reads
from app.services.mappers import Convert, RecordMap
from app.services.records import (
    CONTRACTS,
    ENTRIES,
    EVENTS,
    STORED_MILESTONES,
    USERS,
    MilestoneRecord,
)

Row = dict[str, Any]
Fields = Collection[str] | None  # the fields of the record a row holds (and its id); None: all
_Stored = tuple[tuple[str, str, Convert, Convert], ...]


def _stored(records: RecordMap[Any], fields: Fields, *kept: str) -> _Stored:
    if fields is None:
        return records.stored
    wanted = {"id", *kept, *fields}
    return tuple(stored for stored in records.stored if stored[0] in wanted)


def _columns(stored: _Stored) -> tuple[str, ...]:
    return tuple(column for _, column, _, _ in stored)


def _rows(stored: _Stored, values: list[dict[str, Any]]) -> list[Row]:
    return [{name: read(value[column]) for name, column, read, _ in stored} for value in values]


async def users(ids: Collection[int], fields: Fields = None) -> dict[int, Row]:
    stored = _stored(USERS, fields)
    values = await models.User.filter(id__in=list(ids)).values(*_columns(stored))
    return {row["id"]: row for row in _rows(stored, values)}


async def milestones(contract_ids: Collection[int], fields: Fields = None) -> dict[int, list[Row]]:
    """Each contract's milestones by position; deleted ones are absent."""
    stored = _stored(STORED_MILESTONES, fields, "contract_id")
    values = (
        await models.Milestone.filter(contract_id__in=list(contract_ids), deleted=False)
        .order_by("contract_id", "position")
        .values(*_columns(stored))
    )
    grouped: dict[int, list[Row]] = defaultdict(list)
    for row in _rows(stored, values):
        grouped[row["contract_id"]].append(row)
    return {contract_id: grouped[contract_id] for contract_id in contract_ids}


async def milestone(pk: int, fields: Fields = None) -> Row | None:
    """A milestone that is not deleted."""
    stored = _stored(STORED_MILESTONES, fields)
    values = await models.Milestone.filter(id=pk, deleted=False).values(*_columns(stored))
    return _rows(stored, values)[0] if values else None


async def milestones_by_id(ids: Collection[int], fields: Fields = None) -> dict[int, Row | None]:
    """Milestones by id; a deleted one is None."""
    stored = _stored(STORED_MILESTONES, fields)
    values = await models.Milestone.filter(id__in=list(ids), deleted=False).values(
        *_columns(stored)
    )
    found = {row["id"]: row for row in _rows(stored, values)}
    return {pk: found.get(pk) for pk in ids}


def active_milestone(rows: list[Row]) -> Row | None:
    """The funded, submitted or disputed milestone of a contract's milestones, if any."""
    return next((row for row in rows if MilestoneRecord(**row).is_active), None)


def escrow_figures(totals: LedgerTotals, milestones: Sequence[Milestone]) -> dict[str, int]:
    """A contract's escrow in cents, by the names of the `Escrow` type's money fields."""
    return {
        "held": totals.held,
        "available": totals.held - reads.allocated(milestones),
        "total_funded": totals.total_funded,
        "total_released": totals.total_released,
        "total_refunded": totals.total_refunded,
    }


async def escrows(milestones_by_contract: Mapping[int, list[Row]]) -> dict[int, Row]:
    """Each contract's escrow figures (and its id), given its milestones."""
    totals = await reads.ledger_totals_by_contract(list(milestones_by_contract))
    return {
        contract_id: {
            "id": contract_id,
            **escrow_figures(total, [MilestoneRecord(**row) for row in rows]),
        }
        for (contract_id, rows), total in zip(milestones_by_contract.items(), totals, strict=True)
    }


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    has_next: bool
    total: int


async def _page(
    counted: QuerySet[Any],
    query: QuerySet[Any],
    stored: _Stored,
    order: tuple[str, ...],
    first: int,
) -> Page:
    """A page of `query` (`counted` past a cursor) in one statement: the count of `counted`
    rides along as a subquery, and needs its own statement only for an empty page past a
    cursor (an empty first page counts none)."""
    total = Subquery(counted.annotate(total=Count("id")).values("total"))
    values = (
        await query.annotate(total=total)
        .order_by(*order)
        .limit(first + 1)
        .values("total", *_columns(stored))
    )
    if not values:
        return Page(rows=[], has_next=False, total=0 if query is counted else await counted.count())
    return Page(
        _rows(stored, values[:first]), has_next=len(values) > first, total=values[0]["total"]
    )


async def contracts_page(
    actor: Actor,
    *,
    first: int,
    after: tuple[datetime, int] | None,
    status: ContractStatus | None,
    role: Role | None,
    fields: Fields = None,
) -> Page:
    """As `reads.contracts_page`, in one statement."""
    counted = reads.own_contracts(actor, status, role)
    query = counted if after is None else counted.filter(reads.contracts_after(after))
    stored = _stored(CONTRACTS, fields, "created_at")
    return await _page(counted, query, stored, reads.CONTRACT_ORDER, first)


async def entries_page(
    contract_id: int, *, first: int, after: int | None, fields: Fields = None
) -> Page:
    """As `reads.entries_page`, in one statement."""
    counted = models.LedgerEntry.filter(contract_id=contract_id)
    query = counted if after is None else counted.filter(id__gt=after)
    return await _page(counted, query, _stored(ENTRIES, fields), ("id",), first)


async def events_page(
    contract_id: int, *, first: int, after: int | None, fields: Fields = None
) -> Page:
    """As `reads.events_page`, in one statement."""
    counted = models.ContractEvent.filter(contract_id=contract_id)
    query = counted if after is None else counted.filter(sequence__gt=after)
    return await _page(counted, query, _stored(EVENTS, fields, "sequence"), ("sequence",), first)
