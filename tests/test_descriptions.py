"""The schema documents itself (issue 10, point 8): every type, field, argument, input field
and enum value a client developer can introspect carries a description, and the scalars of a
defined format name its specification by `@specifiedBy`."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    get_introspection_query,
)

from app.graphql.schema import schema
from tests.api.client import Api

GRAPHQL_SCHEMA = schema._schema


def _described(description: str | None) -> bool:
    return description is not None and description.strip() != ""


def missing_descriptions() -> list[str]:
    """Every element of the served schema (not introspection's own) without a description."""
    missing: list[str] = []
    for name, named in GRAPHQL_SCHEMA.type_map.items():
        if name.startswith("__"):
            continue
        if not _described(named.description):
            missing.append(name)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                if not _described(field.description):
                    missing.append(f"{name}.{field_name}")
                missing.extend(
                    f"{name}.{field_name}({argument_name}:)"
                    for argument_name, argument in field.args.items()
                    if not _described(argument.description)
                )
        elif isinstance(named, GraphQLInputObjectType):
            missing.extend(
                f"{name}.{field_name}"
                for field_name, field in named.fields.items()
                if not _described(field.description)
            )
        elif isinstance(named, GraphQLEnumType):
            missing.extend(
                f"{name}.{value_name}"
                for value_name, value in named.values.items()
                if not _described(value.description)
            )
    return missing


def test_every_element_of_the_schema_has_a_description() -> None:
    missing = missing_descriptions()
    assert missing == [], f"{len(missing)} elements without a description:\n" + "\n".join(missing)


def test_the_scalars_of_a_defined_format_name_their_specification() -> None:
    specified = {}
    for name in ("Decimal", "Date", "DateTime"):
        scalar = GRAPHQL_SCHEMA.get_type(name)
        assert isinstance(scalar, GraphQLScalarType)
        specified[name] = scalar.specified_by_url
    assert all(url and url.startswith("https://") for url in specified.values()), specified


def test_first_states_its_range_and_default() -> None:
    query = GRAPHQL_SCHEMA.query_type
    assert query is not None
    description = query.fields["contracts"].args["first"].description or ""
    assert "1" in description and "100" in description and "20" in description, description


async def test_a_client_introspecting_the_server_reads_every_description(api: Api) -> None:
    # given: the introspection query of GraphiQL and of codegen tools, descriptions included
    query = get_introspection_query(descriptions=True, specified_by_url=True)

    # when: it goes through the server with its default limits, without a token
    result = await api.raw(query)

    # then
    assert result.errors == []
    assert result.data is not None
    types = {t["name"]: t for t in result.data["__schema"]["types"]}
    assert types["Escrow"]["description"]
    assert types["Decimal"]["specifiedByURL"].startswith("https://")
    contracts = next(f for f in types["Query"]["fields"] if f["name"] == "contracts")
    assert all(argument["description"] for argument in contracts["args"])
