"""A cache of parsed documents whose hook never raises.

strawberry's `ParserCache` parses inside its `on_parse` hook, which strawberry enters outside
the `try` that turns a `GraphQLSyntaxError` into an error result: a syntax error (or a document
over `MaxTokensLimiter`'s limit) then escapes the whole operation, so `ShapeErrors` never gives
it its `extensions.code`, and over WebSocket the operation dies with a logged traceback instead
of an `error` message. This cache keeps only documents that parse. On a syntax error it leaves
the document unset, and strawberry's own parse, a moment later, raises the same error where it
becomes an ordinary result (a refused document is parsed twice; its size is bounded by the
token limit).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import cache, lru_cache

from graphql import DocumentNode, GraphQLError, parse
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
