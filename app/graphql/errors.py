"""The one place where refusals become GraphQL: domain problems become `userErrors`, their
field paths written in camelCase here; credential and request problems become top-level errors
with `extensions.code`; a database that cannot be reached just now is `SERVICE_UNAVAILABLE`
(retry); anything else unexpected is masked as `INTERNAL`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.utils.str_converters import to_camel_case

from app.domain.errors import DomainError
from app.graphql.enums import ErrorCode
from app.graphql.tracebacks import short_traceback
from app.services.outage import is_unavailable

logger = logging.getLogger("app.graphql")

UNAVAILABLE_MESSAGE = "The service is unavailable for a moment; try again"


@strawberry.type(
    description="A business refusal of a mutation (docs/rules.md): the payload's objects are "
    "null and nothing changed."
)
class UserError:
    code: ErrorCode = strawberry.field(description="What was refused; see `UserErrorCode`.")
    message: str = strawberry.field(
        description="A sentence for a person, in English; not meant to be parsed."
    )
    field: list[str] | None = strawberry.field(
        description="The path of the offending value inside `input`, camelCase, list indices "
        'as strings (["milestones", "0", "amount"]); null when no one field is at fault.'
    )


def user_errors(error: DomainError) -> list[UserError]:
    """Each problem as a userError, its field path (the command's python names, or already the
    input's) written as the input's camelCase names; list indices stay as they are."""
    return [
        UserError(
            code=p.code,
            message=p.message,
            field=[to_camel_case(part) for part in p.field] if p.field else None,
        )
        for p in error.problems
    ]


class ApiError(Exception):
    """A top-level error the client is meant to see."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def unauthenticated() -> ApiError:
    return ApiError("UNAUTHENTICATED", "A valid bearer token is required")


def forbidden(message: str = "This token lacks the WRITE scope") -> ApiError:
    return ApiError("FORBIDDEN", message)


def bad_request(message: str) -> ApiError:
    return ApiError("BAD_REQUEST", message)


def graphql_error(code: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def shape_error(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None:
        if not (error.extensions or {}).get("code"):
            error.extensions = {**(error.extensions or {}), "code": "BAD_REQUEST"}
        return error
    if isinstance(original, ApiError):
        return GraphQLError(
            str(original),
            nodes=error.nodes,
            path=error.path,
            positions=error.positions,
            source=error.source,
            extensions={**(error.extensions or {}), "code": original.code},
        )
    if isinstance(original, GraphQLError):
        return shape_error(original)
    if is_unavailable(original):
        logger.warning(
            "Database unavailable at %s (%s: %.120s)", error.path, type(original).__name__, original
        )
        return GraphQLError(
            UNAVAILABLE_MESSAGE,
            nodes=error.nodes,
            path=error.path,
            positions=error.positions,
            extensions={"code": "SERVICE_UNAVAILABLE"},
        )
    logger.error("Unexpected error at %s\n%s", error.path, short_traceback(original))
    return GraphQLError(
        "Internal server error",
        nodes=error.nodes,
        path=error.path,
        positions=error.positions,
        extensions={"code": "INTERNAL"},
    )


class ShapeErrors(SchemaExtension):
    """Give every error an `extensions.code` and mask the unexpected ones."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [shape_error(e) for e in result.errors]

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each event of a subscription."""
        if getattr(result, "errors", None):
            result.errors = [shape_error(e) for e in result.errors]
        yield
