"""Commands at the edge (issue 8, point 2): app/graphql/commands.py reads a mutation's input into
its command (ids as int, amounts as cents), and app/graphql/errors.py writes every problem's
path in camelCase."""

from __future__ import annotations

from datetime import date

import pytest
from strawberry import ID

from app.domain.changes import UNKNOWN_ID
from app.domain.commands import (
    CreateContract,
    NewMilestone,
    PayBonus,
    ProposeMilestoneChanges,
    SubmitMilestone,
)
from app.domain.errors import DomainError, ErrorCode, Problem
from app.domain.permissions import Action
from app.domain.requests import ChangeAction, MilestoneChange
from app.graphql.commands import GlobalId, to_command
from app.graphql.errors import user_errors
from app.graphql.ids import encode_id
from app.graphql.inputs import (
    CreateContractInput,
    MilestoneChangeInput,
    MilestoneInput,
    PayBonusInput,
    ProposeMilestoneChangesInput,
    SubmitMilestoneInput,
)
from app.graphql.scalars import Decimal
from app.services.unit import Idempotency

CONTRACT = {"contract_id": GlobalId("Contract")}
CHANGES = {**CONTRACT, "changes.milestone_id": GlobalId("Milestone")}


def gid(type_name: str, pk: int) -> ID:
    return ID(encode_id(type_name, pk))


def bonus(amount: str, *, note: str | None = None, key: str | None = None) -> PayBonus:
    input = PayBonusInput(
        contract_id=gid("Contract", 7), amount=Decimal(amount), note=note, idempotency_key=key
    )
    return to_command(input, PayBonus, CONTRACT)


def test_ids_become_keys_and_amounts_cents() -> None:
    assert bonus("12.50", note="Thanks", key="k") == PayBonus(
        contract_id=7, amount=12_50, note="Thanks", idempotency_key="k"
    )


def test_nested_inputs_become_records_and_lists_tuples() -> None:
    input = CreateContractInput(
        freelancer_id=gid("User", 2),
        title="Site",
        milestones=[
            MilestoneInput(title="Design", amount=Decimal("100"), due_date=date(2026, 5, 1)),
            MilestoneInput(title="Pages", unit_price=Decimal("2.50"), max_units=8),
        ],
    )

    command = to_command(input, CreateContract, {"freelancer_id": GlobalId("User")})

    assert command == CreateContract(
        freelancer_id=2,
        title="Site",
        milestones=(
            NewMilestone(title="Design", amount=100_00, due_date=date(2026, 5, 1)),
            NewMilestone(title="Pages", unit_price=2_50, max_units=8),
        ),
    )


def test_a_field_not_given_keeps_the_commands_default() -> None:
    input = SubmitMilestoneInput(milestone_id=gid("Milestone", 3))

    command = to_command(input, SubmitMilestone, {"milestone_id": GlobalId("Milestone")})

    assert command == SubmitMilestone(milestone_id=3, attachments=(), requested_amount=None)


def test_every_unreadable_amount_is_rejected_with_its_path_and_none_raises() -> None:
    input = CreateContractInput(
        freelancer_id=gid("User", 2),
        title="Site",
        milestones=[
            MilestoneInput(title="A", amount=Decimal("abc")),
            MilestoneInput(title="B", amount=Decimal("10.00")),
            MilestoneInput(title="C", unit_price=Decimal("1.234"), max_units=2),
        ],
    )

    command = to_command(input, CreateContract, {"freelancer_id": GlobalId("User")})

    assert [(p.code, p.field) for p in command.rejected] == [
        (ErrorCode.INVALID_AMOUNT, ("milestones", "0", "amount")),
        (ErrorCode.INVALID_AMOUNT, ("milestones", "2", "unit_price")),
    ]
    assert command.milestones[1].amount == 10_00


def test_the_range_is_left_to_the_domain() -> None:
    assert bonus("-5").amount == -5_00
    assert bonus("0").amount == 0
    assert bonus("-5").rejected == ()


@pytest.mark.parametrize("bad_id", ["nonsense", encode_id("Milestone", 7)])
def test_an_input_id_that_names_nothing_is_not_found_at_once(bad_id: str) -> None:
    input = PayBonusInput(contract_id=ID(bad_id), amount=Decimal("1.00"))

    with pytest.raises(DomainError) as caught:
        to_command(input, PayBonus, CONTRACT)

    assert [(p.code, p.message, p.field) for p in caught.value.problems] == [
        (ErrorCode.NOT_FOUND, "No such contract", ("contract_id",))
    ]


def test_a_nested_id_that_names_nothing_is_left_for_the_domain_to_find() -> None:
    input = ProposeMilestoneChangesInput(
        contract_id=gid("Contract", 7),
        changes=[
            MilestoneChangeInput(action=ChangeAction.DELETE, milestone_id=ID("nonsense")),
            MilestoneChangeInput(
                action=ChangeAction.UPDATE,
                milestone_id=gid("Milestone", 4),
                amount=Decimal("30"),
            ),
        ],
    )

    command = to_command(input, ProposeMilestoneChanges, CHANGES)

    assert command.changes == (
        MilestoneChange(action=ChangeAction.DELETE, milestone_id=UNKNOWN_ID),
        MilestoneChange(action=ChangeAction.UPDATE, milestone_id=4, amount=30_00),
    )


def test_ten_and_ten_point_zero_zero_are_the_same_request() -> None:
    def fingerprint(command: PayBonus) -> str:
        return Idempotency(Action.PAY_BONUS, "k", command).request_hash

    assert fingerprint(bonus("10", key="k")) == fingerprint(bonus("10.00", key="k"))
    assert fingerprint(bonus("10", key="k")) == fingerprint(bonus("10", key="other"))
    assert fingerprint(bonus("10")) != fingerprint(bonus("10.01"))
    assert fingerprint(bonus("10")) != fingerprint(bonus("10", note="Thanks"))
    assert fingerprint(bonus("ten")) != fingerprint(bonus("eleven"))


def test_user_errors_write_each_path_in_camel_case() -> None:
    error = DomainError(
        [
            Problem(ErrorCode.INVALID_INPUT, "a", ("changes", "12", "milestone_id")),
            Problem(ErrorCode.INVALID_AMOUNT, "b", ("milestones", "0", "unit_price")),
            Problem(ErrorCode.INVALID_INPUT, "c", ("idempotencyKey",)),
            Problem(ErrorCode.INVALID_STATE, "d", None),
        ]
    )

    assert [e.field for e in user_errors(error)] == [
        ["changes", "12", "milestoneId"],
        ["milestones", "0", "unitPrice"],
        ["idempotencyKey"],
        None,
    ]
