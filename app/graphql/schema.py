"""The schema, built from settings (limits), and the exported default."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import strawberry
from strawberry.extensions import MaxTokensLimiter, SchemaExtension, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StreamResult
from strawberry.types.graphql import OperationType

from app.graphql.accounts import AccountMutation
from app.graphql.context import Context
from app.graphql.errors import ShapeErrors
from app.graphql.limits import Limits, counting_execution, request_limits
from app.graphql.mutations import ContractMutation
from app.graphql.parsing import ParseCache
from app.graphql.queries import Query
from app.graphql.request_mutations import RequestMutation
from app.graphql.request_types import ChangeRequest, Dispute, RefundRequest
from app.graphql.scalars import SCALARS
from app.graphql.sharing import SharedSubscriptions, share_key
from app.graphql.subscriptions import Subscription
from app.graphql.text_inputs import check_text_of_mutations
from app.graphql.types import ContractEvent, LedgerEntry, Submission, User


@strawberry.type
class Mutation(AccountMutation, ContractMutation, RequestMutation):
    pass


check_text_of_mutations(Mutation)


class Schema(strawberry.Schema):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared = SharedSubscriptions()

    def process_errors(self, errors: object, execution_context: object = None) -> None:
        """Errors are shaped and the unexpected ones logged by ShapeErrors."""

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        """As strawberry's, but live subscriptions of one viewer with one selection share one
        execution (see sharing.py)."""
        run = functools.partial(
            super().stream,
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )
        viewer = context_value.viewer_key if isinstance(context_value, Context) else None
        key = share_key(query, variable_values, operation_name, viewer)
        if key is None:
            return await run()
        return self.shared.follow(key, run)


def build_schema(limits: Limits | None = None) -> strawberry.Schema:
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        ShapeErrors,
        lambda: ParseCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ]
    if limits is not None:
        # the token limit applies while parsing, before any other stage sees the document
        max_tokens = limits.max_tokens
        extensions.insert(0, lambda: MaxTokensLimiter(max_token_count=max_tokens))
        extensions.append(request_limits(limits))  # after ValidationCache: see limits.py
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[User, Submission, LedgerEntry, ContractEvent, ChangeRequest, RefundRequest, Dispute],
        extensions=extensions,
        execution_context_class=counting_execution(limits.max_objects) if limits else None,
        config=StrawberryConfig(auto_camel_case=True, scalar_map=SCALARS),
    )


schema = build_schema()
