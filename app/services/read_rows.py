"""Rows for the compiled read path (`app.graphql.compiled`): one statement per relation for
every parent at once, each row a plain dict of its record's fields (named and converted as
the record's `RecordMap` says), not a record: the fields asked for, or all of them.

Derived values are the domain's: a contract's escrow is computed from its ledger totals and
its milestones' records, as `reads` computes it for the standard path.

The batches by key and the first pages by contract are SQL text written once per table and set
of fields (`_select`: the keys go in as one array, so the text is the same for any number of
them), run through the current Tortoise client, which logs it as it logs its own, and read from
the driver's records (no dict made in between): Tortoise's query builder costs more CPU than
the database spends on such a statement. Each value is converted as Tortoise's `values()`
converts it (the field's `to_python_value` unless the driver's value is native), then as the
record reads it. `one_connection` runs every statement of a request on one pooled connection,
taken and given back once.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from tortoise import connections
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.expressions import Subquery
from tortoise.functions import Count
from tortoise.models import Model
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
from app.services.statements import is_postgres

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


@asynccontextmanager
async def one_connection() -> AsyncIterator[None]:
    """Every statement of this task in the block on one connection of the pool, taken once,
    outside a transaction. SQLite has one connection, and a transaction holds its own."""
    client = connections.get("default")
    if type(client) is not AsyncpgDBClient:
        yield
        return
    async with client.acquire_connection() as connection:
        bound = TransactionWrapper(client)
        bound._connection = connection
        token = connections.set("default", bound)
        try:
            yield
        finally:
            connections.reset(token)


@dataclass(frozen=True)
class _Select:
    sql: str
    reads: tuple[tuple[str, str, Convert], ...]  # (field, column, how its value is read)


def _converter(to_python: Convert, read: Convert) -> Convert:
    return lambda value: read(to_python(value))


def _reads(model: type[Model], stored: _Stored) -> tuple[tuple[str, str, Convert], ...]:
    meta = model._meta
    native = {name for _, name, _ in meta.db_native_fields}
    return tuple(
        (
            name,
            meta.fields_db_projection[field],
            read if field in native else _converter(meta.fields_map[field].to_python_value, read),
        )
        for name, field, read, _ in stored
    )


def _sql(model: type[Model], reads: tuple[tuple[str, str, Convert], ...], rest: str) -> str:
    columns = ", ".join(f'"{column}"' for _, column, _ in reads)
    return f'SELECT {columns} FROM "{model._meta.db_table}" {rest}'


@functools.cache
def _select(model: type[Model], stored: _Stored, key: str, tail: str, postgres: bool) -> _Select:
    """The rows of `model` whose `key` is one of an array of values ($1), then `tail`."""
    reads = _reads(model, stored)
    keys = "= ANY($1)" if postgres else "IN (SELECT value FROM json_each(?1))"
    column = model._meta.fields_db_projection[key]
    return _Select(_sql(model, reads, f'WHERE "{column}" {keys}{tail}'), reads)


@functools.cache
def _first_page_select(
    model: type[Model], stored: _Stored, key: str, order: str, postgres: bool
) -> _Select:
    """The first rows of `model` whose `key` is $1 by `order` (at most $2), each with the count
    of all those rows as `total`."""
    reads = _reads(model, stored)
    table, column = model._meta.db_table, model._meta.fields_db_projection[key]
    value, limit = ("$1", "$2") if postgres else ("?1", "?2")
    where = f'WHERE "{column}" = {value}'
    total = f'(SELECT COUNT(*) FROM "{table}" {where}) AS "total"'
    sql = _sql(model, reads, f'{where} ORDER BY "{order}" LIMIT {limit}')
    return _Select(sql.replace("SELECT ", f"SELECT {total}, ", 1), reads)


def _read(select: _Select, records: Sequence[Any]) -> list[Row]:
    reads = select.reads
    return [{name: read(record[column]) for name, column, read in reads} for record in records]


async def _batch(
    model: type[Model], stored: _Stored, key: str, keys: Collection[Any], tail: str = ""
) -> list[Row]:
    conn = connections.get("default")
    postgres = is_postgres(conn)
    select = _select(model, stored, key, tail, postgres)
    _, records = await conn.execute_query(
        select.sql, [list(keys) if postgres else json.dumps(list(keys))]
    )
    return _read(select, records)


async def _first_page(
    model: type[Model], stored: _Stored, key: str, value: int, order: str, first: int
) -> Page:
    """The first page of the rows whose `key` is `value`, in one statement."""
    conn = connections.get("default")
    select = _first_page_select(model, stored, key, order, is_postgres(conn))
    _, records = await conn.execute_query(select.sql, [value, first + 1])
    if not records:
        return Page(rows=[], has_next=False, total=0)
    rows = _read(select, records[:first])
    return Page(rows, has_next=len(records) > first, total=records[0]["total"])


_NOT_DELETED = ' AND NOT "deleted"'


async def contracts(ids: Collection[int]) -> dict[int, Row]:
    """Contracts by id, with every field of their records (visibility reads them)."""
    return {row["id"]: row for row in await _batch(models.Contract, CONTRACTS.stored, "id", ids)}


async def users(ids: Collection[int], fields: Fields = None) -> dict[int, Row]:
    found = await _batch(models.User, _stored(USERS, fields), "id", ids)
    return {row["id"]: row for row in found}


async def milestones(contract_ids: Collection[int], fields: Fields = None) -> dict[int, list[Row]]:
    """Each contract's milestones by position; deleted ones are absent."""
    stored = _stored(STORED_MILESTONES, fields, "contract_id")
    order = _NOT_DELETED + ' ORDER BY "contract_id", "position"'
    grouped: dict[int, list[Row]] = defaultdict(list)
    for row in await _batch(models.Milestone, stored, "contract_id", contract_ids, order):
        grouped[row["contract_id"]].append(row)
    return {contract_id: grouped[contract_id] for contract_id in contract_ids}


