"""The hook of the compiled read path: a schema extension that answers a query by its plan
before the standard executor runs, which strawberry then skips (it executes only while
`execution_context.result` is unset).

It runs in `on_execute`, after every check of `on_validate` (the request limits among them),
so each limit applies as before. A query the planner does not cover, or whose run falls back
(`run.Fallback`, a refusal, the database unavailable just now), leaves the result unset: the
standard executor answers it, errors included, exactly as without this extension.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from graphql import ExecutionResult, GraphQLError, OperationDefinitionNode
from graphql.execution.values import VariableValues, get_variable_values
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from app.graphql.compiled.objects import Kept, flags
from app.graphql.compiled.plan import compile_query
from app.graphql.compiled.run import Fallback, Run
from app.graphql.compiled.write import Prepared, prepare
from app.graphql.context import Context
from app.graphql.errors import ApiError
from app.services.outage import is_unavailable

PLANS_KEPT = 256


class Plans:
    """Compiled plans by document, operation and the Boolean variables (`@skip`/`@include`);
    None for a shape the planner does not cover."""

    def __init__(self, maxsize: int = PLANS_KEPT) -> None:
        self.kept: Kept[Prepared] = Kept(maxsize)

    def plan(self, context: ExecutionContext, variables: VariableValues) -> Prepared | None:
        document = context.graphql_document
        assert document is not None
        key = (context.query, context.operation_name, flags(variables))
        return self.kept.plan(
            key,
            lambda: prepare(
                compile_query(context.schema._schema, document, context.operation_name, variables)
            ),
        )


def _coerced(context: ExecutionContext) -> VariableValues | None:
    assert context.graphql_document is not None
    operation = get_operation_ast(context.graphql_document, context.operation_name)
    if not isinstance(operation, OperationDefinitionNode):
        return None
    coerced = get_variable_values(
        context.schema._schema, operation.variable_definitions or (), context.variables or {}
    )
    return None if isinstance(coerced, list) else coerced


async def answer(
    context: ExecutionContext, plans: Plans, max_objects: int | None
) -> dict[str, Any] | None:
    """The data of the query by its plan, or None if the standard executor must answer."""
    if not isinstance(context.context, Context):
        return None
    variables = _coerced(context)
    plan = plans.plan(context, variables) if variables is not None else None
    if plan is None or variables is None:
        return None
    try:
        return await Run(context.context, variables, max_objects).execute(plan)
    except (Fallback, ApiError, GraphQLError):
        return None
    except Exception as error:
        if is_unavailable(error):
            return None
        raise


def compiled_reads(max_objects: int | None) -> type[SchemaExtension]:
    plans = Plans()

    class CompiledReads(SchemaExtension):
        async def on_execute(self) -> AsyncIterator[None]:
            context = self.execution_context
            if (
                context.result is None
                and not context.pre_execution_errors
                and context.operation_type is OperationType.QUERY
            ):
                data = await answer(context, plans, max_objects)
                if data is not None:
                    context.result = ExecutionResult(data=data)
            yield

    return CompiledReads
