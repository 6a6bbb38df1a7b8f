"""Creating a contract: what a new offer looks like and how bad input is reported (§6.7, §6.28)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from app.domain.commands import NewMilestone
from app.domain.contract import Contract
from app.domain.errors import DomainError, ErrorCode, Problem
from app.domain.events import EventType
from app.domain.milestones import MilestoneStatus
from app.domain.money import CURRENCIES
from app.domain.permissions import ContractStatus
from app.domain.policy import Policy
from tests.domain.builders import CLIENT, FREELANCER, NOW, offer_of, offered, typed

Draft = dict[str, Any]  # a milestone as the client typed it, amounts as text
GOOD: Draft = {"title": "Design", "amount": "100.00"}


def offer(
    milestones: list[Draft] | None = None,
    *,
    title: str | None = "A new website",
    currency: str | None = None,
    freelancer_id: int = FREELANCER.user_id,
    policy: Policy | None = None,
) -> Contract:
    rejected: list[Problem] = []
    read = tuple(
        typed(NewMilestone, ("milestones", str(i)), rejected, **m)
        for i, m in enumerate([GOOD] if milestones is None else milestones)
    )
    command = offer_of(
        *read,
        title=title or "",  # the input's title is required: a missing one arrives empty
        description=None,
        currency=currency,
        freelancer_id=freelancer_id,
        rejected=tuple(rejected),
    )
    return Contract.offer(command, client_id=CLIENT.user_id, policy=policy or Policy(), now=NOW)


def problems_of(**kwargs: Any) -> set[tuple[ErrorCode, tuple[str, ...] | None]]:
    with pytest.raises(DomainError) as caught:
        offer(**kwargs)
    return {(p.code, p.field) for p in caught.value.problems}


# --- a new offer --------------------------------------------------------------------------


def test_a_new_offer_is_offered_with_every_milestone_unfunded_in_order() -> None:
    contract = offered("100.00", "50.00", "25.00")
    assert contract.status is ContractStatus.OFFERED
    assert [(m.position, m.status, m.amount) for m in contract.milestones] == [
        (1, MilestoneStatus.NOT_FUNDED, 100_00),
        (2, MilestoneStatus.NOT_FUNDED, 50_00),
        (3, MilestoneStatus.NOT_FUNDED, 25_00),
    ]
    assert all(
        (m.funded_amount, m.released_amount, m.refunded_amount) == (0, 0, 0)
        for m in contract.milestones
    )
    assert contract.entries == []
    assert contract.ledger.held == 0
    assert contract.available == 0
    assert contract.currency == "USD"


def test_a_new_offer_records_contract_offered_as_event_one_by_the_client() -> None:
    contract = offered()
    assert [(e.sequence, e.type, e.actor_id) for e in contract.events] == [
        (1, EventType.CONTRACT_OFFERED, CLIENT.user_id)
    ]


@pytest.mark.parametrize("currency", sorted(CURRENCIES))
def test_each_supported_currency_may_be_chosen(currency: str) -> None:
    assert offer(currency=currency).currency == currency


def test_the_supported_currencies_are_the_five_of_the_product_contract() -> None:
    assert {"USD", "EUR", "GBP", "CAD", "AUD"} == CURRENCIES


@pytest.mark.parametrize("currency", ["XYZ", "", "US", "BTC", "USD "])
def test_any_other_currency_is_invalid_input_on_currency(currency: str) -> None:
    assert problems_of(currency=currency) == {(ErrorCode.INVALID_INPUT, ("currency",))}


# --- amounts ------------------------------------------------------------------------------


def test_a_milestone_below_five_dollars_is_amount_too_small() -> None:
    problems = problems_of(milestones=[GOOD, dict(title="Tiny", amount="4.99")])
    assert problems == {(ErrorCode.AMOUNT_TOO_SMALL, ("milestones", "1", "amount"))}


def test_a_milestone_of_exactly_five_dollars_is_accepted() -> None:
    assert offer([dict(title="Small", amount="5.00")]).milestones[0].amount == 5_00


def test_the_minimum_follows_the_policy() -> None:
    policy = replace(Policy(), minimum_milestone_amount=50_00)
    problems = problems_of(milestones=[dict(title="A", amount="49.99")], policy=policy)
    assert problems == {(ErrorCode.AMOUNT_TOO_SMALL, ("milestones", "0", "amount"))}


@pytest.mark.parametrize("amount", ["abc", "0", "-10.00", "4.999", "1e3", ""])
def test_a_malformed_milestone_amount_is_invalid_amount_and_not_also_too_small(
    amount: str,
) -> None:
    # docs/rules.md#milestone-fields: INVALID_AMOUNT first; AMOUNT_TOO_SMALL only for a well-formed
    # amount.
    problems = problems_of(milestones=[dict(title="A", amount=amount)])
    assert problems == {(ErrorCode.INVALID_AMOUNT, ("milestones", "0", "amount"))}


def test_a_piece_rate_milestone_amounts_to_unit_price_times_max_units() -> None:
    contract = offer([dict(title="Pages", unit_price="2.50", max_units=8)])
    first = contract.milestones[0]
    assert (first.amount, first.unit_price, first.max_units) == (20_00, 2_50, 8)


def test_a_piece_rate_milestone_with_a_different_amount_is_invalid_input() -> None:
    # docs/concepts.md#piece-rate-milestones
    draft = dict(title="Pages", amount="25.00", unit_price="2.50", max_units=8)
    assert problems_of(milestones=[draft]) == {
        (ErrorCode.INVALID_INPUT, ("milestones", "0", "amount"))
    }


def test_a_piece_rate_milestone_below_the_minimum_is_amount_too_small() -> None:
    # docs/rules.md#milestone-fields: unitPrice x maxUnits counts; the unit price itself has no
    # minimum.
    draft = dict(title="Words", unit_price="0.10", max_units=40)
    assert problems_of(milestones=[draft]) == {
        (ErrorCode.AMOUNT_TOO_SMALL, ("milestones", "0", "amount"))
    }


def test_a_cheap_unit_is_fine_when_the_milestone_reaches_the_minimum() -> None:
    contract = offer([dict(title="Words", unit_price="0.01", max_units=500)])
    assert contract.milestones[0].amount == 5_00


# --- how many milestones ------------------------------------------------------------------


def test_two_hundred_milestones_are_allowed() -> None:
    assert len(offer([GOOD] * 200).milestones) == 200


def test_more_than_two_hundred_milestones_is_too_many() -> None:
    assert problems_of(milestones=[GOOD] * 201) == {
        (ErrorCode.TOO_MANY_MILESTONES, ("milestones",))
    }


def test_the_limit_follows_the_policy() -> None:
    policy = replace(Policy(), max_milestones_per_contract=2)
    assert problems_of(milestones=[GOOD] * 3, policy=policy) == {
        (ErrorCode.TOO_MANY_MILESTONES, ("milestones",))
    }


def test_a_contract_needs_a_milestone() -> None:
    assert problems_of(milestones=[]) == {(ErrorCode.INVALID_INPUT, ("milestones",))}


# --- every bad field at once --------------------------------------------------------------


def test_every_bad_field_is_reported_at_once_with_its_path() -> None:
    problems = problems_of(
        title="   ",
        currency="XYZ",
        milestones=[
            dict(title="Fine", amount="100.00"),
            dict(title="Bad amount", amount="12.345"),
            dict(title="", amount="4.00"),
            dict(title="No amount"),
            dict(title="x" * 201, amount="abc"),
        ],
    )
    assert problems == {
        (ErrorCode.INVALID_INPUT, ("title",)),
        (ErrorCode.INVALID_INPUT, ("currency",)),
        (ErrorCode.INVALID_AMOUNT, ("milestones", "1", "amount")),
        (ErrorCode.INVALID_INPUT, ("milestones", "2", "title")),
        (ErrorCode.AMOUNT_TOO_SMALL, ("milestones", "2", "amount")),
        (ErrorCode.INVALID_INPUT, ("milestones", "3", "amount")),
        (ErrorCode.INVALID_INPUT, ("milestones", "4", "title")),
        (ErrorCode.INVALID_AMOUNT, ("milestones", "4", "amount")),
    }


def test_a_client_cannot_hire_themselves() -> None:
    assert problems_of(freelancer_id=CLIENT.user_id) == {
        (ErrorCode.INVALID_INPUT, ("freelancer_id",))
    }


@pytest.mark.parametrize("title", [None, "", "  ", "x" * 201])
def test_a_contract_needs_a_title_of_at_most_200_characters(title: str | None) -> None:
    assert problems_of(title=title) == {(ErrorCode.INVALID_INPUT, ("title",))}


def test_titles_are_trimmed() -> None:
    contract = offer([dict(title="  Design  ", amount="10")], title="  Site  ")
    assert (contract.title, contract.milestones[0].title) == ("Site", "Design")
