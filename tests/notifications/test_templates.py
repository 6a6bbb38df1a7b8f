"""The template table: every notification type written, and who each event tells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.events import Event, EventType
from app.domain.notifications import (
    REMINDER_TYPES,
    TEMPLATES,
    ContractFacts,
    NotificationType,
    contract_notices,
    endpoint_disabled_notice,
    event_notices,
    reminder_notice,
)
from tests.domain import builders
from tests.domain.builders import accept, active, fund, offered, open_dispute, release, submit

CLIENT, FREELANCER, ADMIN, OTHER_ADMIN = 1, 2, 4, 5
CONTRACT = ContractFacts(
    id=7, title="Shop redesign", currency="EUR", client_id=CLIENT, freelancer_id=FREELANCER
)
MILESTONE = "Wireframes"

# Each event as the domain writes it (docs/concepts.md#events): its actor, amount and message.
T, M = EventType, 11
EVENTS: dict[EventType, Event] = {
    event.type: event
    for event in [
        Event(1, T.CONTRACT_OFFERED, CLIENT),
        Event(2, T.CONTRACT_ACCEPTED, FREELANCER),
        Event(2, T.CONTRACT_DECLINED, FREELANCER, None, 25_00, "Too busy"),
        Event(9, T.CONTRACT_ENDED, CLIENT, None, 10_00, "Done"),
        Event(3, T.MILESTONE_FUNDED, CLIENT, M, 100_00),
        Event(4, T.MILESTONE_SUBMITTED, FREELANCER, M, 90_00, "See the PDF"),
        Event(5, T.MILESTONE_REVISION_REQUESTED, CLIENT, M, None, "Bigger logo"),
        Event(6, T.MILESTONE_RELEASED, CLIENT, M, 90_00),
        Event(6, T.MILESTONE_REFUNDED, FREELANCER, M, 40_00),
        Event(7, T.CHANGE_REQUEST_PROPOSED, CLIENT, None, None, "One more page"),
        Event(8, T.CHANGE_REQUEST_ACCEPTED, FREELANCER),
        Event(8, T.CHANGE_REQUEST_DECLINED, FREELANCER, None, None, "No time"),
        Event(8, T.CHANGE_REQUEST_WITHDRAWN, CLIENT),
        Event(5, T.REFUND_REQUESTED, CLIENT, M, 40_00, "Late"),
        Event(6, T.REFUND_APPROVED, FREELANCER, M, 40_00),
        Event(6, T.REFUND_DECLINED, FREELANCER, M, None, "It was on time"),
        Event(5, T.DISPUTE_OPENED, FREELANCER, M, None, "No answer"),
        Event(6, T.DISPUTE_RESOLVED, ADMIN, M, 100_00, "Split evenly"),
        Event(6, T.DISPUTE_WITHDRAWN, FREELANCER, M),
        Event(7, T.BONUS_PAID, CLIENT, None, 15_50, "Thanks!"),
    ]
}
OTHER_PARTY = {CLIENT: [FREELANCER], FREELANCER: [CLIENT]}

EXPECTED_AMOUNT = {
    EventType.CONTRACT_DECLINED: "25.00 EUR",
    EventType.CONTRACT_ENDED: "10.00 EUR",
    EventType.MILESTONE_FUNDED: "100.00 EUR",
    EventType.MILESTONE_SUBMITTED: "90.00 EUR",
    EventType.MILESTONE_RELEASED: "90.00 EUR",
    EventType.MILESTONE_REFUNDED: "40.00 EUR",
    EventType.REFUND_REQUESTED: "40.00 EUR",
    EventType.REFUND_APPROVED: "40.00 EUR",
    EventType.DISPUTE_RESOLVED: "100.00 EUR",
    EventType.BONUS_PAID: "15.50 EUR",
}
AT = datetime(2026, 3, 4, 12, 30, tzinfo=UTC)


def test_every_event_type_is_a_notification_type_and_every_type_has_a_template() -> None:
    assert {kind.value for kind in EventType} <= {kind.value for kind in NotificationType}
    assert set(TEMPLATES) == set(NotificationType)
    assert set(EVENTS) == set(EventType)
    extra = {kind.value for kind in NotificationType} - {kind.value for kind in EventType}
    assert extra == {
        "AUTO_RELEASE_REMINDER",
        "REFUND_RESPONSE_REMINDER",
        "DUE_DATE_REMINDER",
        "WEBHOOK_ENDPOINT_DISABLED",
    }


@pytest.mark.parametrize("kind", list(EventType))
def test_an_event_tells_the_other_party_what_happened_and_what_to_do(kind: EventType) -> None:
    # given
    event = EVENTS[kind]

    # when
    notices = event_notices(event, CONTRACT, MILESTONE if event.milestone_id else None)

    # then
    other = OTHER_PARTY.get(event.actor_id or 0, [CLIENT, FREELANCER])  # the admin: both
    assert [notice.recipient_id for notice in notices] == other
    notice = notices[0]
    assert notice.type.value == kind.value
    assert (notice.contract_id, notice.milestone_id) == (CONTRACT.id, event.milestone_id)
    assert "\n" not in notice.title and len(notice.title) <= 80
    text = notice.title + notice.body
    assert ("“Wireframes”" in text) == (event.milestone_id is not None)
    assert "“Shop redesign”" in text or "“Wireframes”" in notice.title
    if kind in EXPECTED_AMOUNT:
        assert EXPECTED_AMOUNT[kind] in notice.body
    else:
        assert "EUR" not in notice.body
    assert notice.body.split("\n\n")[1] == TEMPLATES[notice.type].next_step
    if event.message:
        assert notice.body.endswith(f": {event.message}")
    assert "{" not in text and "  " not in text


def test_an_automatic_step_tells_both_parties() -> None:
    released = Event(6, EventType.MILESTONE_RELEASED, None, 11, 90_00)

    notices = event_notices(released, CONTRACT, MILESTONE)

    assert [n.recipient_id for n in notices] == [CLIENT, FREELANCER]
    assert notices[0].body.startswith("90.00 EUR was released for the milestone “Wireframes”")


def test_a_dispute_opened_tells_the_other_party_and_every_admin_once() -> None:
    opened = EVENTS[EventType.DISPUTE_OPENED]

    notices = event_notices(opened, CONTRACT, MILESTONE, admin_ids=[OTHER_ADMIN, ADMIN, CLIENT])

    assert [n.recipient_id for n in notices] == [CLIENT, ADMIN, OTHER_ADMIN]


def test_an_admins_step_tells_both_parties_and_not_the_admin() -> None:
    resolved = EVENTS[EventType.DISPUTE_RESOLVED]

    assert [n.recipient_id for n in event_notices(resolved, CONTRACT, MILESTONE, [ADMIN])] == [
        CLIENT,
        FREELANCER,
    ]


def test_a_completed_piece_rate_milestone_says_so_without_an_amount() -> None:
    completed = Event(6, EventType.MILESTONE_RELEASED, CLIENT, 11, None, "Completed by the client")

    [notice] = event_notices(completed, CONTRACT, MILESTONE)

    assert notice.body.startswith("The milestone “Wireframes” of “Shop redesign” was completed.")
    assert notice.body.endswith("Message: Completed by the client")


def test_a_closing_without_escrow_to_return_names_no_amount() -> None:
    ended = Event(9, EventType.CONTRACT_ENDED, FREELANCER, None, None, None)

    [notice] = event_notices(ended, CONTRACT, None)

    assert notice.body.startswith("The contract “Shop redesign” has ended.\n\n")


def test_braces_in_what_people_wrote_are_kept_as_they_are() -> None:
    odd = ContractFacts(7, "Logo {v2} {amount}", "USD", CLIENT, FREELANCER)
    funded = EVENTS[EventType.MILESTONE_FUNDED]

    [notice] = event_notices(funded, odd, "{milestone}")

    assert notice.title == "Milestone funded: “{milestone}”"
    assert "for the milestone “{milestone}” of “Logo {v2} {amount}”." in notice.body


@pytest.mark.parametrize(
    ("kind", "recipient", "starts"),
    [
        (
            NotificationType.AUTO_RELEASE_REMINDER,
            CLIENT,
            "Unless you review it, 90.00 EUR for the milestone “Wireframes” of “Shop redesign”"
            " is released automatically at 2026-03-04 12:30 UTC.",
        ),
        (
            NotificationType.REFUND_RESPONSE_REMINDER,
            FREELANCER,
            "The refund of 90.00 EUR from the milestone “Wireframes” of “Shop redesign” counts"
            " as approved at 2026-03-04 12:30 UTC unless you answer.",
        ),
        (
            NotificationType.DUE_DATE_REMINDER,
            FREELANCER,
            "The milestone “Wireframes” of “Shop redesign”, worth 90.00 EUR, is due at"
            " 2026-03-04 12:30 UTC.",
        ),
    ],
)
def test_a_reminder_tells_the_party_who_must_act(
    kind: NotificationType, recipient: int, starts: str
) -> None:
    notice = reminder_notice(kind, CONTRACT, 11, MILESTONE, AT, 90_00)

    assert (notice.recipient_id, notice.type, notice.milestone_id) == (recipient, kind, 11)
    assert notice.body == f"{starts}\n\n{TEMPLATES[kind].next_step}"
    assert "2026-03-04 12:30 UTC" in notice.title or kind is not NotificationType.DUE_DATE_REMINDER


def test_reminders_are_the_three_reminder_types_only() -> None:
    assert len(REMINDER_TYPES) == 3
    with pytest.raises(ValueError, match="not a reminder"):
        reminder_notice(NotificationType.BONUS_PAID, CONTRACT, 11, MILESTONE, AT, 1_00)


def test_a_disabled_endpoint_tells_its_owner_how_long_it_failed() -> None:
    notice = endpoint_disabled_notice(3, "https://hooks.example/escrow", timedelta(days=3))

    assert notice.recipient_id == 3 and notice.contract_id is None
    assert notice.title == "Webhook endpoint disabled: https://hooks.example/escrow"
    assert notice.body.startswith(
        "Deliveries to https://hooks.example/escrow failed for 3 days, so the endpoint was"
        " disabled.\n\n"
    )


def test_a_contracts_steps_tell_the_other_party_with_the_milestones_titles() -> None:
    # given: an offer funded, accepted, submitted and released, step by step
    contract = offered("100.00")
    fund(contract)
    accept(contract)
    submit(contract)
    release(contract)

    # when
    notices = contract_notices(contract)

    # then
    assert [(n.type.value, n.recipient_id) for n in notices] == [
        ("CONTRACT_OFFERED", builders.FREELANCER.user_id),
        ("MILESTONE_FUNDED", builders.FREELANCER.user_id),
        ("CONTRACT_ACCEPTED", builders.CLIENT.user_id),
        ("MILESTONE_SUBMITTED", builders.CLIENT.user_id),
        ("MILESTONE_RELEASED", builders.FREELANCER.user_id),
    ]
    assert notices[-1].title == "Payment released: “Milestone 1”"
    assert notices[-1].body.startswith("100.00 USD was released for the milestone “Milestone 1”")
    assert {n.contract_id for n in notices} == {1}


def test_a_dispute_opened_on_a_contract_tells_its_admins() -> None:
    contract = active("100.00")
    fund(contract)
    open_dispute(contract, by=builders.FREELANCER)

    notices = contract_notices(contract, admin_ids=[ADMIN])

    [to_client, to_admin] = [n for n in notices if n.type is NotificationType.DISPUTE_OPENED]

    assert (to_client.recipient_id, to_admin.recipient_id) == (builders.CLIENT.user_id, ADMIN)
    assert to_admin.title == "Dispute opened: “Milestone 1”"
