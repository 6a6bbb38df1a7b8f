"""The commands of the notification and webhook mutations. Their services
(`app.services.notifications`, `app.services.webhooks`) take keyword arguments; a mutation's
row reads its input into one of these (`app.graphql.commands`) and passes its fields on."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.commands import Command
from app.domain.events import EventType
from app.domain.notifications import NotificationType


@dataclass(frozen=True, kw_only=True)
class MarkNotificationsRead(Command):
    ids: tuple[int, ...] = ()
    all: bool = False


@dataclass(frozen=True, kw_only=True)
class NotificationSettingChoice:
    type: NotificationType
    email: bool


@dataclass(frozen=True, kw_only=True)
class UpdateNotificationSettings(Command):
    settings: tuple[NotificationSettingChoice, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CreateWebhookEndpoint(Command):
    url: str
    event_types: tuple[EventType, ...] = ()
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class UpdateWebhookEndpoint(Command):
    id: int
    url: str | None = None
    event_types: tuple[EventType, ...] | None = None
    description: str | None = None
    enabled: bool | None = None


@dataclass(frozen=True, kw_only=True)
class DeleteWebhookEndpoint(Command):
    id: int


@dataclass(frozen=True, kw_only=True)
class RotateWebhookSecret(Command):
    id: int


@dataclass(frozen=True, kw_only=True)
class SendTestWebhook(Command):
    id: int


@dataclass(frozen=True, kw_only=True)
class RedeliverWebhook(Command):
    delivery_id: int
