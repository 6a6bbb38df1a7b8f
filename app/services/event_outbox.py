"""What a stored contract event owes, written in the statement batch that stores it.

Each event tells the people it concerns (`app.domain.notifications.contract_notices`): one
notification row each, its e-mail owed when e-mail is on; and each enabled webhook endpoint of
the contract's two parties whose event types take it gets a first delivery attempt, due at
once. Both go into the batch of the event's own rows, so they exist exactly when the event
committed: a refused mutation reaches no save and writes none. The endpoints are found by the
INSERT itself (`INSERT ... SELECT`), so knowing whether a party has any costs no statement of
its own; the admins are read only for a dispute opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.db import models
from app.domain.events import Event, EventType
from app.domain.notifications import Notice, contract_notices
from app.domain.state import ContractState
from app.services.statements import Batch, Connection, Table, is_postgres, rows

NOTIFICATION_ROWS = Table(models.Notification)
DELIVERY_ROWS = Table(models.WebhookDelivery)

_ADMINS = "SELECT id FROM users WHERE is_admin = $1 ORDER BY id"

# The webhook-id of an event's attempts is app.notifications.webhooks.message_id's
# "msg_<endpoint>_<contract>_<sequence>", built here from the endpoint row the SELECT finds.
_DELIVERIES = (
    "INSERT INTO webhook_deliveries (endpoint_id, contract_id, sequence, event_type, message_id,"
    " attempt, first_attempt_at, due_at, created_at)"
    " SELECT e.id, v.contract_id, v.sequence, v.type,"
    " 'msg_' || e.id || '_' || v.contract_id || '_' || v.sequence, 1, {now}, {now}, {now}"
    " FROM webhook_endpoints e, ({events}) v"
    " WHERE e.owner_id IN ($2, $3) AND e.enabled AND NOT e.deleted"
    " AND (e.event_types = '' OR e.event_types LIKE '%,' || v.type || ',%') RETURNING id"
)
_EVENT = (
    "SELECT CAST(${c} AS INTEGER) AS contract_id, CAST(${s} AS INTEGER) AS sequence, ${t} AS type"
)


async def add_event_outbox(
    contract: ContractState, batch: Batch, conn: Connection, *, emails: bool
) -> tuple[int, ...]:
    """Add the notifications and first webhook attempts of `contract.events` (stored in the
    same batch) to `batch`; the people notified."""
    if not contract.events:
        return ()
    admins: list[int] = []
    if any(e.type is EventType.DISPUTE_OPENED for e in contract.events):
        admins = [int(r["id"]) for r in await rows(conn, _ADMINS, [True])]
    notices = contract_notices(contract, admins)
    if notices:
        values = [notification_values(n, contract.now, emails=emails) for n in notices]
        batch.add(*NOTIFICATION_ROWS.insert_rows(values))
    batch.add(*_deliveries(contract, contract.events, is_postgres(conn)))
    return tuple(dict.fromkeys(n.recipient_id for n in notices))


def notification_values(notice: Notice, now: datetime, *, emails: bool) -> dict[str, Any]:
    """A notification's row, by field name; its e-mail owed from `now` if `emails`."""
    return {
        "recipient_id": notice.recipient_id,
        "type": notice.type.value,
        "title": notice.title,
        "body": notice.body,
        "contract_id": notice.contract_id,
        "milestone_id": notice.milestone_id,
        "created_at": now,
        "read_at": None,
        "email_due_at": now if emails else None,
    }


def _deliveries(
    contract: ContractState, events: Sequence[Event], postgres: bool
) -> tuple[str, list[Any]]:
    # $1 the time, $2 and $3 the parties, then three per event
    params: list[Any] = [
        *DELIVERY_ROWS.db_values({"due_at": contract.now}),
        contract.client_id,
        contract.freelancer_id,
    ]
    selects = []
    for event in events:
        n = len(params) + 1
        selects.append(_EVENT.format(c=n, s=n + 1, t=n + 2))
        params += [contract.id, event.sequence, event.type.value]
    # SQLite stores a time as the text given; PostgreSQL must be told the text is one
    now = "CAST($1 AS TIMESTAMPTZ)" if postgres else "$1"
    return _DELIVERIES.format(now=now, events=" UNION ALL ".join(selects)), params
