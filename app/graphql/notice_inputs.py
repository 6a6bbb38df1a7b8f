"""The input types of the notification and webhook mutations, one `NameInput` each, as
inputs.py holds the contract and account ones. Each is read into its command
(`app.graphql.notice_commands`), whose field names are these python names."""

from __future__ import annotations

from typing import Any

import strawberry

from app.domain.urls import MAX_URL
from app.graphql.enums import EventType, NotificationType
from app.graphql.inputs import optional
from app.services.notifications import MAX_MARKED_IDS
from app.services.webhooks import MAX_ENDPOINTS, MAX_WEBHOOK_DESCRIPTION

_URL = (
    f"An https URL, at most {MAX_URL:,} characters, whose host resolves to public addresses "
    "only (no loopback, private, link-local or metadata address; no user:password@ or "
    "#fragment); else INVALID_INPUT on `url`."
)
_EVENT_TYPES = "The event types to receive; empty: every type."
_DESCRIPTION = f"A note of yours about it, at most {MAX_WEBHOOK_DESCRIPTION} characters."


def _endpoint_id() -> Any:
    return strawberry.field(
        description="The global id of a webhook endpoint of the viewer's (anyone else's: "
        "NOT_FOUND)."
    )


@strawberry.input(description="Which of the viewer's notifications to mark read.")
class MarkNotificationsReadInput:
    ids: list[strawberry.ID] | None = optional(
        f"These notifications, at most {MAX_MARKED_IDS}; ids naming none of the viewer's are "
        "ignored, and those already read keep their `readAt`."
    )
    all: bool = strawberry.field(
        default=False, description="Every unread notification of the viewer's (instead of `ids`)."
    )


@strawberry.input(description="Whether one type of notification is also e-mailed.")
class NotificationSettingInput:
    type: NotificationType = strawberry.field(description="The type of notification.")
    email: bool = strawberry.field(description="Whether to e-mail it (true by default).")


@strawberry.input(description="The viewer's new settings; the types not listed keep theirs.")
class UpdateNotificationSettingsInput:
    settings: list[NotificationSettingInput] = strawberry.field(
        description="One setting per type to change; a type given twice: the last one counts."
    )


@strawberry.input(
    description=f"A new webhook endpoint of the viewer's, who has at most {MAX_ENDPOINTS}."
)
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description=_URL)
    event_types: list[EventType] | None = optional(f"{_EVENT_TYPES} Optional, empty by default.")
    description: str | None = optional(f"{_DESCRIPTION} Optional, empty by default.")


@strawberry.input(description="What to change of a webhook endpoint; a field left out is kept.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID = _endpoint_id()
    url: str | None = optional(f"{_URL} Optional.")
    event_types: list[EventType] | None = optional(f"{_EVENT_TYPES} Optional.")
    description: str | None = optional(f"{_DESCRIPTION} Optional.")
    enabled: bool | None = optional(
        "Whether it receives deliveries; enabling it again clears its failure record. Optional."
    )


@strawberry.input(description="The webhook endpoint to delete; its deliveries stop.")
class DeleteWebhookEndpointInput:
    id: strawberry.ID = _endpoint_id()


@strawberry.input(description="The webhook endpoint whose signing secret to replace.")
class RotateWebhookSecretInput:
    id: strawberry.ID = _endpoint_id()


@strawberry.input(description="The webhook endpoint to send a test message (`WEBHOOK_TEST`).")
class SendTestWebhookInput:
    id: strawberry.ID = _endpoint_id()


@strawberry.input(description="The delivery whose message to send again.")
class RedeliverWebhookInput:
    delivery_id: strawberry.ID = strawberry.field(
        description="The global id of a delivery to an endpoint of the viewer's (anyone "
        "else's: NOT_FOUND)."
    )
