"""Request limits: tokens at parse time, then depth, aliases, cost and nodes before execution,
and a count of the objects really built during it.

Where they run, and why there: strawberry's `MaxTokensLimiter` caps the document while it is
parsed, before anything else looks at it. The other limits run in `on_validate`, once the
document is known to be valid: strawberry runs that stage for every operation (queries,
mutations and subscriptions, over HTTP and over both WebSocket subprotocols), and an error put
in `pre_execution_errors` there stops the operation before execution on every one of those
paths. (`on_execute` cannot: strawberry starts a subscription even after an extension set a
result there.) Variable values are known at that stage, so `first: $n` counts.

What they count, over the whole operation with its fragments expanded:
- depth: the root field is 1, a leaf counts too;
- aliases: every aliased field, introspection ones (`__typename`, `__schema`) included;
- cost (docs/limits.md#request-limits): a connection costs `first` times its selection, any other
field 1;
- nodes: as cost, but a plain list also multiplies its selection by the most items it can
  hold (`list_sizes`, which are enforced on write or fixed by the schema), so that what a
  response can build is bounded whatever the data, as GitHub's API bounds it. Introspection
  lists count once: their length is the schema's, and the object count below bounds them.
Each fragment is walked once per operation and its figures reused wherever it is spread, so
the walk is linear in the size of the document, however its fragments nest. Its verdict is
kept (`app.graphql.verdicts`, a bounded LRU) by document text, operation name and the values of the
variables the walk read (those in `first`/`last`), so a document seen before is not walked.

During execution `counting_execution(max_objects)` counts the items of every list as it is
completed and stops a query, or one event of a subscription, past `max_objects`: the node
count allows the worst case that the caps permit, which is far above what requests build, and
this keeps an accepted request from running long. Mutations are not stopped there (their
change is made by then); the node count bounds them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    value_from_ast_untyped,
)
from graphql.language import OperationType as AstOperationType
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.graphql import OperationType

from app.domain.changes import MAX_CHANGES
from app.domain.events import EventType
from app.domain.milestones import MAX_SUBMISSIONS
from app.domain.notifications import NotificationType
from app.domain.policy import Policy
from app.domain.requests import MAX_CHANGE_REQUESTS, MAX_REFUND_REQUESTS
from app.domain.work import MAX_ATTACHMENTS
from app.graphql.compiled.written import Written
from app.graphql.errors import graphql_error
from app.graphql.pagination import DEFAULT_PAGE, MAX_PAGE
from app.graphql.verdicts import Verdicts
from app.services.webhooks import MAX_ENDPOINTS

MAX_TOKENS = 10_000
MAX_QUERY_NODES = 500_000
MAX_OBJECTS = 10_000
# A list that no write caps (a user's API tokens, a payload's userErrors) counts as a full
# page; the object count stops whatever is really larger.
UNCAPPED_LIST = MAX_PAGE
PAGE_ARGUMENTS = ("first", "last")


def list_sizes(max_milestones: int) -> dict[str, int]:
    """The most items each plain list field of the schema holds, by `Type.field`."""
    return {
        "Contract.milestones": max_milestones,
        "Milestone.submissions": MAX_SUBMISSIONS,
        "Submission.attachments": MAX_ATTACHMENTS,
        "ChangeRequest.changes": MAX_CHANGES,
        "Contract.changeRequests": MAX_CHANGE_REQUESTS,
        "Milestone.refundRequests": MAX_REFUND_REQUESTS,
        "Query.apiTokens": UNCAPPED_LIST,
        "Query.nodes": MAX_PAGE,  # ids per call: queries.MAX_NODES
        "ApiToken.scopes": UNCAPPED_LIST,
        "UserError.field": UNCAPPED_LIST,
        "User.notificationSettings": len(NotificationType),
        "UpdateNotificationSettingsPayload.notificationSettings": len(NotificationType),
        "User.webhookEndpoints": MAX_ENDPOINTS,
        "WebhookEndpoint.eventTypes": len(EventType),
        "*.userErrors": UNCAPPED_LIST,  # on every payload
    }


@dataclass(frozen=True)
class Limits:
    max_depth: int = 15
    max_aliases: int = 50
    max_cost: int = 5000
    max_nodes: int = MAX_QUERY_NODES
    max_tokens: int = MAX_TOKENS
    max_objects: int = MAX_OBJECTS
    max_milestones: int = Policy().max_milestones_per_contract


class RequestTooLarge(Exception):
    pass


@dataclass(frozen=True)
class _Figures:
    cost: int = 0
    nodes: int = 0
    depth: int = 0
    aliases: int = 0

    def __add__(self, other: _Figures) -> _Figures:
        return _Figures(
            self.cost + other.cost,
            self.nodes + other.nodes,
            max(self.depth, other.depth),
            self.aliases + other.aliases,
        )


_NOTHING = _Figures()


@dataclass
class _Walk:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    list_size: Mapping[str, int]
    memo: dict[str, _Figures] = field(default_factory=dict)
    read: set[str] = field(default_factory=set)  # the variables the figures depend on

    def selections(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None
    ) -> _Figures:
        if selection_set is None:
            return _NOTHING
        total = _NOTHING
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment(selection.name.value)
        return total

    def _fragment(self, name: str) -> _Figures:
        if name not in self.memo:
            fragment = self.fragments.get(name)
            if fragment is None:
                return _NOTHING
            self.memo[name] = _NOTHING  # a cycle (refused by validation) adds nothing
            condition = self.schema.get_type(fragment.type_condition.name.value)
            self.memo[name] = self.selections(fragment.selection_set, condition)
        return self.memo[name]

    def _field(self, node: FieldNode, parent: GraphQLNamedType | None) -> _Figures:
        name = node.name.value
        inner_type, is_list = self._type_of(parent, name)
        inner = self.selections(node.selection_set, inner_type)
        page = self._page(node)
        depth = 1 + inner.depth
        aliases = inner.aliases + (1 if node.alias is not None else 0)
        if inner_type is not None and inner_type.name.endswith("Connection"):
            cost = 1 + page * max(inner.cost, 1)
            return _Figures(cost, 1 + page * max(inner.nodes, 1), depth, aliases)
        if is_list:
            nodes = 1 + self._list_size(parent, name) * max(inner.nodes, 1)
        else:
            nodes = 1 + inner.nodes
        return _Figures(1 + inner.cost, nodes, depth, aliases)

    def _type_of(
        self, parent: GraphQLNamedType | None, name: str
    ) -> tuple[GraphQLNamedType | None, bool]:
        if name == "__schema":
            return self.schema.get_type("__Schema"), False
        if name == "__type":
            return self.schema.get_type("__Type"), False
        fields = getattr(parent, "fields", None) or {}
        definition = fields.get(name)
        if definition is None:
            return None, False
        return get_named_type(definition.type), isinstance(
            get_nullable_type(definition.type), GraphQLList
        )

    def _list_size(self, parent: GraphQLNamedType | None, name: str) -> int:
        if parent is None:
            return UNCAPPED_LIST
        if parent.name.startswith("__"):
            return 1  # introspection: the schema's size, not the data's; see max_objects
        if name == "edges" and parent.name.endswith("Connection"):
            return 1  # the connection field counted its page already
        size = self.list_size.get(f"{parent.name}.{name}", self.list_size.get(f"*.{name}"))
        return UNCAPPED_LIST if size is None else size

    def _page(self, node: FieldNode) -> int:
        page: int | None = None
        for argument in node.arguments or ():
            if argument.name.value not in PAGE_ARGUMENTS:
                continue
            self.read.update(_variable_names(argument.value))
            value = value_from_ast_untyped(argument.value, dict(self.variables))
            if value is Undefined or value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_PAGE:
                raise RequestTooLarge(f"{argument.name.value} must be between 1 and {MAX_PAGE}")
            page = max(page or 0, value)
        return page or DEFAULT_PAGE


def _variable_names(value: ValueNode) -> Iterator[str]:
    if isinstance(value, VariableNode):
        yield value.name.value
    for inner in getattr(value, "values", None) or ():  # a list
        yield from _variable_names(inner)
    for pair in getattr(value, "fields", None) or ():  # an object
        yield from _variable_names(pair.value)


def _variables(operation: OperationDefinitionNode, given: Mapping[str, Any]) -> dict[str, Any]:
    """The values the operation runs with: the given ones over the declared defaults."""
    defaults = {
        d.variable.name.value: value_from_ast_untyped(d.default_value)
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }
    return {**defaults, **given}


def check(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    limits: Limits,
    read: set[str] | None = None,
) -> None:
    """Refuses an operation over a limit, adding to `read` the variables the walk read."""
    root = {
        AstOperationType.QUERY: schema.query_type,
        AstOperationType.MUTATION: schema.mutation_type,
        AstOperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    walk = _Walk(
        schema,
        fragments,
        _variables(operation, variables),
        list_sizes(limits.max_milestones),
        read=set() if read is None else read,
    )
    figures = walk.selections(operation.selection_set, root)
    if figures.depth > limits.max_depth:
        raise RequestTooLarge(
            f"Query depth {figures.depth} exceeds the limit of {limits.max_depth}"
        )
    if figures.aliases > limits.max_aliases:
        raise RequestTooLarge(f"{figures.aliases} aliases exceed the limit of {limits.max_aliases}")
    if figures.cost > limits.max_cost:
        raise RequestTooLarge(f"Query cost {figures.cost} exceeds the limit of {limits.max_cost}")
    if figures.nodes > limits.max_nodes:
        raise RequestTooLarge(
            f"The query could return up to {figures.nodes} nodes, over the limit of"
            f" {limits.max_nodes}: ask for fewer nested lists"
        )


def _over_websocket(context: object) -> bool:
    return getattr(context, "connection_params", None) is not None


class TooManyObjects(GraphQLError):
    def __init__(self, max_objects: int) -> None:
        super().__init__(
            f"The response would hold more than {max_objects} objects: ask for fewer nested"
            " lists or smaller pages",
            extensions={"code": "BAD_REQUEST"},
        )


def counting_execution(
    max_objects: int,
    base: type[StrawberryGraphQLCoreExecutionContext] = StrawberryGraphQLCoreExecutionContext,
) -> type[StrawberryGraphQLCoreExecutionContext]:
    """graphql-core's execution (`base`'s), counting the items of every list it completes and
    the objects of every value written whole (`Written`)."""

    class CountingExecution(base):  # type: ignore[valid-type,misc]
        objects = 0

        def wrote(self, written: Written, info: GraphQLResolveInfo[Any]) -> None:
            if info.operation.operation is not AstOperationType.MUTATION:
                self.objects += written.objects
                if self.objects > max_objects:
                    raise TooManyObjects(max_objects)

        def complete_list_value(
            self,
            return_type: GraphQLList[Any],
            field_details_list: Any,
            info: GraphQLResolveInfo[Any],
            path: Any,
            result: Any,
            position_context: Any,
        ) -> Any:
            if isinstance(result, list | tuple) and (
                info.operation.operation is not AstOperationType.MUTATION
            ):
                self.objects += len(result)
                if self.objects > max_objects:
                    raise TooManyObjects(max_objects)
            return super().complete_list_value(
                return_type, field_details_list, info, path, result, position_context
            )

        def execute_fields(self, *args: Any) -> Any:
            """Once stopped, no object has its fields resolved any more."""
            if self.objects > max_objects:
                raise TooManyObjects(max_objects)
            return super().execute_fields(*args)

    return CountingExecution


def _stopped(result: Any) -> TooManyObjects | None:
    for error in getattr(result, "errors", None) or ():
        for candidate in (error, error.original_error):
            if isinstance(candidate, TooManyObjects):
                return candidate
    return None


def request_limits(limits: Limits) -> type[SchemaExtension]:
    kept = Verdicts()

    class RequestLimits(SchemaExtension):
        def on_validate(self) -> Iterator[None]:
            """Runs once validation (`validated.py`, listed before this extension) found the
            document valid."""
            context = self.execution_context
            if not context.pre_execution_errors and context.graphql_document is not None:
                refusal = self._refusal()
                if refusal is not None:
                    context.pre_execution_errors = [graphql_error("BAD_REQUEST", refusal)]
            yield

        def _refusal(self) -> str | None:
            context = self.execution_context
            if context.operation_type is OperationType.SUBSCRIPTION and not _over_websocket(
                context.context
            ):
                return "Subscriptions are served over WebSocket at /graphql"
            if context.query is None:
                return self._walked(set())
            document = (context.query, context.operation_name)
            return kept.verdict(document, context.variables or {}, self._walked)

        def _walked(self, read: set[str]) -> str | None:
            context = self.execution_context
            document = context.graphql_document
            assert document is not None
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            try:
                for operation in document.definitions:
                    if isinstance(operation, OperationDefinitionNode) and (
                        context.operation_name is None
                        or operation.name is None
                        or operation.name.value == context.operation_name
                    ):
                        check(
                            context.schema._schema,
                            operation,
                            fragments,
                            context.variables or {},
                            limits,
                            read,
                        )
            except RequestTooLarge as error:
                return str(error)
            return None

        def on_operation(self) -> Iterator[None]:
            yield
            self._refuse_if_stopped(self.execution_context.result)

        def on_stream_result(self, result: Any) -> Iterator[None]:
            self._refuse_if_stopped(result)
            yield

        @staticmethod
        def _refuse_if_stopped(result: Any) -> None:
            """A query stopped at `max_objects` answers with that one error and no data."""
            stopped = _stopped(result)
            if stopped is not None:
                result.data = None
                result.errors = [stopped]

    return RequestLimits
