"""Notifications end to end: a real `python -m app serve` e-mails a release to the freelancer
through the test's SMTP server (aiosmtpd; plain text and HTML), and `notificationAdded` reaches
a subscriber on one process for a mutation on another, both on one PostgreSQL database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest

from tests.e2e.conftest import _seed, _server_env
from tests.e2e.notified import (
    NOTIFICATION_ADDED,
    NOTIFICATIONS,
    RELEASE_MILESTONE,
    SUBMIT_MILESTONE,
    Pair,
    two_servers,
    until,
)
from tests.e2e.servers import (
    FUND_MILESTONE,
    SUBPROTOCOLS,
    Http,
    Server,
    Subscription,
    active_contract,
    http,
    pay_bonus,
    running,
    start_server,
)
from tests.notifications.test_smtp import Inbox
from tests.notifications.test_smtp import running as smtp_server

pytestmark = [pytest.mark.e2e, pytest.mark.own_database("sqlite")]
ON_POSTGRES = pytest.mark.own_database("postgres")

SENDER = "Escrow <no-reply@escrow.example>"


@dataclass(frozen=True)
class Mailing:
    server: Server
    inbox: Inbox
    client: str
    freelancer: str


@pytest.fixture(scope="module")
def mailing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailing]:
    """`serve` on SQLite with the demo data, e-mailing through the test's SMTP server."""
    inbox = Inbox()
    for port in smtp_server(inbox):
        workdir = tmp_path_factory.mktemp("e2e-mail")
        env = _server_env(workdir)
        env.update(SMTP_URL=f"smtp://127.0.0.1:{port}", SMTP_FROM=SENDER)
        client, freelancer, _ = _seed(workdir, env)
        with running(start_server(workdir, env)) as (server,):
            yield Mailing(server, inbox, client, freelancer)


def released_mail(inbox: Inbox, title: str) -> list[EmailMessage]:
    return [m for m in inbox.messages() if str(m["Subject"]) == f"Payment released: “{title}”"]


async def test_a_release_is_emailed_to_the_freelancer_in_plain_text_and_html(
    mailing: Mailing,
) -> None:
    async with http(mailing.server) as api:
        contract = await active_contract(api, mailing.client, mailing.freelancer)
        milestone = contract.milestone_ids[0]
        await api.mutate(FUND_MILESTONE, mailing.client, milestoneId=milestone)
        await api.mutate(SUBMIT_MILESTONE, mailing.freelancer, milestoneId=milestone)
        await api.mutate(RELEASE_MILESTONE, mailing.client, milestoneId=milestone)

    await until("the release e-mail", lambda: released_mail(mailing.inbox, "One"))
    [mail] = released_mail(mailing.inbox, "One")
    assert mail["To"] == "freelancer@example.com"
    assert mail["From"] == SENDER
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and html is not None
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    assert "100.00" in plain.get_content()
    assert "“One”" in plain.get_content()
    assert "100.00" in html.get_content()
    envelopes = [e for e in mailing.inbox.envelopes if e.rcpt_tos == ["freelancer@example.com"]]
    assert envelopes, "no envelope for the freelancer"


# --- across processes on PostgreSQL --------------------------------------------------------


@pytest.fixture(scope="module")
async def pair(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    async with two_servers(tmp_path_factory.mktemp("e2e-notices"), "notices") as pair:
        yield pair


async def first_bonus_heard(
    api: Http, client: str, contract_id: str, subscription: Subscription
) -> dict[str, Any]:
    """Pay bonuses on the first process until the subscriber on the second hears one: the
    server registers a subscription some moments after the socket is acknowledged, and a
    notification has no replay. The one heard names the amount of a bonus paid."""
    paid: list[str] = []
    for attempt in range(1, 6):
        paid.append(f"{attempt}.00")
        await pay_bonus(api, client, contract_id, paid[-1])
        with contextlib.suppress(TimeoutError):
            added: dict[str, Any] = (await subscription.next(within=2.0))["notificationAdded"]
            assert any(f"{amount} " in added["body"] for amount in paid), (added, paid)
            return added
    raise AssertionError(f"no notificationAdded after {len(paid)} bonuses")


@ON_POSTGRES
@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
async def test_notification_added_reaches_a_subscriber_on_another_process(
    pair: Pair, subprotocol: str
) -> None:
    async with http(pair.first) as api:
        contract = await active_contract(api, pair.client, pair.freelancer)
        async with Subscription(
            pair.second.ws_url, pair.freelancer, NOTIFICATION_ADDED, {}, subprotocol
        ) as subscription:
            added = await first_bonus_heard(api, pair.client, contract.id, subscription)

        assert added["type"] == "BONUS_PAID"
        assert added["contract"] == {"id": contract.id}
    async with http(pair.second) as api:
        viewer = (await api.ok(NOTIFICATIONS, token=pair.freelancer))["viewer"]
    newest = viewer["notifications"]["edges"][0]["node"]
    assert (newest["type"], newest["title"], newest["readAt"]) == (
        "BONUS_PAID",
        added["title"],
        None,
    )
    assert viewer["unreadNotificationCount"] >= 1
