"""The schema, built from settings (limits), and the exported default."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.extensions import MaxTokensLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext, StreamResult

from app.graphql.compiled.extension import compiled_reads
from app.graphql.compiled.written import WrittenExecution
from app.graphql.context import Context
from app.graphql.errors import ShapeErrors
from app.graphql.leaf_types import User
from app.graphql.limits import Limits, counting_execution, request_limits
from app.graphql.mutation_fields import mutation_type
from app.graphql.mutations import MUTATIONS
from app.graphql.parsing import ParseCache
from app.graphql.queries import Query
from app.graphql.scalars import SCALARS
from app.graphql.sharing import SharedSubscriptions, share_key
from app.graphql.subscriptions import Subscription
from app.graphql.text_inputs import check_text_of_mutations
from app.graphql.types import (
    ChangeRequest,
    ContractEvent,
    Dispute,
    LedgerEntry,
    RefundRequest,
    Submission,
)
from app.graphql.validated import validation_cache

Mutation = mutation_type(MUTATIONS)
check_text_of_mutations(Mutation)


class Schema(strawberry.Schema):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared = SharedSubscriptions()

    def process_errors(self, errors: object, execution_context: object = None) -> None:
        """Errors are shaped and the unexpected ones logged by ShapeErrors."""

    async def stream(self, *args: Any, **kwargs: Any) -> StreamResult:
        """As strawberry's, but live subscriptions of one viewer with one selection share one
        execution (see sharing.py). The arguments are read by their names in strawberry's
        signature and passed on exactly as given, whatever their order or number."""
        run = functools.partial(super().stream, *args, **kwargs)
        call = inspect.signature(run.func).bind(*args, **kwargs).arguments
        context = call.get("context_value")
        viewer = context.viewer_key if isinstance(context, Context) else None
        key = share_key(
            call.get("query"), call.get("variable_values"), call.get("operation_name"), viewer
        )
        if key is None:
            return await run()
        return self.shared.follow(key, run)


def build_schema(limits: Limits | None = None, *, compiled: bool = True) -> Schema:
    """The schema; `compiled` answers the queries the planner covers by their plans
    (`app.graphql.compiled`), the standard executor answering the rest."""
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        ShapeErrors,
        lambda: ParseCache(maxsize=256),
        validation_cache(maxsize=256),
    ]
    if limits is not None:
        # the token limit applies while parsing, before any other stage sees the document
        max_tokens = limits.max_tokens
        extensions.insert(0, lambda: MaxTokensLimiter(max_token_count=max_tokens))
        extensions.append(request_limits(limits))  # after validation: see limits.py
    if compiled:  # last: its on_execute runs once every check has passed
        extensions.append(compiled_reads(limits.max_objects if limits else None))
    # payloads and events written whole by the compiled path reach the response as they are
    base = WrittenExecution if compiled else StrawberryGraphQLCoreExecutionContext
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[User, Submission, LedgerEntry, ContractEvent, ChangeRequest, RefundRequest, Dispute],
        extensions=extensions,
        execution_context_class=counting_execution(limits.max_objects, base) if limits else base,
        config=StrawberryConfig(auto_camel_case=True, scalar_map=SCALARS),
    )


schema = build_schema()
