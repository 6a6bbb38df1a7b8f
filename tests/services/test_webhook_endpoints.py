"""Webhook endpoints: registered with a checked URL and a secret shown once, touched by their
owner only; the first attempt of every event of the owner's contracts written with the event."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable

import pytest

from app.db import models
from app.domain.errors import DomainError, ErrorCode
from app.domain.events import EventType
from app.domain.permissions import Actor
from app.notifications.webhooks import message_id
from app.services import webhooks
from app.services.runtime import Runtime
from app.services.windows import Window
from tests.services.conftest import M1, People
from tests.services.flows import Deal, refused

LOCAL = "http://127.0.0.1:9/hook"


@pytest.fixture
def local(runtime: Runtime) -> Runtime:
    """A runtime that lets webhooks go to 127.0.0.1 (WEBHOOK_ALLOW_LOOPBACK)."""
    return dataclasses.replace(runtime, webhook_allow_loopback=True)


async def problem_of(step: Awaitable[object]) -> tuple[ErrorCode, tuple[str, ...] | None]:
    with pytest.raises(DomainError) as caught:
        await step
    [problem] = caught.value.problems
    return problem.code, problem.field


async def attempts() -> list[tuple[int, str, int, str]]:
    found = await models.WebhookDelivery.all().order_by("id")
    return [(d.endpoint_id, d.event_type, d.attempt, d.message_id) for d in found]


async def test_an_endpoint_is_registered_with_a_secret_shown_once(
    local: Runtime, people: People
) -> None:
    # when
    endpoint, secret = await webhooks.create_endpoint(
        local, people.client.actor, url=LOCAL, description=" CRM "
    )
    # then
    assert secret.startswith("whsec_")
    assert (endpoint.url, endpoint.description, endpoint.event_types) == (LOCAL, "CRM", ())
    assert endpoint.enabled and not hasattr(endpoint, "secret")
    assert await webhooks.endpoints_of(people.client.actor.user_id) == [endpoint]
    # when
    rotated, again = await webhooks.rotate_secret(local, people.client.actor, endpoint.id)
    # then
    assert again != secret and rotated == endpoint
    assert (await models.WebhookEndpoint.get(id=endpoint.id)).secret == again


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",  # loopback, not allowed here
        "https://10.0.0.7/hook",  # private
        "https://169.254.169.254/latest",  # metadata
        "https://user:pw@127.0.0.1/hook",
        "ftp://example.com/",
    ],
)
async def test_an_unsafe_url_is_refused_and_nothing_is_stored(
    runtime: Runtime, people: People, url: str
) -> None:
    step = webhooks.create_endpoint(runtime, people.client.actor, url=url)
    assert await problem_of(step) == (ErrorCode.INVALID_INPUT, ("url",))
    assert await models.WebhookEndpoint.all().count() == 0


async def test_a_long_description_is_refused(local: Runtime, people: People) -> None:
    long = "x" * (webhooks.MAX_WEBHOOK_DESCRIPTION + 1)
    step = webhooks.create_endpoint(local, people.client.actor, url=LOCAL, description=long)
    assert await problem_of(step) == (ErrorCode.INVALID_INPUT, ("description",))


async def test_only_the_owner_sees_or_touches_an_endpoint(local: Runtime, people: People) -> None:
    endpoint, _ = await webhooks.create_endpoint(local, people.client.actor, url=LOCAL)
    other = people.outsider.actor
    admin = Actor(other.user_id, is_admin=True)
    for someone in (other, admin):
        assert await webhooks.endpoint(someone, endpoint.id) is None
        for step in (
            webhooks.update_endpoint(local, someone, endpoint.id, enabled=False),
            webhooks.delete_endpoint(local, someone, endpoint.id),
            webhooks.rotate_secret(local, someone, endpoint.id),
            webhooks.send_test(local, someone, endpoint.id),
        ):
            assert await problem_of(step) == (ErrorCode.NOT_FOUND, ("id",))
    assert await webhooks.endpoint(people.client.actor, endpoint.id) == endpoint


async def test_updating_and_deleting(local: Runtime, people: People) -> None:
    owner = people.client.actor
    endpoint, _ = await webhooks.create_endpoint(local, owner, url=LOCAL)
    # when
    changed = await webhooks.update_endpoint(
        local,
        owner,
        endpoint.id,
        event_types=[EventType.MILESTONE_RELEASED, EventType.MILESTONE_FUNDED],
        enabled=False,
    )
    # then
    assert changed.event_types == (EventType.MILESTONE_FUNDED, EventType.MILESTONE_RELEASED)
    assert not changed.enabled
    # when
    await webhooks.delete_endpoint(local, owner, endpoint.id)
    # then
    assert await webhooks.endpoints_of(owner.user_id) == []
    step = webhooks.update_endpoint(local, owner, endpoint.id, enabled=True)
    assert await problem_of(step) == (ErrorCode.NOT_FOUND, ("id",))


async def test_every_event_of_the_owners_contracts_gets_its_first_attempt_with_it(
    local: Runtime, people: People
) -> None:
    client, freelancer = people.client.actor, people.freelancer.actor
    every, _ = await webhooks.create_endpoint(local, client, url=LOCAL)
    funded_only, _ = await webhooks.create_endpoint(
        local, freelancer, url=LOCAL, event_types=[EventType.MILESTONE_FUNDED]
    )
    off, _ = await webhooks.create_endpoint(local, freelancer, url=LOCAL)
    await webhooks.update_endpoint(local, freelancer, off.id, enabled=False)
    await webhooks.create_endpoint(local, people.outsider.actor, url=LOCAL)
    # when
    deal = await Deal.active(local, client, freelancer)
    await deal.fund(M1)
    # then
    assert await attempts() == [
        (every.id, "CONTRACT_OFFERED", 1, message_id(every.id, deal.id, 1)),
        (every.id, "CONTRACT_ACCEPTED", 1, message_id(every.id, deal.id, 2)),
        (every.id, "MILESTONE_FUNDED", 1, message_id(every.id, deal.id, 3)),
        (funded_only.id, "MILESTONE_FUNDED", 1, message_id(funded_only.id, deal.id, 3)),
    ]
    first = await models.WebhookDelivery.filter(endpoint_id=every.id).order_by("id").first()
    assert first is not None
    assert (first.due_at, first.first_attempt_at, first.attempted_at) == (
        local.clock(),
        local.clock(),
        None,
    )


async def test_a_refused_mutation_writes_no_delivery(
    local: Runtime, people: People, deal: Deal
) -> None:
    await webhooks.create_endpoint(local, people.client.actor, url=LOCAL)
    # when
    problems = await refused(deal.fund(M1, by=people.freelancer.actor))
    # then
    assert problems
    assert await attempts() == []


async def test_a_test_and_a_redelivery_are_queued_and_shown_newest_first(
    local: Runtime, people: People
) -> None:
    owner = people.client.actor
    endpoint, _ = await webhooks.create_endpoint(local, owner, url=LOCAL)
    deal = await Deal.offer(local, owner, people.freelancer.actor)
    [offered] = await models.WebhookDelivery.all()
    # when
    await webhooks.send_test(local, owner, endpoint.id)
    again = await webhooks.redeliver(local, owner, offered.id)
    # then
    page = await webhooks.deliveries_page(endpoint.id, Window(size=10))
    assert [(d.event_type, d.attempt) for d in page.rows] == [
        ("CONTRACT_OFFERED", 1),
        ("WEBHOOK_TEST", 1),
        ("CONTRACT_OFFERED", 1),
    ]
    assert page.rows[0] == again and again.message_id == offered.message_id
    event = await models.ContractEvent.get(contract_id=deal.id, sequence=1)
    assert (page.rows[0].event_pk, page.rows[1].event_pk, page.rows[2].event_pk) == (
        event.id,
        None,
        event.id,
    )
    assert page.rows[1].message_id.startswith("msg_test_")
    # and another's delivery is not theirs to redeliver
    step = webhooks.redeliver(local, people.outsider.actor, offered.id)
    assert await problem_of(step) == (ErrorCode.NOT_FOUND, ("deliveryId",))
    assert await webhooks.delivery(people.outsider.actor, offered.id) is None


async def test_a_user_has_at_most_max_endpoints(local: Runtime, people: People) -> None:
    owner = people.client.actor
    for _ in range(webhooks.MAX_ENDPOINTS):
        await webhooks.create_endpoint(local, owner, url=LOCAL)
    # when
    step = webhooks.create_endpoint(local, owner, url=LOCAL)
    # then
    assert await problem_of(step) == (ErrorCode.INVALID_INPUT, ("url",))
    assert await models.WebhookEndpoint.all().count() == webhooks.MAX_ENDPOINTS
