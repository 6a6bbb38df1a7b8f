"""Notifications are written with the events they report, in the same transaction, or not at
all; the viewer's page, unread count, marking read and e-mail choices."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from app.db import models
from app.domain import commands
from app.domain.errors import DomainError, ErrorCode
from app.domain.milestones import MAX_TITLE
from app.domain.notifications import NotificationType, endpoint_disabled_notice
from app.events.fanout import Notice
from app.services import contracts, deadlines, notifications
from app.services.runtime import Runtime
from app.services.windows import Window
from tests.services.conftest import M1, People
from tests.services.flows import Deal, fixed, refused
from tests.support import FrozenClock, make_person

T = NotificationType


async def told(user_id: int) -> list[tuple[NotificationType, int | None]]:
    found = await models.Notification.filter(recipient_id=user_id).order_by("id")
    return [(NotificationType(n.type), n.contract_id) for n in found]


async def test_each_event_tells_the_other_party_in_its_transaction(
    runtime: Runtime, people: People
) -> None:
    # when
    deal = await Deal.active(runtime, people.client.actor, people.freelancer.actor)
    await deal.fund(M1)
    # then: the offer and the funding told the freelancer, the acceptance the client
    assert await told(people.freelancer.actor.user_id) == [
        (T.CONTRACT_OFFERED, deal.id),
        (T.MILESTONE_FUNDED, deal.id),
    ]
    assert await told(people.client.actor.user_id) == [(T.CONTRACT_ACCEPTED, deal.id)]
    assert await told(people.outsider.actor.user_id) == []
    funded = await models.Notification.get(type=T.MILESTONE_FUNDED)
    assert funded.milestone_id == deal.ids[M1]
    assert "100.00" in funded.body and "“One”" in funded.body
    assert funded.email_due_at is None  # the test runtime sends no e-mail


async def test_a_refused_mutation_writes_no_notification(
    runtime: Runtime, people: People, deal: Deal
) -> None:
    before = await models.Notification.all().count()
    # when: the freelancer may not fund
    problems = await refused(deal.fund(M1, by=people.freelancer.actor))
    # then
    assert problems
    assert await models.Notification.all().count() == before


async def test_a_dispute_opened_tells_the_other_party_and_every_admin(
    runtime: Runtime, people: People, deal: Deal
) -> None:
    admin = await make_person(runtime, "Ada Admin", admin=True)
    await deal.submit(M1)
    # when
    await deal.open_dispute(M1)
    # then
    opened = await models.Notification.filter(type=T.DISPUTE_OPENED).order_by("recipient_id")
    assert sorted(n.recipient_id for n in opened) == sorted(
        [people.freelancer.actor.user_id, admin.actor.user_id]
    )


async def test_the_admins_of_a_dispute_opened_are_woken_by_its_notice(
    runtime: Runtime, people: People, deal: Deal
) -> None:
    admin = await make_person(runtime, "Ada Admin", admin=True)
    await deal.submit(M1)
    with runtime.bus.fanout.subscribe(user_id=admin.actor.user_id) as mailbox:
        # when
        await deal.open_dispute(M1)
        # then
        assert len(mailbox) == 1


async def test_with_email_on_the_notification_owes_its_email(
    runtime: Runtime, people: People
) -> None:
    mailing = dataclasses.replace(runtime, emails=True)
    # when
    deal = await Deal.offer(mailing, people.client.actor, people.freelancer.actor)
    await Deal(mailing, deal.id, deal.ids, deal.client, deal.freelancer).end()
    # then
    for kind in (T.CONTRACT_OFFERED, T.CONTRACT_ENDED):
        owed = await models.Notification.get(type=kind)
        assert (owed.email_due_at, owed.emailed_at) == (runtime.clock(), None)


async def test_the_page_is_newest_first_and_marking_read_counts(
    runtime: Runtime, people: People, deal: Deal
) -> None:
    freelancer = people.freelancer.actor.user_id
    await deal.submit(M1)
    await deal.release(M1)
    # when
    page = await notifications.notifications_page(freelancer, Window(size=2))
    # then
    assert [n.type for n in page.rows] == [T.MILESTONE_RELEASED, T.MILESTONE_FUNDED]
    assert page.has_next and page.total == 3
    assert await notifications.unread_count(freelancer) == 3
    # when
    changed = await notifications.mark_read(runtime, freelancer, ids=[page.rows[0].id, 10**9])
    # then: an unknown id is passed over
    assert changed == 1
    unread = await notifications.notifications_page(freelancer, Window(size=10), unread=True)
    assert [n.id for n in unread.rows] == [n.id for n in (await told_records(freelancer))[1:]]
    assert await notifications.mark_read(runtime, freelancer, all=True) == 2
    assert await notifications.unread_count(freelancer) == 0
    assert [n.id for n in await notifications.unseen(freelancer, page.rows[1].id)] == [
        page.rows[0].id
    ]
    assert await notifications.latest_id(freelancer) == page.rows[0].id


async def told_records(user_id: int) -> list[models.Notification]:
    return list(await models.Notification.filter(recipient_id=user_id).order_by("-id"))


async def test_marking_read_names_ids_or_all(runtime: Runtime, people: People) -> None:
    with pytest.raises(DomainError) as caught:
        await notifications.mark_read(runtime, people.client.actor.user_id)
    assert caught.value.problems[0].code is ErrorCode.INVALID_INPUT
    with pytest.raises(DomainError):
        await notifications.mark_read(runtime, people.client.actor.user_id, ids=[1], all=True)


async def test_another_persons_notifications_are_not_marked(
    runtime: Runtime, people: People, deal: Deal
) -> None:
    [theirs] = await told_records(people.client.actor.user_id)
    # when
    changed = await notifications.mark_read(runtime, people.outsider.actor.user_id, ids=[theirs.id])
    # then
    assert changed == 0
    assert await notifications.unread_count(people.client.actor.user_id) == 1


async def test_email_choices_are_per_type_and_on_by_default(people: People) -> None:
    user = people.client.actor.user_id
    assert set((await notifications.notification_settings(user)).values()) == {True}
    # when
    await notifications.update_notification_settings(user, {T.MILESTONE_FUNDED: False})
    after = await notifications.update_notification_settings(
        user, {T.MILESTONE_FUNDED: False, T.BONUS_PAID: True}
    )
    # then
    assert [kind for kind, on in after.items() if not on] == [T.MILESTONE_FUNDED]
    assert await models.NotificationSetting.filter(user_id=user).count() == 2


async def test_notices_stored_outside_a_contract_wake_their_recipients(
    runtime: Runtime, people: People
) -> None:
    user = people.client.actor.user_id
    notice = endpoint_disabled_notice(user, "https://hooks.example/x", timedelta(days=3))
    with runtime.bus.fanout.subscribe(user_id=user) as mailbox:
        # when
        async with in_transaction() as conn:
            announced = await notifications.add_notices(runtime, conn, [notice])
        runtime.bus.committed(announced)
        # then
        assert len(mailbox) == 1
    assert announced == Notice(contract_id=0, sequence=0, party_ids=(user,))
    assert await told(user) == [(T.WEBHOOK_ENDPOINT_DISABLED, None)]


async def test_an_automatic_release_tells_both_parties(
    runtime: Runtime, clock: FrozenClock, people: People, deal: Deal
) -> None:
    await deal.submit(M1)
    clock.advance(timedelta(days=15))
    # when: the deadline job releases the milestone
    assert await deadlines.run_due(runtime) == 1
    # then
    released = await models.Notification.filter(type=T.MILESTONE_RELEASED)
    assert sorted(n.recipient_id for n in released) == sorted(
        [people.client.actor.user_id, people.freelancer.actor.user_id]
    )


async def test_a_title_of_the_longest_contract_title_is_stored_whole(
    runtime: Runtime, people: People
) -> None:
    longest = "T" * MAX_TITLE
    command = commands.CreateContract(
        freelancer_id=people.freelancer.actor.user_id, title=longest, milestones=(fixed(),)
    )
    # when
    await contracts.create_contract(runtime, people.client.actor, command)
    # then
    offered = await models.Notification.get(type=T.CONTRACT_OFFERED)
    assert offered.title == f"New contract offer: “{longest}”"
