"""Partners' webhook endpoints: registering one (its signing secret shown once), changing,
deleting, rotating the secret, queueing a test, redelivering, and the attempts an endpoint shows.

Only an endpoint's owner sees or touches it: any other id, or a deleted endpoint, is NOT_FOUND,
the answer a missing one gets. A URL is checked when it is given, with its name resolved
(`app.notifications.addresses`; loopback only with WEBHOOK_ALLOW_LOOPBACK), and again by the
worker at each delivery. Sending is the outbox worker's (app/services/outbox.py): a test or a
redelivery is a delivery row due now. The attempts of an event are written with the event
(app/services/event_outbox.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from tortoise.expressions import Q

from app.db import models
from app.domain.errors import DomainError, ErrorCode, refuse
from app.domain.events import EventType
from app.domain.permissions import Actor
from app.notifications.addresses import UnsafeUrl, resolve_target
from app.notifications.webhooks import TEST_TYPE, new_secret
from app.services.reads import Page, page
from app.services.records import (
    WEBHOOK_DELIVERIES,
    WEBHOOK_ENDPOINTS,
    WebhookDeliveryRecord,
    WebhookEndpointRecord,
    encode_event_types,
)
from app.services.runtime import Runtime
from app.services.windows import Keyset, Window

MAX_ENDPOINTS = 20  # per user
MAX_WEBHOOK_DESCRIPTION = 500  # characters
DELIVERY_KEYS = Keyset(("id",), descending=True)  # newest first


def _not_found(field: str = "id") -> DomainError:
    noun = "webhook delivery" if field == "deliveryId" else "webhook endpoint"
    return refuse(ErrorCode.NOT_FOUND, f"No such {noun}", [field])


async def _checked_url(runtime: Runtime, url: str) -> str:
    try:
        await resolve_target(url.strip(), allow_loopback=runtime.webhook_allow_loopback)
    except UnsafeUrl as error:
        raise refuse(ErrorCode.INVALID_INPUT, str(error), ["url"]) from None
    return url.strip()


def _checked_description(description: str) -> str:
    if len(description) > MAX_WEBHOOK_DESCRIPTION:
        raise refuse(
            ErrorCode.INVALID_INPUT,
            f"A description is at most {MAX_WEBHOOK_DESCRIPTION} characters",
            ["description"],
        )
    return description.strip()


def _types(event_types: Sequence[EventType]) -> str:
    return encode_event_types(tuple(dict.fromkeys(event_types)))


async def _owned(actor: Actor, endpoint_id: int) -> models.WebhookEndpoint:
    found = await models.WebhookEndpoint.filter(
        id=endpoint_id, owner_id=actor.user_id, deleted=False
    ).first()
    if found is None:
        raise _not_found()
    return found


async def create_endpoint(
    runtime: Runtime,
    actor: Actor,
    *,
    url: str,
    event_types: Sequence[EventType] = (),
    description: str = "",
) -> tuple[WebhookEndpointRecord, str]:
    """Register an endpoint of the actor's (every event type when none is given); it and its
    signing secret, which is never shown again."""
    description = _checked_description(description)
    live = models.WebhookEndpoint.filter(owner_id=actor.user_id, deleted=False)
    if await live.count() >= MAX_ENDPOINTS:
        raise refuse(ErrorCode.INVALID_INPUT, f"At most {MAX_ENDPOINTS} webhook endpoints", ["url"])
    checked = await _checked_url(runtime, url)
    secret = new_secret()
    created = await models.WebhookEndpoint.create(
        owner_id=actor.user_id,
        url=checked,
        event_types=_types(event_types),
        description=description,
        secret=secret,
        created_at=runtime.clock(),
    )
    return WEBHOOK_ENDPOINTS.from_row(created), secret


async def update_endpoint(
    runtime: Runtime,
    actor: Actor,
    endpoint_id: int,
    *,
    url: str | None = None,
    event_types: Sequence[EventType] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpointRecord:
    """Change what is given; enabling an endpoint again forgets since when it failed."""
    endpoint = await _owned(actor, endpoint_id)
    changes: dict[str, Any] = {}
    if description is not None:
        changes["description"] = _checked_description(description)
    if url is not None:
        changes["url"] = await _checked_url(runtime, url)
    if event_types is not None:
        changes["event_types"] = _types(event_types)
    if enabled is not None:
        changes["enabled"] = enabled
        if enabled:
            changes["failing_since"] = None
    if changes:
        endpoint.update_from_dict(changes)
        await endpoint.save(update_fields=list(changes))
    return WEBHOOK_ENDPOINTS.from_row(endpoint)


async def delete_endpoint(
    runtime: Runtime, actor: Actor, endpoint_id: int
) -> WebhookEndpointRecord:
    """Delete the endpoint (nothing more is delivered to it); it as it was."""
    endpoint = await _owned(actor, endpoint_id)
    endpoint.deleted = True
    await endpoint.save(update_fields=["deleted"])
    return WEBHOOK_ENDPOINTS.from_row(endpoint)


async def rotate_secret(
    runtime: Runtime, actor: Actor, endpoint_id: int
) -> tuple[WebhookEndpointRecord, str]:
    """A new signing secret, shown once; every delivery from now on is signed with it."""
    endpoint = await _owned(actor, endpoint_id)
    endpoint.secret = new_secret()
    await endpoint.save(update_fields=["secret"])
    return WEBHOOK_ENDPOINTS.from_row(endpoint), endpoint.secret


async def send_test(runtime: Runtime, actor: Actor, endpoint_id: int) -> WebhookEndpointRecord:
    """Queue a test message (`WEBHOOK_TEST`) to the endpoint, due now."""
    endpoint = await _owned(actor, endpoint_id)
    now = runtime.clock()
    await models.WebhookDelivery.create(
        endpoint_id=endpoint.id,
        event_type=TEST_TYPE,
        message_id=f"msg_test_{secrets.token_hex(8)}",
        attempt=1,
        first_attempt_at=now,
        due_at=now,
        created_at=now,
    )
    return WEBHOOK_ENDPOINTS.from_row(endpoint)


async def redeliver(runtime: Runtime, actor: Actor, delivery_id: int) -> WebhookDeliveryRecord:
    """Send a delivery's message again, due now: a new series of attempts (from 1) with the
    same webhook-id, so the receiver can tell it has it already."""
    found = await models.WebhookDelivery.filter(
        id=delivery_id, endpoint__owner_id=actor.user_id, endpoint__deleted=False
    ).first()
    if found is None:
        raise _not_found("deliveryId")
    now = runtime.clock()
    again = await models.WebhookDelivery.create(
        endpoint_id=found.endpoint_id,
        contract_id=found.contract_id,
        sequence=found.sequence,
        event_type=found.event_type,
        message_id=found.message_id,
        attempt=1,
        first_attempt_at=now,
        due_at=now,
        created_at=now,
    )
    [record] = await _with_events([WEBHOOK_DELIVERIES.from_row(again)])
    return record


async def endpoints_of(user_id: int) -> list[WebhookEndpointRecord]:
    """The user's endpoints, oldest first."""
    found = await models.WebhookEndpoint.filter(owner_id=user_id, deleted=False).order_by("id")
    return [WEBHOOK_ENDPOINTS.from_row(row) for row in found]


