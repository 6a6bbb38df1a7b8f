"""Running a plan: the rows are loaded breadth-first, one statement per relation for all the
parents at once (`app.services.read_rows`), then the response is written directly from them.

The root fields ask the read side what the standard resolvers ask it (the caller's own
contracts; a contract, or a milestone's contract, by id through `reads.can_see`; the caller;
for `node(id)` one of those or a user, by the id's type), so the viewer sees the same rows. Each
loader reads only the fields the plan needs of its rows (`columns`). A page other than a
connection's first (`after`, `last`, `before`), an object count past `max_objects`, a row that
is not where the standard path would find it, a `node` of another type: each raises `Fallback`,
and the standard executor answers. Every statement of a run goes through one pooled connection
(`read_rows.one_connection`)."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from graphql import GraphQLField
from graphql.execution.values import VariableValues, get_argument_values

from app.graphql.compiled.columns import Columns
from app.graphql.compiled.plan import Field, Kind
from app.graphql.compiled.relation import Relation
from app.graphql.compiled.write import Prepared, Write
from app.graphql.context import Context
from app.graphql.enums import ContractStatus, Role
from app.graphql.ids import decode_any, decode_id
from app.graphql.leaf_types import shows_private
from app.graphql.pagination import (
    contracts_cursor,
    entries_cursor,
    events_cursor,
    page_size,
)
from app.services import read_rows, reads
from app.services.accounts import Principal
from app.services.read_rows import Row
from app.services.records import ContractRecord


class Fallback(Exception):
    """This request, though planned, is answered by the standard executor."""


def _connection(rows: list[Row], cursor: Callable[[Row], str], has_next: bool, total: int) -> Row:
    """A first page (no `after`, `last` or `before`: see `_first_page`), so there is no
    previous page."""
    edges = [{"cursor": cursor(row), "node": row} for row in rows]
    return {
        "edges": edges,
        "page_info": {
            "has_next_page": has_next,
            "has_previous_page": False,
            "start_cursor": edges[0]["cursor"] if edges else None,
            "end_cursor": edges[-1]["cursor"] if edges else None,
        },
        "total_count": total,
    }


def _first_page(args: Mapping[str, Any]) -> int:
    """The size of a connection's first page; another page is the standard path's (its
    `hasPreviousPage` needs a look before the cursor)."""
    if any(args.get(name) is not None for name in ("after", "last", "before")):
        raise Fallback("not a first page")
    return page_size(args.get("first"))


EnumT = TypeVar("EnumT", bound=enum.Enum)


def _enum(kind: type[EnumT], value: Any) -> EnumT | None:
    """An enum argument as resolvers receive it (graphql-core coerces it to the value)."""
    return None if value is None else kind(value)


def _contract_cursor(row: Row) -> str:
    created_at: datetime = row["created_at"]
    return contracts_cursor(created_at, row["id"])


def _entry_cursor(row: Row) -> str:
    return entries_cursor(row["id"])


def _event_cursor(row: Row) -> str:
    return events_cursor(row["sequence"])


class Run:
    """One execution of a plan for one request."""

    def __init__(
        self, context: Context, variables: VariableValues, max_objects: int | None
    ) -> None:
        self.context = context
        self.variables = variables
        self.max_objects = max_objects
        self.objects = 0
        self.principal: Principal | None = None
        self.cache: dict[str, dict[Any, Any]] = {}
        self.pages: dict[tuple[int, int], Row] = {}
        self.columns: Mapping[str, Columns] = {}

    def fields(self, loader: str) -> Columns:
        return self.columns.get(loader)

    def arguments(self, field: Field) -> dict[str, Any]:
        assert field.node is not None and isinstance(field.definition, GraphQLField)
        return get_argument_values(field.definition, field.node, self.variables)

    async def execute(self, prepared: Prepared) -> dict[str, Any]:
        plan = prepared.plan
        self.columns = prepared.columns
        self.principal = await self.context.require()
        roots: list[tuple[Field, Row | None, Write | None]] = []
        async with read_rows.one_connection():
            for field in plan.fields:
                roots.append(await self.rows(prepared, field))
        data: dict[str, Any] = {}
        for field, row, write in roots:
            if field.kind is Kind.TYPENAME:
                data[field.key] = field.name
            else:
                data[field.key] = None if row is None or write is None else write(self, row, "")
        if self.max_objects is not None and self.objects > self.max_objects:
            raise Fallback("too many objects")
        return data

    async def rows(
        self, prepared: Prepared, field: Field
    ) -> tuple[Field, Row | None, Write | None]:
        """A root field's row, with everything below it loaded, and its writer."""
        row, write, selection = None, prepared.writers.get(field.key), field.selection
        if field.variants:
            variant, row = await self.node(field)
            write, selection = (
                prepared.variants[field.key].get(variant),
                dict(field.variants).get(variant, ()),
            )
        elif field.kind is Kind.RELATION:
            row = await self.root(field)
        if row is not None:
            await self.load(selection, [row])
        return field, row, write

    async def root(self, field: Field) -> Row | None:
        assert self.principal is not None
        actor = self.principal.actor
        if field.name == "viewer":
            viewer: Row | None = (await self.batch("users", {actor.user_id})).get(actor.user_id)
            if viewer is None:
                raise Fallback("no viewer")
            return viewer
        args = self.arguments(field)
        if field.name == "contract":
            return await self.visible_contract(decode_id(args["id"], "Contract"))
        if field.name == "milestone":
            return await self.visible_milestone(decode_id(args["id"], "Milestone"))
        page = await read_rows.contracts_page(
            actor,
            first=_first_page(args),
            status=_enum(ContractStatus, args.get("status")),
            role=_enum(Role, args.get("role")),
            fields=self.fields("contracts_page"),
        )
        return _connection(page.rows, _contract_cursor, page.has_next, page.total)

    async def node(self, field: Field) -> tuple[str, Row | None]:
        """The type and row of `node(id)`; a type the plan has no selection for falls back."""
        decoded = decode_any(self.arguments(field)["id"])
        if decoded is None:
            return "", None
        type_name, pk = decoded
        if type_name == "Contract":
            return type_name, await self.visible_contract(pk)
        if type_name == "Milestone":
            return type_name, await self.visible_milestone(pk)
        if type_name == "User":
            return type_name, (await self.batch("users", {pk})).get(pk)
        raise Fallback(f"node of type {type_name}")

    async def visible_contract(self, contract_id: int | None) -> Row | None:
        assert self.principal is not None
        if contract_id is None:
            return None
        contracts = await self.batch("contracts", {contract_id})
        contract: Row | None = contracts.get(contract_id)
        if contract is None or not reads.can_see(self.principal.actor, ContractRecord(**contract)):
            return None
        return contract

    async def visible_milestone(self, milestone_id: int | None) -> Row | None:
        """A visible milestone, with its contract's currency for its money fields."""
        fields = self.fields("milestone")
        row = await read_rows.milestone(milestone_id, fields) if milestone_id is not None else None
        contract = await self.visible_contract(row["contract_id"]) if row else None
        return {**row, "currency": contract["currency"]} if row and contract else None

    async def load(self, selection: tuple[Field, ...], rows: list[Row]) -> None:
        """Every relation of `selection` for all of `rows` (one statement each), then what
        their own selections need, level by level."""
        relations = [f for f in selection if f.kind is Kind.RELATION and f.relation is not None]
        nested = [f for f in selection if f.kind in (Kind.NESTED, Kind.NESTED_LIST)]
        demands: dict[str, set[Any]] = {}
        for field in relations:
            assert field.relation is not None
            keys = {row[field.relation.key] for row in rows} - {None}
            if field.relation.paged:
                for key in keys:
                    self.pages[(id(field), key)] = await self.page(field, key)
            else:
                demands.setdefault(field.relation.loader, set()).update(keys)
        for loader, keys in demands.items():
            await self.batch(loader, keys)
        for field in relations:
            children = [child for row in rows for child in self.children(field, row)]
            if children:
                await self.load(field.selection, children)
        for field in nested:
            children = [child for row in rows for child in _nested(row[field.name])]
            if children:
                await self.load(field.selection, children)

    async def batch(self, loader: str, keys: set[Any]) -> dict[Any, Any]:
        cached = self.cache.setdefault(loader, {})
        missing = keys - cached.keys()
        if missing:
            cached.update(await self.LOADERS[loader](self, missing))
        return cached

    async def _contracts(self, keys: set[int]) -> dict[int, Row]:
        return await read_rows.contracts(keys)

    async def _users(self, keys: set[int]) -> dict[int, Row]:
        return await read_rows.users(keys, self.fields("users"))

    async def _milestones(self, keys: set[int]) -> dict[int, list[Row]]:
        return await read_rows.milestones(keys, self.fields("milestones"))

    async def _milestones_by_id(self, keys: set[int]) -> dict[int, Row | None]:
        return await read_rows.milestones_by_id(keys, self.fields("milestones_by_id"))

    async def _active(self, keys: set[int]) -> dict[int, Row | None]:
        milestones = await self.batch("milestones", keys)
        return {key: read_rows.active_milestone(milestones[key]) for key in keys}

    async def _escrows(self, keys: set[int]) -> dict[int, Row]:
        milestones = await self.batch("milestones", keys)
        return await read_rows.escrows({key: milestones[key] for key in keys})

    LOADERS: dict[str, Callable[[Run, set[Any]], Awaitable[dict[Any, Any]]]] = {
        "contracts": _contracts,
        "users": _users,
        "milestones": _milestones,
        "milestones_by_id": _milestones_by_id,
        "active_milestone": _active,
        "escrows": _escrows,
    }

    async def page(self, field: Field, contract_id: int) -> Row:
        """A connection of the contract's ledger entries or events, by the field's arguments."""
        assert field.relation is not None
        args = self.arguments(field)
        first, loader = _first_page(args), field.relation.loader
        fields = self.fields(loader)
        if loader == "events":
            events = await read_rows.events_page(contract_id, first=first, fields=fields)
            return _connection(events.rows, _event_cursor, events.has_next, events.total)
        entries = await read_rows.entries_page(contract_id, first=first, fields=fields)
        return _connection(entries.rows, _entry_cursor, entries.has_next, entries.total)

    def children(self, field: Field, row: Row) -> Iterable[Row]:
        return _nested(self.related(field, row))

    def related(self, field: Field, row: Row) -> Any:
        relation: Relation | None = field.relation
        assert relation is not None
        key = row[relation.key]
        if key is None:
            return None
        try:
            if relation.paged:
                return self.pages[(id(field), key)]
            return self.cache[relation.loader][key]
        except KeyError:
            raise Fallback(f"no {relation.loader} row {key}") from None

    def shown(self, user_id: int) -> bool:
        return shows_private(self.principal, user_id)


def _nested(value: Any) -> list[Row]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