async def milestone(pk: int, fields: Fields = None) -> Row | None:
    """A milestone that is not deleted."""
    return (await milestones_by_id([pk], fields))[pk]


async def milestones_by_id(ids: Collection[int], fields: Fields = None) -> dict[int, Row | None]:
    """Milestones by id; a deleted one is None."""
    stored = _stored(STORED_MILESTONES, fields)
    found = await _batch(models.Milestone, stored, "id", ids, _NOT_DELETED)
    by_id = {row["id"]: row for row in found}
    return {pk: by_id.get(pk) for pk in ids}


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


async def _page(query: QuerySet[Any], stored: _Stored, order: tuple[str, ...], first: int) -> Page:
    """The first page of `query` in one statement, its count riding along as a subquery.
    (A later page is the standard path's: `app.graphql.compiled.run`.)"""
    total = Subquery(query.annotate(total=Count("id")).values("total"))
    values = (
        await query.annotate(total=total)
        .order_by(*order)
        .limit(first + 1)
        .values("total", *_columns(stored))
    )
    if not values:
        return Page(rows=[], has_next=False, total=0)
    return Page(
        _rows(stored, values[:first]), has_next=len(values) > first, total=values[0]["total"]
    )


async def contracts_page(
    actor: Actor,
    *,
    first: int,
    status: ContractStatus | None,
    role: Role | None,
    fields: Fields = None,
) -> Page:
    """As `reads.contracts_page` for a first page, in one statement."""
    query = reads.own_contracts(actor, status, role)
    stored = _stored(CONTRACTS, fields, "created_at")
    return await _page(query, stored, reads.CONTRACT_ORDER, first)


async def entries_page(contract_id: int, *, first: int, fields: Fields = None) -> Page:
    """As `reads.entries_page` for a first page, in one statement."""
    stored = _stored(ENTRIES, fields)
    return await _first_page(models.LedgerEntry, stored, "contract_id", contract_id, "id", first)


async def events_page(contract_id: int, *, first: int, fields: Fields = None) -> Page:
    """As `reads.events_page` for a first page, in one statement."""
    stored = _stored(EVENTS, fields, "sequence")
    return await _first_page(
        models.ContractEvent, stored, "contract_id", contract_id, "sequence", first
    )