async def endpoint(actor: Actor, endpoint_id: int) -> WebhookEndpointRecord | None:
    """The endpoint, if it is the actor's."""
    found = await models.WebhookEndpoint.filter(
        id=endpoint_id, owner_id=actor.user_id, deleted=False
    ).first()
    return None if found is None else WEBHOOK_ENDPOINTS.from_row(found)


async def deliveries_page(endpoint_id: int, window: Window) -> Page[WebhookDeliveryRecord]:
    """The endpoint's attempts, newest first, each with the stored event it carries."""
    query = models.WebhookDelivery.filter(endpoint_id=endpoint_id)
    found = await page(query, DELIVERY_KEYS, window, WEBHOOK_DELIVERIES)
    return Page(await _with_events(found.rows), found.has_next, found.has_previous, found.total)


async def delivery(actor: Actor, delivery_id: int) -> WebhookDeliveryRecord | None:
    """The attempt, if its endpoint is the actor's."""
    found = await models.WebhookDelivery.filter(
        id=delivery_id, endpoint__owner_id=actor.user_id, endpoint__deleted=False
    ).first()
    if found is None:
        return None
    [record] = await _with_events([WEBHOOK_DELIVERIES.from_row(found)])
    return record


async def _with_events(found: list[WebhookDeliveryRecord]) -> list[WebhookDeliveryRecord]:
    """The attempts with the ids of their events, read in one statement."""
    keys = {(d.contract_id, d.sequence) for d in found if d.contract_id is not None}
    if not keys:
        return found
    events = await models.ContractEvent.filter(
        Q(*(Q(contract_id=c, sequence=s) for c, s in keys), join_type="OR")
    ).values_list("contract_id", "sequence", "id")
    pks = {(c, s): pk for c, s, pk in events}
    return [replace(d, event_pk=pks.get((d.contract_id, d.sequence))) for d in found]
