"""Partner webhooks: the viewer's endpoints and each attempt to deliver to them
(docs/concepts.md, Webhooks). An endpoint is its owner's alone: `User.webhookEndpoints` lists
it only on the viewer, `node(id)` finds it (and its deliveries) only for its owner, and the
mutations answer NOT_FOUND for anyone else's, as for an unknown id. Its signing secret is in
the payload of `createWebhookEndpoint` and `rotateWebhookSecret` only, never readable again.

The payload shapes of the webhook mutations are here, with the types they return."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from app.graphql.enums import EventType
from app.graphql.errors import UserError
from app.graphql.leaf_types import Node, global_id, plain_values
from app.graphql.mutation_fields import Caller, touched, user_errors_field
from app.graphql.pagination import (
    CURSOR,
    EDGES,
    PAGE_INFO,
    TOTAL_COUNT,
    After,
    Before,
    First,
    Last,
    PageInfo,
    deliveries_cursor,
    deliveries_window,
    page_info,
)
from app.services import webhooks
from app.services.records import WebhookDeliveryRecord, WebhookEndpointRecord

IssuedSecret = tuple[WebhookEndpointRecord, str]  # what the services that issue a secret return

SECRET = (
    "The endpoint's signing secret (`whsec_…`, the Standard Webhooks form): shown this once, "
    "never readable again; verify each delivery's `webhook-signature` with it."
)


@strawberry.type(
    description="One attempt to deliver a message to a webhook endpoint. An event's message "
    "is tried again on failure (`WEBHOOK_RETRY_SCHEDULE`, for up to 3 days), each attempt a "
    "delivery of its own with the same `webhookId`; a test message is tried once."
)
class WebhookDelivery(Node):
    event_id: strawberry.ID | None = strawberry.field(
        description="The global id of the `ContractEvent` it carries; null for a test message "
        "(`sendTestWebhook`)."
    )
    webhook_id: str = strawberry.field(
        description="The message's `webhook-id` header: the same for every attempt and "
        "redelivery of one message, so a receiver de-duplicates by it."
    )
    event_type: str = strawberry.field(
        description="The payload's `type`: a `ContractEventType` value, or `WEBHOOK_TEST` "
        "for `sendTestWebhook`."
    )
    attempt: int = strawberry.field(description="Which attempt at this message it is, from 1.")
    status_code: int | None = strawberry.field(
        description="The HTTP status the endpoint answered (2xx is delivered); null while "
        "pending, or when no answer came (refused address, timeout, connection error: see "
        "`responseExcerpt`)."
    )
    duration_ms: int | None = strawberry.field(
        description="How long the attempt took, in milliseconds; null while pending."
    )
    next_retry_at: datetime | None = strawberry.field(
        description="When the next attempt is due, after a failure; null once delivered, "
        "while pending, or when no attempt follows."
    )
    response_excerpt: str | None = strawberry.field(
        description="The start of the endpoint's answer (at most 1,024 bytes), or why no "
        "answer came; null while pending."
    )
    created_at: datetime = strawberry.field(description="When the attempt was planned.")

    @classmethod
    def from_record(cls, record: WebhookDeliveryRecord) -> WebhookDelivery:
        return cls(
            id=global_id("WebhookDelivery", record.id),
            **plain_values(
                cls,
                record,
                event_id=None
                if record.event_pk is None
                else global_id("ContractEvent", record.event_pk),
                webhook_id=record.message_id,
            ),
        )


@strawberry.type(description="A delivery of a page of `deliveries`, with its cursor.")
class WebhookDeliveryEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: WebhookDelivery = strawberry.field(description="The delivery.")


@strawberry.type(description="A page of an endpoint's deliveries, newest first.")
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(description=TOTAL_COUNT)


@strawberry.type(
    description="A partner's HTTPS endpoint that receives, signed (Standard Webhooks), the "
    "events of every contract its owner is a party to."
)
class WebhookEndpoint(Node):
    url: str = strawberry.field(
        description="Where deliveries are POSTed: https, resolving to public addresses only "
        "(checked again at each delivery); redirects are not followed."
    )
    event_types: list[EventType] = strawberry.field(
        description="The event types it receives; empty: every type."
    )
    description: str = strawberry.field(description="The owner's note about it (may be empty).")
    enabled: bool = strawberry.field(
        description="Whether it receives deliveries: false once turned off, or after failing "
        "for 3 days (its owner is then notified, WEBHOOK_ENDPOINT_DISABLED). While it is "
        "disabled its pending deliveries wait; enabled again, they go out."
    )
    created_at: datetime = strawberry.field(description="When it was registered.")
    _record: strawberry.Private[WebhookEndpointRecord]

    @classmethod
    def from_record(cls, record: WebhookEndpointRecord) -> WebhookEndpoint:
        return cls(
            id=global_id("WebhookEndpoint", record.id),
            **plain_values(cls, record, event_types=list(record.event_types)),
            _record=record,
        )

    @strawberry.field(description="Every attempt to deliver to it, newest first.")
    async def deliveries(
        self, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> WebhookDeliveryConnection:
        window = deliveries_window(first, after, last, before)
        page = await webhooks.deliveries_page(self._record.id, window)
        edges = [
            WebhookDeliveryEdge(cursor=deliveries_cursor(r.id), node=WebhookDelivery.from_record(r))
            for r in page.rows
        ]
        return WebhookDeliveryConnection(
            edges=edges,
            page_info=page_info([e.cursor for e in edges], page),
            total_count=page.total,
        )


@strawberry.type
class WebhookEndpointPayload:
    """The shape of the payloads that return the endpoint they touched."""

    webhook_endpoint: WebhookEndpoint | None = touched("webhook endpoint")
    user_errors: list[UserError] = user_errors_field()

    @classmethod
    async def read(cls, caller: Caller, endpoint: WebhookEndpointRecord) -> Self:
        return cls(webhook_endpoint=WebhookEndpoint.from_record(endpoint))


@strawberry.type
class IssuedSecretPayload:
    """The shape of the payloads that issue a signing secret: the endpoint and its secret."""

    webhook_endpoint: WebhookEndpoint | None = touched("webhook endpoint")
    secret: str | None = strawberry.field(default=None, description=SECRET)
    user_errors: list[UserError] = user_errors_field()

    @classmethod
    async def read(cls, caller: Caller, issued: IssuedSecret) -> Self:
        endpoint, secret = issued
        return cls(webhook_endpoint=WebhookEndpoint.from_record(endpoint), secret=secret)


@strawberry.type
class DeliveryPayload:
    """The shape of redeliverWebhook's payload: the new attempt."""

    delivery: WebhookDelivery | None = touched("new delivery attempt")
    user_errors: list[UserError] = user_errors_field()

    @classmethod
    async def read(cls, caller: Caller, delivery: WebhookDeliveryRecord) -> Self:
        return cls(delivery=WebhookDelivery.from_record(delivery))


async def own_endpoints(user_id: int) -> list[WebhookEndpoint]:
    """`User.webhookEndpoints` (of the viewer, `user_id`)."""
    return [WebhookEndpoint.from_record(r) for r in await webhooks.endpoints_of(user_id)]
