"""One rule for every text a mutation receives: text no database stores (see domain/text.py)
is an `INVALID_INPUT` userError on its field, with its path inside `input`
(docs/rules.md#how-a-refusal-is-reported, list
indices as strings: `["milestones", "1", "title"]`), before the resolver runs.

Strings reach the resolvers through the `String`, `ID` and `Decimal` scalars, in input objects
and lists nested to any depth; checking each service's fields one by one would miss the next
field added, so the check walks the converted arguments of every mutation instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver
from strawberry.schema.name_converter import NameConverter
from strawberry.types.base import StrawberryObjectDefinition, has_object_definition

from app.domain.errors import DomainError, ErrorCode, Problem
from app.domain.text import UNSTORABLE_MESSAGE, is_storable
from app.graphql.context import Info
from app.graphql.errors import user_errors
from app.graphql.mutations import ANONYMOUS_MUTATIONS


def unstorable_paths(value: Any, path: list[str], names: NameConverter) -> Iterator[list[str]]:
    """The path of every string in an argument value that no database stores."""
    if isinstance(value, str):
        if not is_storable(value):
            yield path
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unstorable_paths(item, [*path, str(index)], names)
    elif has_object_definition(value):
        definition: StrawberryObjectDefinition = value.__strawberry_definition__
        for field in definition.fields:
            inner = getattr(value, field.python_name, None)
            yield from unstorable_paths(inner, [*path, names.get_graphql_name(field)], names)


class StorableText(FieldExtension):
    """On a mutation: refuse text no database stores with the field's own payload type."""

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any
    ) -> Any:
        names = info.schema.config.name_converter
        problems = [
            Problem(ErrorCode.INVALID_INPUT, UNSTORABLE_MESSAGE, tuple(path))
            for argument, value in kwargs.items()
            for path in unstorable_paths(value, [] if argument == "input" else [argument], names)
        ]
        if not problems:
            return await next_(source, info, **kwargs)
        if info.field_name not in ANONYMOUS_MUTATIONS:  # credentials are answered before input
            await info.context.require(write=True)
        payload: Any = info.return_type
        return payload(user_errors=user_errors(DomainError(problems)))


def check_text_of_mutations(mutation: type) -> None:
    """Put the check on every field of the Mutation type (once, however often it is built)."""
    assert has_object_definition(mutation)
    for field in mutation.__strawberry_definition__.fields:
        if not any(isinstance(extension, StorableText) for extension in field.extensions):
            field.extensions.append(StorableText())
