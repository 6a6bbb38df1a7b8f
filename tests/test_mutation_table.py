"""One mutation mechanism (issue 8, point 4): every mutation of the schema is a row of the table
in app/graphql/mutations.py, run by app/graphql/mutation_fields.py, and every enum of the schema
is declared in app/graphql/enums.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLEnumType
from strawberry.types.base import has_object_definition
from strawberry.types.enum import StrawberryEnumDefinition

from app.domain.commands import AcceptContract, Command, DeclineContract
from app.domain.requests import ChangeAction
from app.graphql import enums
from app.graphql.commands import GlobalId
from app.graphql.inputs import (
    AcceptContractInput,
    DeclineContractInput,
    ProposeMilestoneChangesInput,
)
from app.graphql.mutation_fields import Caller, mutation
from app.graphql.mutations import ANONYMOUS_MUTATIONS, MUTATIONS
from app.graphql.outcomes import ChangeRequestPayload, ContractPayload
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
    async def call(caller: Caller, command: Any) -> Outcome:
        return Outcome()

    with pytest.raises(TypeError, match="AcceptContractInput"):
        mutation(
            "acceptContract", None, DeclineContractInput, AcceptContract, ContractPayload, call
        )
    with pytest.raises(TypeError, match="milestone_id"):
        mutation(
            "acceptContract",
            None,
            AcceptContractInput,
            AcceptContract,
            ContractPayload,
            call,
            ids={"milestone_id": GlobalId("Milestone")},
        )


def test_a_row_names_the_command_its_input_is_read_into() -> None:
    async def call(caller: Caller, command: Any) -> Outcome:
        return Outcome()

    contract = {"contract_id": GlobalId("Contract")}
    with pytest.raises(TypeError, match="its command is AcceptContract"):
        mutation(
            "acceptContract",
            None,
            AcceptContractInput,
            DeclineContract,
            ContractPayload,
            call,
            ids=contract,
        )
    with pytest.raises(TypeError, match="contract_id"):
        mutation("acceptContract", None, AcceptContractInput, AcceptContract, ContractPayload, call)


def test_every_global_id_of_an_input_is_declared_nested_ones_too() -> None:
    rows = {row.name: row for row in MUTATIONS}
    assert set(rows["proposeMilestoneChanges"].ids) == {"contract_id", "changes.milestone_id"}


@dataclass(frozen=True, kw_only=True)
class _DeclineContract(Command):  # without `reason`
    contract_id: int


@dataclass(kw_only=True)
class _Change:  # a change record without `max_units`
    action: ChangeAction
    milestone_id: int | None = None
    title: str | None = None
    description: str | None = None
    amount: int | None = None
    due_date: date | None = None
    position: int | None = None
    unit_price: int | None = None


@dataclass(frozen=True, kw_only=True)
class _ProposeMilestoneChanges(Command):
    contract_id: int
    message: str | None = None
    changes: tuple[_Change, ...]


# Each named as the command of its mutation, so that only the missing field is wrong.
_DeclineContract.__name__ = "DeclineContract"
_ProposeMilestoneChanges.__name__ = "ProposeMilestoneChanges"


def test_a_command_lacking_a_field_of_its_input_is_refused_nested_ones_too() -> None:
    async def call(caller: Caller, command: Any) -> Outcome:
        return Outcome()

    contract = {"contract_id": GlobalId("Contract")}
    with pytest.raises(TypeError, match=r"\['reason'\]"):
        mutation(
            "declineContract",
            None,
            DeclineContractInput,
            _DeclineContract,
            ContractPayload,
            call,
            ids=contract,
        )
    with pytest.raises(TypeError, match=r"\['changes.max_units'\]"):
        mutation(
            "proposeMilestoneChanges",
            None,
            ProposeMilestoneChangesInput,
            _ProposeMilestoneChanges,
            ChangeRequestPayload,
            call,
            ids={**contract, "changes.milestone_id": GlobalId("Milestone")},
        )
