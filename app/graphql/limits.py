"""Request limits checked before execution: depth, aliases, cost and page sizes.

They run in `on_execute`, where variable values are known, so that `first: $n` counts.
A connection costs `first` times its selection; every other field costs one point.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.graphql.errors import graphql_error
from app.graphql.pagination import DEFAULT_PAGE, MAX_PAGE

CONNECTION_FIELDS = frozenset({"contracts", "events", "entries"})


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_cost: int


class RequestTooLarge(Exception):
    pass


@dataclass
class _Walk:
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    aliases: int = 0
    depth: int = 0

    def cost(self, selection_set: SelectionSetNode | None, depth: int, seen: frozenset[str]) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, depth + 1, seen)
            elif isinstance(selection, InlineFragmentNode):
                total += self.cost(selection.selection_set, depth, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    total += self.cost(fragment.selection_set, depth, seen | {name})
        return total

    def _field(self, node: FieldNode, depth: int, seen: frozenset[str]) -> int:
        if node.name.value.startswith("__"):
            return 0
        self.depth = max(self.depth, depth)
        if node.alias is not None:
            self.aliases += 1
        inner = self.cost(node.selection_set, depth, seen)
        first = self._argument(node, "first")
        if first is not None and (not isinstance(first, int) or not 1 <= first <= MAX_PAGE):
            raise RequestTooLarge(f"first must be between 1 and {MAX_PAGE}")
        if node.name.value in CONNECTION_FIELDS:
            return 1 + (first or DEFAULT_PAGE) * max(inner, 1)
        return 1 + inner

    def _argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                value = value_from_ast_untyped(argument.value, dict(self.variables))
                return None if value is Undefined else value
        return None


def check(operation: OperationDefinitionNode, walk: _Walk, limits: Limits) -> None:
    cost = walk.cost(operation.selection_set, 0, frozenset())
    if walk.depth > limits.max_depth:
        raise RequestTooLarge(f"Query depth {walk.depth} exceeds the limit of {limits.max_depth}")
    if walk.aliases > limits.max_aliases:
        raise RequestTooLarge(f"{walk.aliases} aliases exceed the limit of {limits.max_aliases}")
    if cost > limits.max_cost:
        raise RequestTooLarge(f"Query cost {cost} exceeds the limit of {limits.max_cost}")


def _over_websocket(context: object) -> bool:
    return getattr(context, "connection_params", None) is not None


def request_limits(limits: Limits) -> type[SchemaExtension]:
    class RequestLimits(SchemaExtension):
        def on_execute(self) -> Iterator[None]:
            context = self.execution_context
            if context.operation_type is OperationType.SUBSCRIPTION and not _over_websocket(
                context.context
            ):
                context.result = ExecutionResult(
                    data=None,
                    errors=[
                        graphql_error(
                            "BAD_REQUEST", "Subscriptions are served over WebSocket at /graphql"
                        )
                    ],
                )
                yield
                return
            document = context.graphql_document
            if document is not None:
                fragments = {
                    d.name.value: d
                    for d in document.definitions
                    if isinstance(d, FragmentDefinitionNode)
                }
                operations = [
                    d for d in document.definitions if isinstance(d, OperationDefinitionNode)
                ]
                try:
                    for operation in operations:
                        if (
                            context.operation_name is None
                            or operation.name is None
                            or operation.name.value == context.operation_name
                        ):
                            check(operation, _Walk(fragments, context.variables or {}), limits)
                except RequestTooLarge as error:
                    context.result = ExecutionResult(
                        data=None, errors=[graphql_error("BAD_REQUEST", str(error))]
                    )
            yield

    return RequestLimits
