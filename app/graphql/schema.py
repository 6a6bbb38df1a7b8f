"""The schema, built from settings (limits), and the exported default."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.schema.config import StrawberryConfig

from app.graphql.accounts import AccountMutation
from app.graphql.errors import ShapeErrors
from app.graphql.limits import Limits, request_limits
from app.graphql.mutations import ContractMutation
from app.graphql.queries import Query
from app.graphql.request_mutations import RequestMutation
from app.graphql.request_types import ChangeRequest, Dispute, RefundRequest
from app.graphql.scalars import SCALARS
from app.graphql.subscriptions import Subscription
from app.graphql.types import ContractEvent, LedgerEntry, Submission, User


@strawberry.type
class Mutation(AccountMutation, ContractMutation, RequestMutation):
    pass


class Schema(strawberry.Schema):
    def process_errors(self, errors: object, execution_context: object = None) -> None:
        """Errors are shaped and the unexpected ones logged by ShapeErrors."""


def build_schema(limits: Limits | None = None) -> strawberry.Schema:
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        ShapeErrors,
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ]
    if limits is not None:
        extensions.append(request_limits(limits))
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[User, Submission, LedgerEntry, ContractEvent, ChangeRequest, RefundRequest, Dispute],
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True, scalar_map=SCALARS),
    )


schema = build_schema()
