"""The viewer's notifications: what happened on their contracts, reminders of deadlines, and
webhook endpoints disabled, each written in the transaction of the change it reports
(docs/concepts.md, Notifications). A notification is its recipient's alone: `User.notifications`
lists it only on the viewer, `node(id)` finds it only for its recipient, and the mutations
here touch only the viewer's own.

The payload shapes of `markNotificationsRead` and `updateNotificationSettings` are here, with
the types they return, rather than in outcomes.py (the contract payloads)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Self

import strawberry

from app.graphql.context import Info
from app.graphql.enums import NotificationType
from app.graphql.errors import UserError
from app.graphql.leaf_types import Node, global_id, plain_values
from app.graphql.mutation_fields import Caller, touched, user_errors_field
from app.graphql.pagination import (
    CURSOR,
    EDGES,
    PAGE_INFO,
    TOTAL_COUNT,
    PageInfo,
    notifications_cursor,
    notifications_window,
    page_info,
)
from app.graphql.types import Contract, Milestone, load_contract, load_milestone
from app.services import notifications
from app.services.reads import Page
from app.services.records import NotificationRecord


@strawberry.type(
    description="A message for the viewer: a change on one of their contracts (for the other "
    "party, both parties for an automatic step, admins for a dispute opened), a reminder "
    "before a deadline, or a webhook endpoint of theirs disabled. Also e-mailed when the "
    "server sends e-mail and the viewer's setting for its type allows it."
)
class Notification(Node):
    type: NotificationType = strawberry.field(description="What it is about.")
    title: str = strawberry.field(description="A one-line summary, such as an e-mail subject.")
    body: str = strawberry.field(
        description="What happened and what to do next, in plain text: paragraphs separated "
        "by a blank line, amounts with their currency."
    )
    created_at: datetime = strawberry.field(description="When it was written.")
    read_at: datetime | None = strawberry.field(
        description="When `markNotificationsRead` marked it read; null while unread."
    )
    _record: strawberry.Private[NotificationRecord]

    @classmethod
    def from_record(cls, record: NotificationRecord) -> Notification:
        return cls(
            id=global_id("Notification", record.id),
            **plain_values(cls, record),
            _record=record,
        )

    # Its recipient is a party of the contract or an admin, who may see it.
    @strawberry.field(description="The contract it concerns; null for an endpoint disabled.")
    async def contract(self, info: Info) -> Contract | None:
        if self._record.contract_id is None:
            return None
        return await load_contract(info, self._record.contract_id)

    @strawberry.field(
        description="The milestone it concerns; null for a contract-level one, and once the "
        "milestone was deleted by a change request."
    )
    async def milestone(self, info: Info) -> Milestone | None:
        if self._record.milestone_id is None:
            return None
        return await load_milestone(info, self._record.milestone_id)


@strawberry.type(description="A notification of a page of `notifications`, with its cursor.")
class NotificationEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: Notification = strawberry.field(description="The notification.")


@strawberry.type(description="A page of the viewer's notifications, newest first.")
class NotificationConnection:
    edges: list[NotificationEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(description=TOTAL_COUNT)

    @classmethod
    def of(cls, page: Page[NotificationRecord]) -> NotificationConnection:
        edges = [
            NotificationEdge(cursor=notifications_cursor(r.id), node=Notification.from_record(r))
            for r in page.rows
        ]
        return cls(
            edges=edges,
            page_info=page_info([e.cursor for e in edges], page),
            total_count=page.total,
        )


async def own_notifications(
    user_id: int,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    unread: bool | None,
) -> NotificationConnection:
    """A page of `User.notifications` (of the viewer, `user_id`)."""
    window = notifications_window(first, after, last, before)
    return NotificationConnection.of(
        await notifications.notifications_page(user_id, window, unread=unread)
    )


async def unread_count(user_id: int) -> int:
    return await notifications.unread_count(user_id)


async def own_settings(user_id: int) -> list[NotificationSetting]:
    return setting_list(await notifications.notification_settings(user_id))


@strawberry.type(description="How the viewer is told of one type of notification.")
class NotificationSetting:
    type: NotificationType = strawberry.field(description="The type of notification.")
    email: bool = strawberry.field(
        description="Whether it is also e-mailed (when the server sends e-mail); true unless "
        "turned off. In-app notifications are always written."
    )


def setting_list(email: Mapping[NotificationType, bool]) -> list[NotificationSetting]:
    """Every type's setting, in the order of `NotificationType`."""
    return [NotificationSetting(type=t, email=email[t]) for t in NotificationType]


@strawberry.type
class MarkedReadPayload:
    """The shape of markNotificationsRead's payload."""

    marked: int | None = strawberry.field(
        default=None,
        description="How many notifications it marked read (those already read, and ids "
        "that name none of the viewer's, are not counted); null when it was refused.",
    )
    unread_notification_count: int | None = strawberry.field(
        default=None,
        description="How many of the viewer's notifications are unread after it; null when "
        "it was refused.",
    )
    user_errors: list[UserError] = user_errors_field()

    @classmethod
    async def read(cls, caller: Caller, marked: int) -> Self:
        count = await unread_count(caller.actor.user_id)
        return cls(marked=marked, unread_notification_count=count)


@strawberry.type
class NotificationSettingsPayload:
    """The shape of updateNotificationSettings' payload: every type's setting after it."""

    notification_settings: list[NotificationSetting] | None = touched(
        "viewer's setting of every notification type"
    )
    user_errors: list[UserError] = user_errors_field()

    @classmethod
    async def read(cls, caller: Caller, email: Mapping[NotificationType, bool]) -> Self:
        return cls(notification_settings=setting_list(email))
