"""A subscription's events written by the compiled read path (`objects`): the event's row is
the record the subscription read (a contract event, a milestone), with its contract's currency;
what the selection reads below it is loaded for each event, or once for every subscriber of a
contract's feed that shares the plan (and, if it shows private fields, the viewer)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, MutableMapping
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, get_named_type

from app.graphql.compiled.objects import UNWRITTEN, Kept, Objects, compiler, resolve_info
from app.graphql.compiled.plan import Field, Kind
from app.graphql.compiled.written import Written, writes_whole
from app.graphql.context import Info
from app.services import read_rows
from app.services.accounts import Principal
from app.services.read_rows import Row

_PLANS: Kept[Objects] = Kept()


def _compile(info: GraphQLResolveInfo[Any]) -> Objects:
    target = get_named_type(info.return_type)
    assert isinstance(target, GraphQLObjectType)
    selection = compiler(info).selection(target, info.field_nodes, in_list=False)
    return Objects.of((Field(str(info.path.key), Kind.NESTED, target.name, selection=selection),))


def event_plan(info: Info) -> Objects | None:
    """The plan of the subscription field's events, or None to build them as objects."""
    field = resolve_info(info)
    if not writes_whole(field):
        return None
    return _PLANS.of_field(field, lambda: _compile(field))


async def write_event(
    plan: Objects,
    info: Info,
    record: object,
    currency: str,
    standard: Callable[[], object],
    shared: MutableMapping[Hashable, Any] | None = None,
) -> object:
    """The event of `record` written, or the object `standard` builds if the run leaves it to
    the standard executor (`UNWRITTEN`). `shared`, a contract feed's, keeps the written event
    (while it is being written too) for the other subscribers of that read with this plan
    (and this viewer, if the plan shows private fields)."""
    principal = await info.context.principal() if plan.private else None
    row = {**vars(record), "currency": currency}
    if shared is None:
        written = await _write(plan, info, principal, row)
    else:
        viewer = (principal.user_id, principal.is_admin) if principal else None
        key = (plan, getattr(record, "sequence", None), viewer)
        kept = shared.get(key)
        if kept is None:
            kept = shared[key] = asyncio.ensure_future(_write(plan, info, principal, row))
        # shielded: a subscriber that goes away must not cancel the others' write
        written = await asyncio.shield(kept)
    return standard() if written is None else written


async def _write(
    plan: Objects, info: Info, principal: Principal | None, row: Row
) -> Written | None:
    run = plan.start(info, principal)
    root = plan.roots[0].key
    try:
        async with read_rows.one_connection():
            written = await plan.write(run, {root: row})
    except UNWRITTEN:
        return None
    return Written(written[root], run.objects)
