"""A mutation's payload written by the compiled read path (`objects`): its `contract` is the
contract the outcome names and its `milestone` the milestone, each if the caller sees it (as
`queries.visible_contract` and `visible_milestone` decide for the standard payload shapes), and
its `userErrors` the problems of a refusal. A payload selecting any other field is not covered:
its shape's `read` builds it, and graphql-core completes it as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLList,
    GraphQLObjectType,
    GraphQLResolveInfo,
    get_named_type,
    get_nullable_type,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter

from app.domain.errors import DomainError
from app.graphql.compiled.objects import UNWRITTEN, Kept, Objects, compiler, resolve_info
from app.graphql.compiled.plan import Compiler, Field, Kind, NotCovered
from app.graphql.compiled.written import Written, writes_whole
from app.graphql.context import Info
from app.graphql.errors import UserError, user_errors
from app.services import read_rows
from app.services.accounts import Principal
from app.services.read_rows import Row
from app.services.unit import Outcome

TYPENAME = "__typename"
ERRORS = "userErrors"
OBJECTS = ("contract", "milestone")  # read by the outcome's ids


def outcome_errors(outcome: Outcome) -> list[UserError]:
    return user_errors(DomainError(outcome.problems)) if outcome.problems else []


@dataclass(frozen=True)
class _ErrorField:
    """A field of a userError: `__typename` (`name` None, `value` the type's name), or the
    python field `name` whose value, or each item of it (`many`), `value` serializes."""

    key: str
    name: str | None
    value: Any
    many: bool = False

    def write(self, error: UserError) -> Any:
        if self.name is None:
            return self.value
        serialize: Callable[[Any], Any] = self.value
        value = getattr(error, self.name)
        if value is None:
            return None
        return [serialize(item) for item in value] if self.many else serialize(value)


def _error_fields(
    compile: Compiler, error_type: GraphQLObjectType, nodes: list[FieldNode]
) -> tuple[_ErrorField, ...]:
    grouped: dict[str, list[FieldNode]] = {}
    for node in nodes:
        if node.selection_set is not None:
            compile.collect(error_type, node.selection_set, grouped)
    fields = []
    for key, found in grouped.items():
        name = found[0].name.value
        if name == TYPENAME:
            fields.append(_ErrorField(key, None, error_type.name))
            continue
        definition = error_type.fields[name]
        python_name = definition.extensions[GraphQLCoreConverter.DEFINITION_BACKREF].python_name
        many = isinstance(get_nullable_type(definition.type), GraphQLList)
        serialize = get_named_type(definition.type).serialize
        fields.append(_ErrorField(key, python_name, serialize, many))
    return tuple(fields)


@dataclass(frozen=True)
class PayloadPlan:
    """The payload's response keys in order, each with its field's name (and, for userErrors,
    what each error writes), and the writers of its objects."""

    type_name: str
    keys: tuple[tuple[str, str, tuple[_ErrorField, ...]], ...]
    objects: Objects

    async def write(
        self,
        info: Info,
        principal: Principal | None,
        outcome: Outcome | None,
        errors: list[UserError],
    ) -> Written | None:
        """The payload of `outcome` (None for a refusal, which touched nothing), its reads on
        one connection; None if the payload shape must build it (`UNWRITTEN`)."""
        run = self.objects.start(info, principal)
        rows: dict[str, Row | None] = {}
        try:
            async with read_rows.one_connection():
                for root in self.objects.roots if outcome is not None else ():
                    assert outcome is not None
                    if root.name == "contract":
                        rows[root.key] = await run.visible_contract(outcome.contract_id)
                    else:
                        rows[root.key] = await run.visible_milestone(outcome.milestone_id)
                objects = await self.objects.write(run, rows)
        except UNWRITTEN:
            return None
        data: dict[str, Any] = {}
        for key, name, error_fields in self.keys:
            if name == TYPENAME:
                data[key] = self.type_name
            elif name == ERRORS:
                data[key] = [{f.key: f.write(e) for f in error_fields} for e in errors]
            else:
                data[key] = objects[key]
        return Written(data)


def _compile(info: GraphQLResolveInfo[Any]) -> PayloadPlan:
    payload = get_named_type(info.return_type)
    assert isinstance(payload, GraphQLObjectType)
    compile = compiler(info)
    grouped: dict[str, list[FieldNode]] = {}
    for node in info.field_nodes:
        if node.selection_set is not None:
            compile.collect(payload, node.selection_set, grouped)
    keys, roots = [], []
    for key, nodes in grouped.items():
        name = nodes[0].name.value
        error_fields: tuple[_ErrorField, ...] = ()
        if name in OBJECTS:
            target = get_named_type(payload.fields[name].type)
            assert isinstance(target, GraphQLObjectType)
            selection = compile.selection(target, nodes, in_list=False)
            roots.append(Field(key, Kind.NESTED, name, selection=selection))
        elif name == ERRORS:
            error_type = get_named_type(payload.fields[name].type)
            assert isinstance(error_type, GraphQLObjectType)
            error_fields = _error_fields(compile, error_type, nodes)
        elif name != TYPENAME:
            raise NotCovered(f"{payload.name}.{name}")
        keys.append((key, name, error_fields))
    return PayloadPlan(payload.name, tuple(keys), Objects.of(tuple(roots)))


_PLANS: Kept[PayloadPlan] = Kept()


def payload_plan(info: Info) -> PayloadPlan | None:
    """The compiled payload of the mutation field being resolved, or None to build it by its
    shape (a selection not covered, or a schema whose execution would complete it anew)."""
    field = resolve_info(info)
    if not writes_whole(field):
        return None
    return _PLANS.of_field(field, lambda: _compile(field))
