"""One mutation mechanism (issue 8, point 4): every mutation of the schema is a row of the table
in app/graphql/mutations.py, run by app/graphql/mutation_fields.py, and every enum of the schema
is declared in app/graphql/enums.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLEnumType
from strawberry.types.base import has_object_definition
from strawberry.types.enum import StrawberryEnumDefinition

from app.graphql import enums
from app.graphql.inputs import AcceptContractInput, DeclineContractInput
from app.graphql.mutation_fields import Caller, GlobalId, mutation
from app.graphql.mutations import ANONYMOUS_MUTATIONS, MUTATIONS
from app.graphql.outcomes import ContractPayload
from app.graphql.schema import Mutation, schema
from app.graphql.text_inputs import StorableText
from app.services.unit import Outcome

APP = Path(__file__).resolve().parent.parent / "app"


def test_every_mutation_field_is_a_row_of_the_table() -> None:
    mutation = schema._schema.mutation_type
    assert mutation is not None
    assert list(mutation.fields) == [row.name for row in MUTATIONS]
    for row in MUTATIONS:
        field = mutation.fields[row.name]
        assert str(field.type) == f"{row.type_prefix}Payload!"
        assert list(field.args) == ["input"]
        assert str(field.args["input"].type) == f"{row.type_prefix}Input!"
        assert field.description == row.description


def test_only_register_and_login_need_no_token() -> None:
    assert frozenset({"register", "login"}) == ANONYMOUS_MUTATIONS


def test_every_mutation_checks_its_text() -> None:
    assert has_object_definition(Mutation)
    fields = Mutation.__strawberry_definition__.fields
    assert len(fields) == len(MUTATIONS)
    for field in fields:
        assert [type(e) for e in field.extensions] == [StorableText], field.name


def test_every_enum_is_declared_in_the_enums_module() -> None:
    declaring = sorted(
        str(path.relative_to(APP))
        for path in APP.rglob("*.py")
        if "strawberry.enum(" in path.read_text(encoding="utf-8")
    )
    assert declaring == ["graphql/enums.py"]
    in_schema = set()
    for graphql_type in schema._schema.type_map.values():
        if isinstance(graphql_type, GraphQLEnumType) and not graphql_type.name.startswith("__"):
            definition = schema.get_type_by_name(graphql_type.name)
            assert isinstance(definition, StrawberryEnumDefinition)
            in_schema.add(definition.wrapped_cls)
    assert in_schema == {getattr(enums, name) for name in enums.__all__}


def test_a_misdeclared_row_is_refused_when_the_table_is_built() -> None:
    async def call(caller: Caller, input: Any) -> Outcome:
        return Outcome()

    with pytest.raises(TypeError, match="AcceptContractInput"):
        mutation("acceptContract", None, DeclineContractInput, ContractPayload, call)
    with pytest.raises(TypeError, match="milestone_id"):
        mutation(
            "acceptContract",
            None,
            AcceptContractInput,
            ContractPayload,
            call,
            ids={"milestone_id": GlobalId("Milestone")},
        )
