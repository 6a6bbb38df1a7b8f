"""The outbox worker's e-mails (docs/concepts.md#notifications): each notification owed an
e-mail is handed to a real SMTP server (aiosmtpd) started by the test, once, with plain text
and HTML; one its recipient turned off is not sent; a server that is away is tried again on
the schedule, with the same Message-ID."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest

from app.db import models
from app.domain.notifications import NotificationType
from app.graphql.ids import encode_id
from app.notifications.retries import DEFAULT_SCHEDULE, RetrySchedule
from app.notifications.smtp import SmtpTarget
from app.services.notifications import update_notification_settings
from app.services.outbox import MailConfig, Outbox, OutboxConfig
from app.services.runtime import Runtime
from tests.notifications.test_smtp import Inbox, free_port, running
from tests.services.conftest import People
from tests.services.flows import Deal
from tests.support import FrozenClock, make_runtime

M1 = 0
SECONDS_5 = timedelta(seconds=5)  # the first wait of the default schedule
SENDER = "Escrow <no-reply@escrow.example>"


@pytest.fixture
def runtime(clock: FrozenClock) -> Runtime:
    """A runtime of a server with SMTP_URL set: notifications owe an e-mail."""
    return dataclasses.replace(make_runtime(clock), emails=True)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    for port in running(inbox):
        yield inbox, port


def config(port: int) -> OutboxConfig:
    mail = MailConfig(SmtpTarget.parse(f"smtp://127.0.0.1:{port}"), SENDER)
    return OutboxConfig(mail, RetrySchedule.parse(DEFAULT_SCHEDULE), encode_id)


@pytest.fixture
async def outbox(runtime: Runtime, smtp: tuple[Inbox, int]) -> AsyncIterator[Outbox]:
    outbox = Outbox(runtime, config(smtp[1]))
    yield outbox
    await outbox.close()


async def test_a_release_is_emailed_to_the_freelancer_once_in_both_parts(
    people: People, deal: Deal, smtp: tuple[Inbox, int], outbox: Outbox
) -> None:
    inbox, _ = smtp
    await deal.submit(M1)
    await deal.release(M1)
    owed = await models.Notification.filter(email_due_at__isnull=False).count()

    assert await outbox.run_once() == owed
    assert await outbox.run_once() == 0

    released = [m for m in inbox.messages() if m["Subject"].startswith("Payment released")]
    [message] = released
    assert message["To"] == people.freelancer.email
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert "100.00 USD" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert len(inbox.envelopes) == owed
    sent = await models.Notification.filter(type="MILESTONE_RELEASED")
    assert all(n.emailed_at is not None and n.email_due_at is None for n in sent)
    assert outbox.tally.emails == {"sent": owed}


async def test_a_type_turned_off_is_not_emailed(
    people: People, deal: Deal, smtp: tuple[Inbox, int], outbox: Outbox
) -> None:
    inbox, _ = smtp
    await outbox.run_once()  # what the deal's first steps owe
    inbox.envelopes.clear()
    await update_notification_settings(
        people.client.actor.user_id, {NotificationType.MILESTONE_SUBMITTED: False}
    )
    await deal.submit(M1)

    assert await outbox.run_once() == 0

    assert inbox.envelopes == []
    [owed] = await models.Notification.filter(type="MILESTONE_SUBMITTED")
    assert (owed.email_due_at, owed.emailed_at) == (None, None)


async def test_an_smtp_server_that_is_away_is_tried_again_with_the_same_message_id(
    runtime: Runtime, people: People, deal: Deal, clock: FrozenClock
) -> None:
    # given a notification owed an e-mail, and no SMTP server where the worker sends
    away = Outbox(runtime, config(free_port()))
    await models.Notification.all().update(email_due_at=None)  # owed by the deal's first steps
    await deal.submit(M1)
    [owed] = await models.Notification.filter(type="MILESTONE_SUBMITTED")

    # when the worker tries, and tries again with a server there once the retry is due
    assert await away.run_once() == 1
    await away.close()
    failed = await models.Notification.get(id=owed.id)
    inbox = Inbox()
    for port in running(inbox):
        back = Outbox(runtime, config(port))
        assert await back.run_once() == 0  # not due yet
        assert failed.email_due_at is not None
        clock.now = failed.email_due_at
        assert await back.run_once() == 1
        await back.close()

    # then one e-mail, after one failed attempt kept with its reason, 5 s before
    assert (failed.email_attempts, failed.email_due_at) == (1, owed.created_at + SECONDS_5)
    assert failed.email_error
    [message] = inbox.messages()
    assert message["Message-ID"] == f"<notification-{owed.id}@escrow.example>"
    sent = await models.Notification.get(id=owed.id)
    assert (sent.email_attempts, sent.email_due_at) == (2, None)
    assert not sent.email_error
    assert (away.tally.emails, back.tally.emails) == ({"failed": 1}, {"sent": 1})


async def test_without_smtp_no_email_is_claimed(
    runtime: Runtime, people: People, deal: Deal
) -> None:
    outbox = Outbox(runtime, dataclasses.replace(config(free_port()), mail=None))
    await deal.submit(M1)

    assert await outbox.run_once() == 0
    await outbox.close()
    assert await models.Notification.filter(email_due_at__isnull=False).count() > 0
