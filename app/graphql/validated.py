"""A cache of validation verdicts keyed by the document's text, not by its syntax tree.

strawberry's `ValidationCache` keys its LRU by the parsed `DocumentNode`, whose hash walks
the whole tree on every request (graphql-core hashes a node by its fields, recursively): for a
known document that walk costs more than the rest of the cache look-up. The text the document
was parsed from names it as well (`ParseCache` keys the tree by it), so it keys this cache; a
document without text (none is parsed here) is validated every time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document


class _Verdicts:
    """A bounded LRU of validation errors (an empty list: valid) by text and rules."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.kept: OrderedDict[Hashable, list[GraphQLError]] = OrderedDict()

    def get(self, key: Hashable) -> list[GraphQLError] | None:
        errors = self.kept.get(key)
        if errors is not None:
            self.kept.move_to_end(key)
        return errors

    def put(self, key: Hashable, errors: list[GraphQLError]) -> None:
        self.kept[key] = errors
        if len(self.kept) > self.maxsize:
            self.kept.popitem(last=False)


def validation_cache(maxsize: int) -> type[SchemaExtension]:
    """An extension class whose instances (one per request) share one cache."""
    verdicts = _Verdicts(maxsize)

    class ValidatedDocuments(SchemaExtension):
        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            document = context.graphql_document
            assert document is not None
            schema, rules = context.schema._schema, context.validation_rules
            key = (id(schema), context.query, rules) if context.query is not None else None
            errors = verdicts.get(key) if key is not None else None
            if errors is None:
                errors = validate_document(schema, document, rules)
                if key is not None:
                    verdicts.put(key, errors)
            context.pre_execution_errors = errors
            yield

    return ValidatedDocuments
