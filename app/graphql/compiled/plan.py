"""A query operation compiled into a plan: for each response key, in the order the standard
executor writes them, how its value is made from a row.

Plain fields (those without a resolver) are classified from the strawberry type definitions
and the schema: a field is read from the row's field of its python name, a `Money` field from
its cents, a Node's `id` is its global id, a nested object or list of objects is compiled in
turn. A field with a resolver is covered only if its strawberry field carries a `relation` or
`private` mark (`app.graphql.compiled.relation`). Anything else (an
unknown field, introspection, a root field other than `ROOTS`, a mutation or subscription) is
`NotCovered`, and the operation runs through the standard executor.

Fragments and `@skip`/`@include` are applied as graphql-core's `collect_fields` applies them,
so the plan depends on the values of Boolean variables too: they are part of its cache key.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLList,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.values import VariableValues, get_directive_values
from graphql.utilities import get_operation_ast
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from app.graphql.compiled.relation import PRIVATE, RELATION, Relation


class NotCovered(Exception):
    """The planner does not know this shape: the standard executor runs the operation."""


class Kind(enum.Enum):
    TYPENAME = "typename"
    ID = "id"
    LEAF = "leaf"
    MONEY = "money"
    NESTED = "nested"
    NESTED_LIST = "nested_list"
    SHOWN = "shown"  # a user's private field: its value for the user and admins, else null
    RELATION = "relation"


ROOTS = frozenset({"contracts", "contract", "milestone", "viewer", "node"})
NODE_TYPES = ("Contract", "Milestone", "User")  # `node(id)` of another type: standard executor


@dataclass(frozen=True)
class Field:
    key: str
    kind: Kind
    name: str  # the row's field; for TYPENAME the type's name; for ID the node type's
    serialize: Callable[[Any], Any] | None = None
    selection: tuple[Field, ...] = ()
    relation: Relation | None = None
    node: FieldNode | None = None  # for a relation's arguments
    definition: GraphQLField | None = None
    variants: tuple[tuple[str, tuple[Field, ...]], ...] = ()  # `node`: a selection per type


@dataclass(frozen=True)
class Plan:
    """The root fields of a query: each a `ROOTS` name, or `__typename`."""

    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Compiler:
    """Selections compiled into fields, with the document's fragments and the request's
    variables (for `@skip`/`@include`)."""

    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: VariableValues

    def included(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip["if"] is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and include["if"] is False)

    def applies(self, condition: str | None, parent: GraphQLObjectType) -> bool:
        if condition is None or condition == parent.name:
            return True
        named = self.schema.get_type(condition)
        return is_abstract_type(named) and self.schema.is_sub_type(named, parent)

    def collect(
        self,
        parent: GraphQLObjectType,
        selection_set: SelectionSetNode,
        into: dict[str, list[FieldNode]],
    ) -> None:
        for selection in selection_set.selections:
            if not self.included(selection):  # type: ignore[arg-type]
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                into.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if self.applies(condition.name.value if condition else None, parent):
                    self.collect(parent, selection.selection_set, into)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                if self.applies(fragment.type_condition.name.value, parent):
                    self.collect(parent, fragment.selection_set, into)

    def selection(
        self, parent: GraphQLObjectType, nodes: list[FieldNode], in_list: bool
    ) -> tuple[Field, ...]:
        grouped: dict[str, list[FieldNode]] = {}
        for node in nodes:
            if node.selection_set is not None:
                self.collect(parent, node.selection_set, grouped)
        return tuple(self.field(parent, key, fields, in_list) for key, fields in grouped.items())

    def field(
        self, parent: GraphQLObjectType, key: str, nodes: list[FieldNode], in_list: bool
    ) -> Field:
        name = nodes[0].name.value
        if name == "__typename":
            return Field(key, Kind.TYPENAME, parent.name)
        definition = parent.fields.get(name)
        if definition is None:
            raise NotCovered(name)
        declared = definition.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
        assert isinstance(declared, StrawberryField)
        path = f"{parent.name}.{name}"
        relation = declared.metadata.get(RELATION)
        if isinstance(relation, Relation):
            if relation.paged and in_list:
                raise NotCovered(path)
            target = get_named_type(definition.type)
            many = isinstance(get_nullable_type(definition.type), GraphQLList)
            assert isinstance(target, GraphQLObjectType)
            return Field(
                key,
                Kind.RELATION,
                declared.python_name,
                selection=self.selection(target, nodes, in_list or many),
                relation=relation,
                node=nodes[0],
                definition=definition,
            )
        if declared.metadata.get(PRIVATE):
            return Field(key, Kind.SHOWN, declared.python_name)
        if declared.base_resolver is not None or nodes[0].arguments:
            raise NotCovered(path)
        return self.plain(parent, key, nodes, definition, declared.python_name, in_list)

    def plain(
        self,
        parent: GraphQLObjectType,
        key: str,
        nodes: list[FieldNode],
        definition: GraphQLField,
        name: str,
        in_list: bool,
    ) -> Field:
        target = get_named_type(definition.type)
        if name == "id" and any(i.name == "Node" for i in parent.interfaces):
            return Field(key, Kind.ID, parent.name)
        if isinstance(get_nullable_type(definition.type), GraphQLList):
            if not isinstance(target, GraphQLObjectType):
                raise NotCovered(f"{parent.name}.{name}")
            return Field(key, Kind.NESTED_LIST, name, selection=self.selection(target, nodes, True))
        if is_leaf_type(target):
            return Field(key, Kind.LEAF, name, serialize=target.serialize)
        assert isinstance(target, GraphQLObjectType)
        kind = Kind.MONEY if target.name == "Money" else Kind.NESTED
        return Field(key, kind, name, selection=self.selection(target, nodes, in_list))


def compile_query(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: VariableValues,
) -> Plan:
    """The plan of the operation, given its coerced variables; raises `NotCovered`."""
    operation = get_operation_ast(document, operation_name)
    if not isinstance(operation, OperationDefinitionNode) or (
        operation.operation is not OperationType.QUERY
    ):
        raise NotCovered("not a query")
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    compiler = Compiler(schema, fragments, variables)
    root = schema.query_type
    assert root is not None
    grouped: dict[str, list[FieldNode]] = {}
    compiler.collect(root, operation.selection_set, grouped)
    fields = []
    for key, nodes in grouped.items():
        name = nodes[0].name.value
        if name == "__typename":
            fields.append(Field(key, Kind.TYPENAME, root.name))
            continue
        if name not in ROOTS:
            raise NotCovered(name)
        fields.append(_root(compiler, key, nodes, root.fields[name]))
    return Plan(tuple(fields))


def _root(compiler: Compiler, key: str, nodes: list[FieldNode], definition: GraphQLField) -> Field:
    """A root field; `node` with a selection for each of `NODE_TYPES`."""
    name = nodes[0].name.value
    types = NODE_TYPES if name == "node" else (get_named_type(definition.type).name,)
    selections = []
    for type_name in types:
        target = compiler.schema.get_type(type_name)
        assert isinstance(target, GraphQLObjectType)
        selections.append((type_name, compiler.selection(target, nodes, in_list=False)))
    field = Field(key, Kind.RELATION, name, node=nodes[0], definition=definition)
    if name == "node":
        return replace(field, variants=tuple(selections))
    return replace(field, selection=selections[0][1])
