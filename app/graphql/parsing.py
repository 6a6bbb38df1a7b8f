"""A cache of parsed documents whose hook never raises, and the rule that a document of several
operations names the one to run.

strawberry's `ParserCache` parses inside its `on_parse` hook, which strawberry enters outside
the `try` that turns a `GraphQLSyntaxError` into an error result: a syntax error (or a document
over `MaxTokensLimiter`'s limit) then escapes the whole operation, so `ShapeErrors` never gives
it its `extensions.code`, and over WebSocket the operation dies with a logged traceback instead
of an `error` message. This cache keeps only documents that parse. On a syntax error it leaves
the document unset, and strawberry's own parse, a moment later, raises the same error where it
becomes an ordinary result (a refused document is parsed twice; its size is bounded by the
token limit).

graphql-core refuses a document of several operations without `operationName`, but strawberry
picks the first operation itself before that check; the rule is kept here, once the document
is parsed, for HTTP and WebSocket alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import cache, lru_cache

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, parse
from strawberry.extensions import SchemaExtension


@cache
def _cached_parse(maxsize: int) -> Callable[..., DocumentNode]:
    """One cache per size, shared by every request (an extension is built per request)."""
    return lru_cache(maxsize=maxsize)(parse)


class ParseCache(SchemaExtension):
    def __init__(self, maxsize: int = 256) -> None:
        super().__init__()
        self.parse = _cached_parse(maxsize)

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query and context.graphql_document is None:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = self.parse(context.query, **context.parse_options)
        yield
        document = context.graphql_document
        # `operation_name` itself falls back to the first operation's name once parsed
        if document is not None and not context._provided_operation_name:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > 1:
                raise GraphQLError(
                    "The document holds several operations: name the one to run in operationName",
                    extensions={"code": "BAD_REQUEST"},
                )
