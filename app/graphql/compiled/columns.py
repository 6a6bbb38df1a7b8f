"""The row fields a plan reads, by loader, so each statement selects only those columns.

A loader's rows must hold what every field of the plan served from them reads: its plain
fields, the keys of its relations, the `id` (global ids, private fields, batches) and what the
run itself needs of them (`KEPT`). The milestones behind a contract's active milestone or
escrow are read whole: those values are the domain's, computed from the full record.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.graphql.compiled.plan import Field, Kind, Plan

Columns = frozenset[str] | None  # None: every field of the record

ROOT_LOADERS: Mapping[str, str] = {
    "contracts": "contracts_page",
    "contract": "contracts",
    "milestone": "milestone",
    "viewer": "users",
}
NODE_LOADERS: Mapping[str, str] = {
    "Contract": "contracts",
    "Milestone": "milestone",
    "User": "users",
}
KEPT: Mapping[str, frozenset[str]] = {
    "contracts_page": frozenset({"created_at", "currency"}),  # the cursor; money below
    "contracts": frozenset({"currency"}),
    "milestone": frozenset({"contract_id"}),  # its contract gives visibility and currency
    "events": frozenset({"sequence"}),  # the cursor
}
_WHOLE = ("contracts", "escrows")  # rows built from whole records
_DERIVED = ("active_milestone", "escrows")  # values computed from a contract's milestones


def _loader(field: Field) -> str:
    return field.relation.loader if field.relation is not None else ROOT_LOADERS[field.name]


def _rows(field: Field) -> tuple[Field, ...]:
    """The selection written from the loader's rows: a connection's nodes, or the field's."""
    paged = field.relation.paged if field.relation is not None else field.name == "contracts"
    if not paged:
        return field.selection
    return tuple(
        n
        for edges in field.selection
        if edges.name == "edges"
        for node in edges.selection
        if node.name == "node"
        for n in node.selection
    )


def _read(selection: tuple[Field, ...]) -> set[str]:
    names = {"id"}
    for field in selection:
        if field.kind is Kind.RELATION and field.relation is not None:
            names.add(field.relation.key)
        elif field.kind in (Kind.LEAF, Kind.MONEY, Kind.SHOWN, Kind.NESTED, Kind.NESTED_LIST):
            names.add(field.name)
    return names


def _add(loader: str, selection: tuple[Field, ...], into: dict[str, set[str]]) -> None:
    into.setdefault(loader, set(KEPT.get(loader, ()))).update(_read(selection))


def _visit(selection: tuple[Field, ...], into: dict[str, set[str]]) -> None:
    for field in selection:
        for type_name, variant in field.variants:
            _add(NODE_LOADERS[type_name], variant, into)
            _visit(variant, into)
        if field.kind is Kind.RELATION and not field.variants:
            _add(_loader(field), _rows(field), into)
        _visit(field.selection, into)


def columns(plan: Plan) -> dict[str, Columns]:
    """The fields each loader of the plan reads (a loader absent here reads every field)."""
    read: dict[str, set[str]] = {}
    _visit(plan.fields, read)
    whole = any(loader in read for loader in _DERIVED)
    return {
        loader: None if loader in _WHOLE or (whole and loader == "milestones") else frozenset(names)
        for loader, names in read.items()
    }
