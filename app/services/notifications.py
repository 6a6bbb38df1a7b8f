"""The viewer's notifications: the page (newest first), the unread count, marking read, and the
e-mail choice per type; and storing notices that no contract event stands for (reminders, a
disabled webhook endpoint) inside the caller's transaction.

The notifications of contract events are written with the events (app/services/event_outbox.py).
Every notification wakes its recipient's `notificationAdded` through the bus's contract notice,
whose people it names (`Notice.party_ids`): no channel of its own. A notice stored here names no
contract (contract id 0, which no contract has), so contract subscribers ignore it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.db import models
from app.domain.changes import UNKNOWN_ID
from app.domain.errors import ErrorCode, refuse
from app.domain.notifications import Notice, NotificationType
from app.events.fanout import Notice as BusNotice
from app.services.event_outbox import NOTIFICATION_ROWS, notification_values
from app.services.reads import Page, page
from app.services.records import NOTIFICATIONS, NotificationRecord
from app.services.runtime import Runtime
from app.services.statements import Connection, rows
from app.services.windows import Keyset, Window

MAX_MARKED_IDS = 100  # ids one markNotificationsRead names
MAX_UNSEEN = 100  # notifications one wake-up of notificationAdded reads
NOTIFICATION_KEYS = Keyset(("id",), descending=True)  # newest first


async def notifications_page(
    user_id: int, window: Window, *, unread: bool | None = None
) -> Page[NotificationRecord]:
    """The user's notifications, newest first; only the unread (True) or the read (False)."""
    query = models.Notification.filter(recipient_id=user_id)
    if unread is not None:
        query = query.filter(read_at__isnull=unread)
    return await page(query, NOTIFICATION_KEYS, window, NOTIFICATIONS)


async def unread_count(user_id: int) -> int:
    return await models.Notification.filter(recipient_id=user_id, read_at__isnull=True).count()


async def unseen(user_id: int, after_id: int) -> list[NotificationRecord]:
    """The user's notifications after `after_id`, oldest first (at most MAX_UNSEEN)."""
    found = (
        await models.Notification.filter(recipient_id=user_id, id__gt=after_id)
        .order_by("id")
        .limit(MAX_UNSEEN)
    )
    return [NOTIFICATIONS.from_row(row) for row in found]


async def latest_id(user_id: int) -> int:
    """The id of the user's newest notification, 0 for none: where `notificationAdded` starts."""
    newest = await models.Notification.filter(recipient_id=user_id).order_by("-id").first()
    return 0 if newest is None else int(newest.id)


async def notifications_by_id(ids: Sequence[int]) -> list[NotificationRecord | None]:
    """Notifications by id, in order (None for none); who may see one is its recipient."""
    found = {row.id: row for row in await models.Notification.filter(id__in=list(ids))}
    return [NOTIFICATIONS.from_row(found[i]) if i in found else None for i in ids]


async def mark_read(
    runtime: Runtime, user_id: int, *, ids: Sequence[int] = (), all: bool = False
) -> int:
    """Mark the user's notifications named by `ids`, or `all` of them, read now (those read
    already keep their time; an id not the user's, or none, is passed over); how many changed."""
    if all == bool(ids):
        raise refuse(ErrorCode.INVALID_INPUT, "Give either ids or all: true", ["ids"])
    if len(ids) > MAX_MARKED_IDS:
        raise refuse(ErrorCode.INVALID_INPUT, f"At most {MAX_MARKED_IDS} ids at once", ["ids"])
    query = models.Notification.filter(recipient_id=user_id, read_at__isnull=True)
    if not all:
        query = query.filter(id__in=[i for i in ids if i != UNKNOWN_ID])
    return int(await query.update(read_at=runtime.clock()))


async def notification_settings(user_id: int) -> dict[NotificationType, bool]:
    """Whether the user gets each type by e-mail (every type; on unless turned off)."""
    chosen = {
        row.type: row.email for row in await models.NotificationSetting.filter(user_id=user_id)
    }
    return {kind: chosen.get(kind.value, True) for kind in NotificationType}


async def update_notification_settings(
    user_id: int, email: Mapping[NotificationType, bool]
) -> dict[NotificationType, bool]:
    """Set the user's e-mail choice of the types given; every type's choice after."""
    for kind, wanted in email.items():
        await models.NotificationSetting.update_or_create(
            defaults={"email": wanted}, user_id=user_id, type=kind.value
        )
    return await notification_settings(user_id)


async def add_notices(runtime: Runtime, conn: Connection, notices: Sequence[Notice]) -> BusNotice:
    """Store `notices` on `conn`, inside the caller's transaction (their e-mail owed when the
    runtime e-mails), and publish the bus notice that wakes their recipients; the caller hands
    it to `runtime.bus.committed` once the transaction has committed."""
    now = runtime.clock()
    if notices:
        values = [notification_values(n, now, emails=runtime.emails) for n in notices]
        await rows(conn, *NOTIFICATION_ROWS.insert_rows(values))
    people = tuple(dict.fromkeys(n.recipient_id for n in notices))
    announced = BusNotice(contract_id=0, sequence=0, party_ids=people)
    await runtime.bus.publish(conn, announced)
    return announced
