"""The outbox worker: the e-mails notifications owe and the webhook attempts that are due, sent
at least once whatever process dies (docs/concepts.md#notifications).

Rows are claimed in one short statement that sets a lease (`claimed_until`): on PostgreSQL
`FOR UPDATE SKIP LOCKED`, so several workers each take different rows; on SQLite the one
worker inside `serve`. The sending happens outside any transaction (on SQLite a transaction
holds the only connection), and its result is recorded afterwards in another short one. A
process killed between the two leaves the lease to expire, and a worker sends the row again,
with the same `webhook-id` (or `Message-ID`), which is what receivers de-duplicate on.

Each claimed row is sent in a task of its own, at most `MAX_IN_FLIGHT` at once and
`PER_ENDPOINT` per webhook endpoint, and a pass does not wait for them: a slow endpoint holds
its own slots only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
from tortoise import connections
from tortoise.transactions import in_transaction

from app.db import models
from app.domain.notifications import Notice, NotificationType, endpoint_disabled_notice
from app.events import fanout
from app.notifications.delivery import Attempt, deliver, webhook_client
from app.notifications.mail import email_message
from app.notifications.retries import RetrySchedule, after_attempt
from app.notifications.smtp import SmtpTarget, send_email
from app.notifications.webhooks import (
    TEST_TYPE,
    EventMessage,
    event_body,
    ping_body,
    signed_headers,
)
from app.services.notifications import add_notices
from app.services.runtime import Runtime, system_clock
from app.services.statements import Connection, Table, is_postgres, placeholders, rows

logger = logging.getLogger("app.outbox")

LEASE = timedelta(seconds=30)  # longer than any send: 10 s of timeout, then the record
MAX_IN_FLIGHT = 20
PER_ENDPOINT = 2

GlobalId = Callable[[str, int], str]
NOTIFICATIONS = Table(models.Notification)
DELIVERIES = Table(models.WebhookDelivery)
ENDPOINTS = Table(models.WebhookEndpoint)
EVENTS = Table(models.ContractEvent)


@dataclass(frozen=True)
class MailConfig:
    target: SmtpTarget
    sender: str


@dataclass(frozen=True)
class OutboxConfig:
    """What the settings say of sending; `mail` is None when e-mail is off."""

    mail: MailConfig | None
    schedule: RetrySchedule
    global_id: GlobalId


@dataclass
class Tally:
    """What this process's worker has done, by outcome, for /metrics."""

    deliveries: Counter[str] = field(default_factory=Counter)  # succeeded, failed, refused
    emails: Counter[str] = field(default_factory=Counter)  # sent, failed


def _skip_locked(conn: Connection, of: str = "") -> str:
    """A claim's lock: on PostgreSQL rows another worker is claiming are passed over; SQLite
    runs one statement at a time."""
    return f" FOR UPDATE{of} SKIP LOCKED" if is_postgres(conn) else ""


# --- e-mail ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EmailJob:
    id: int
    notice: Notice
    attempts: int
    created_at: datetime
    to: str


_CLAIM_EMAILS = (
    "UPDATE notifications SET email_claimed_until = $2 WHERE id IN ("
    "SELECT id FROM notifications WHERE email_due_at <= $1 AND emailed_at IS NULL"
    " AND (email_claimed_until IS NULL OR email_claimed_until < $1)"
    " ORDER BY email_due_at LIMIT $3{lock})"
    " RETURNING id, recipient_id, type, title, body, contract_id, milestone_id, email_attempts,"
    " created_at"
)


async def claim_emails(runtime: Runtime, limit: int) -> list[EmailJob]:
    """Lease up to `limit` due e-mails. One whose recipient turned that type's e-mail off is
    owed no more (the choice counts when sending) and is cleared instead."""
    now = runtime.clock()
    conn = connections.get("default")
    claimed = await rows(
        conn, _CLAIM_EMAILS.format(lock=_skip_locked(conn)), [now, now + LEASE, limit]
    )
    if not claimed:
        return []
    recipients = {row["recipient_id"] for row in claimed}
    addresses = dict(await models.User.filter(id__in=recipients).values_list("id", "email"))
    off = set(
        await models.NotificationSetting.filter(user_id__in=recipients, email=False).values_list(
            "user_id", "type"
        )
    )
    jobs, cleared = [], []
    for row in claimed:
        n = NOTIFICATIONS.record(row)
        if (n.recipient_id, n.type) in off or n.recipient_id not in addresses:
            cleared.append(n.id)
            continue
        notice = Notice(
            n.recipient_id,
            NotificationType(n.type),
            n.title,
            n.body,
            n.contract_id,
            n.milestone_id,
        )
        jobs.append(
            EmailJob(n.id, notice, n.email_attempts, n.created_at, addresses[n.recipient_id])
        )
    if cleared:
        await models.Notification.filter(id__in=cleared).update(
            email_due_at=None, email_claimed_until=None
        )
    return jobs


def _message(job: EmailJob, mail: MailConfig) -> EmailMessage:
    return email_message(job.notice, sender=mail.sender, to=job.to, key=f"notification-{job.id}")


async def send_one_email(
    runtime: Runtime, config: OutboxConfig, tally: Tally, job: EmailJob
) -> None:
    """Send a claimed e-mail and record the outcome: sent, or retried on the webhooks'
    schedule from the notification's creation (given up after it: the error is kept)."""
    assert config.mail is not None, "e-mails are claimed only when e-mail is on"
    try:
        await send_email(config.mail.target, _message(job, config.mail))
    except (aiosmtplib.SMTPException, OSError) as error:
        now = runtime.clock()
        attempts = job.attempts + 1
        await models.Notification.filter(id=job.id, emailed_at=None).update(
            email_attempts=attempts,
            email_due_at=config.schedule.next_attempt_at(attempts, job.created_at, now),
            email_claimed_until=None,
            email_error=f"{type(error).__name__}: {error}"[:1000],
        )
        tally.emails["failed"] += 1
        return
    now = runtime.clock()
    await models.Notification.filter(id=job.id).update(
        emailed_at=now,
        email_due_at=None,
        email_claimed_until=None,
        email_attempts=job.attempts + 1,
        email_error=None,
    )
    tally.emails["sent"] += 1


# --- webhooks -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryJob:
    id: int
    endpoint_id: int
    owner_id: int
    url: str
    secret: str
    contract_id: int | None
    sequence: int | None
    event_type: str
    message_id: str
    attempt: int
    first_attempt_at: datetime
    body: str

    @property
    def is_test(self) -> bool:
        return self.event_type == TEST_TYPE


_CLAIM_DELIVERIES = (
    "UPDATE webhook_deliveries SET claimed_until = $2 WHERE id IN ("
    "SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
    " WHERE d.attempted_at IS NULL AND d.due_at <= $1"
    " AND (d.claimed_until IS NULL OR d.claimed_until < $1)"
    " AND e.enabled = $4 AND e.deleted = $5{busy}"
    " ORDER BY d.due_at LIMIT $3{lock})"
    " RETURNING id, endpoint_id, contract_id, sequence, event_type, message_id, attempt,"
    " first_attempt_at"
)
_EVENT = (
    "SELECT e.id, e.contract_id, e.sequence, e.type, e.occurred_at, e.actor_id, e.milestone_id,"
    " e.amount, e.message, c.currency FROM contract_events e JOIN contracts c ON c.id ="
    " e.contract_id WHERE e.contract_id = $1 AND e.sequence = $2"
)


async def _body(conn: Connection, row: models.WebhookDelivery, now: datetime, gid: GlobalId) -> str:
    if row.contract_id is None or row.sequence is None:
        return ping_body(gid("WebhookEndpoint", row.endpoint_id), now)
    [event] = await rows(conn, _EVENT, [row.contract_id, row.sequence])
    currency = event.pop("currency")
    stored = EVENTS.record(event)

    def optional(kind: str, pk: int | None) -> str | None:
        return None if pk is None else gid(kind, pk)

    return event_body(
        EventMessage(
            event_id=gid("ContractEvent", stored.id),
            contract_id=gid("Contract", stored.contract_id),
            sequence=stored.sequence,
            type=stored.type,
            occurred_at=stored.occurred_at,
            actor_id=optional("User", stored.actor_id),
            milestone_id=optional("Milestone", stored.milestone_id),
            amount=stored.amount,
            currency=currency,
            message=stored.message,
        )
    )


async def claim_deliveries(
    runtime: Runtime, gid: GlobalId, limit: int, busy: Counter[int] | None = None
) -> list[DeliveryJob]:
    """Lease up to `limit` due attempts of enabled endpoints, at most `PER_ENDPOINT` of one
    endpoint counting the `busy` ones (the ones over it are released at once)."""
    busy = busy or Counter()
    now = runtime.clock()
    conn = connections.get("default")
    full = sorted(endpoint for endpoint, count in busy.items() if count >= PER_ENDPOINT)
    not_busy = f" AND d.endpoint_id NOT IN ({placeholders(len(full), 6)})" if full else ""
    lock = _skip_locked(conn, " OF d")
    claimed = [
        DELIVERIES.record(row)
        for row in await rows(
            conn,
            _CLAIM_DELIVERIES.format(busy=not_busy, lock=lock),
            [now, now + LEASE, limit, True, False, *full],
        )
    ]
    kept: list[models.WebhookDelivery] = []
    surplus: list[models.WebhookDelivery] = []
    taken = Counter(busy)
    for row in sorted(claimed, key=lambda r: (r.endpoint_id, r.id)):
        taken[row.endpoint_id] += 1
        (kept if taken[row.endpoint_id] <= PER_ENDPOINT else surplus).append(row)
    if surplus:
        await models.WebhookDelivery.filter(id__in=[row.id for row in surplus]).update(
            claimed_until=None
        )
    endpoints = {
        e.id: e
        for e in await models.WebhookEndpoint.filter(id__in={row.endpoint_id for row in kept})
    }
    return [
        DeliveryJob(
            row.id,
            row.endpoint_id,
            endpoints[row.endpoint_id].owner_id,
            endpoints[row.endpoint_id].url,
            endpoints[row.endpoint_id].secret,
            row.contract_id,
            row.sequence,
            row.event_type,
            row.message_id,
            row.attempt,
            row.first_attempt_at,
            await _body(conn, row, now, gid),
        )
        for row in kept
    ]


def outcome_of(attempt: Attempt) -> str:
    if attempt.succeeded:
        return "succeeded"
    return "refused" if attempt.excerpt.startswith("Not delivered") else "failed"


_ENDPOINT = "SELECT failing_since, enabled FROM webhook_endpoints WHERE id = $1{lock}"
_RECORD = DELIVERIES.update(
    ("attempted_at", "claimed_until", "status_code", "duration_ms", "response_excerpt",
     "next_retry_at"),
    "id = $7 AND attempted_at IS NULL RETURNING id",
)  # fmt: skip
_NEXT = (
    "endpoint_id", "contract_id", "sequence", "event_type", "message_id", "attempt",
    "first_attempt_at", "due_at", "created_at",
)  # fmt: skip


async def _locked_endpoint(conn: Connection, endpoint_id: int) -> models.WebhookEndpoint:
    """Attempts at one endpoint are recorded one at a time (its failing time is theirs); NO KEY:
    the writing hook's new attempts (a foreign key to it) need not wait."""
    lock = " FOR NO KEY UPDATE" if is_postgres(conn) else ""
    [row] = await rows(conn, _ENDPOINT.format(lock=lock), [endpoint_id])
    return ENDPOINTS.record(row)


async def record_attempt(
    runtime: Runtime, config: OutboxConfig, job: DeliveryJob, attempt: Attempt
) -> None:
    """Store what the attempt gave and what follows: the next attempt's row, the endpoint's
    failing time, and, after 3 days of failing, its disabling and its owner's notice, in one
    transaction. A test message is tried once and says nothing of the endpoint's health."""
    now = runtime.clock()
    announced: fanout.Notice | None = None
    async with in_transaction() as conn:
        endpoint = await _locked_endpoint(conn, job.endpoint_id)
        after = after_attempt(
            config.schedule,
            succeeded=attempt.succeeded,
            attempt=job.attempt,
            first_at=job.first_attempt_at,
            failing_since=endpoint.failing_since,
            now=now,
        )
        next_at = None if job.is_test else after.next_attempt_at
        recorded = {
            "attempted_at": now,
            "claimed_until": None,
            "status_code": attempt.status_code,
            "duration_ms": attempt.duration_ms,
            "response_excerpt": attempt.excerpt,
            "next_retry_at": next_at,
        }
        if not await rows(conn, _RECORD, [*DELIVERIES.db_values(recorded), job.id]):
            return  # recorded by a worker that took it over when the lease ran out
        if job.is_test:
            return
        if next_at is not None:
            retry = dict(zip(_NEXT, (
                job.endpoint_id, job.contract_id, job.sequence, job.event_type, job.message_id,
                job.attempt + 1, job.first_attempt_at, next_at, now,
            ), strict=True))  # fmt: skip
            await rows(conn, DELIVERIES.insert(_NEXT), DELIVERIES.db_values(retry))
        disable = after.disable and endpoint.enabled
        if after.failing_since != endpoint.failing_since or disable:
            changes: dict[str, object] = {"failing_since": after.failing_since}
            if disable:
                changes["enabled"] = False
            await models.WebhookEndpoint.filter(id=job.endpoint_id).using_db(conn).update(**changes)
        if disable:
            assert after.failing_since is not None
            failing_for = now - after.failing_since
            announced = await add_notices(
                runtime, conn, [endpoint_disabled_notice(job.owner_id, job.url, failing_for)]
            )
    if announced is not None:
        runtime.bus.committed(announced)


# --- the worker -----------------------------------------------------------------------


class Outbox:
    """Claims what is due and sends each row in a task of its own (module docstring)."""

    def __init__(self, runtime: Runtime, config: OutboxConfig, tally: Tally | None = None) -> None:
        self.runtime = runtime
        self.config = config
        self.tally = tally or Tally()
        self.tasks: set[asyncio.Task[None]] = set()
        self.busy: Counter[int] = Counter()  # webhook attempts in flight, by endpoint
        self.client = webhook_client()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.aclose()

    def _free(self) -> int:
        return MAX_IN_FLIGHT - len(self.tasks)

    def _start(self, sending: Awaitable[None], what: str) -> None:
        async def run() -> None:
            try:
                await sending
            except Exception:  # the row's lease runs out and it is sent again
                logger.exception("Sending %s failed; it is retried when its lease ends", what)

        task = asyncio.create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def start_due(self) -> int:
        """Claim what is due, as far as there are free slots, and start sending it; returns
        how many rows it started."""
        started = 0
        if self.config.mail is not None and self._free() > 0:
            for job in await claim_emails(self.runtime, self._free()):
                self._start(
                    send_one_email(self.runtime, self.config, self.tally, job), f"e-mail {job.id}"
                )
                started += 1
        if self._free() > 0:
            claimed = await claim_deliveries(
                self.runtime, self.config.global_id, self._free(), self.busy
            )
            for delivery in claimed:
                self.busy[delivery.endpoint_id] += 1
                self._start(self._deliver(delivery), f"webhook attempt {delivery.id}")
                started += 1
        return started

    async def _deliver(self, job: DeliveryJob) -> None:
        try:
            # the wall clock's time, whatever the runtime's clock says: receivers refuse a
            # webhook-timestamp 5 minutes away from theirs
            headers = signed_headers(job.secret, job.message_id, system_clock(), job.body)
            attempt = await deliver(
                self.client,
                job.url,
                job.body,
                headers,
                allow_loopback=self.runtime.webhook_allow_loopback,
            )
            await record_attempt(self.runtime, self.config, job, attempt)
            self.tally.deliveries[outcome_of(attempt)] += 1
        finally:
            self.busy[job.endpoint_id] -= 1
            if self.busy[job.endpoint_id] <= 0:
                del self.busy[job.endpoint_id]

    async def drain(self) -> None:
        """Until every started row is sent and recorded."""
        while self.tasks:
            await asyncio.gather(*self.tasks)

    async def run_once(self) -> int:
        """Send everything due now and wait for it (`run-jobs --once`); returns how many rows
        were sent."""
        sent = 0
        while started := await self.start_due():
            sent += started
            await self.drain()
        return sent


_OLDEST_EMAIL = (
    "SELECT MIN(email_due_at) AS at FROM notifications"
    " WHERE email_due_at <= $1 AND emailed_at IS NULL"
)
_OLDEST_WEBHOOK = (
    "SELECT MIN(d.due_at) AS at FROM webhook_deliveries d JOIN webhook_endpoints e"
    " ON e.id = d.endpoint_id WHERE d.attempted_at IS NULL AND d.due_at <= $1"
    " AND e.enabled = $2 AND e.deleted = $3"
)


async def oldest_pending(runtime: Runtime) -> dict[str, float]:
    """How long the oldest row due has waited, in seconds, by kind (0 when none waits); the
    attempts of a disabled endpoint wait for it to be enabled again, and are not counted."""
    now = runtime.clock()
    conn = connections.get("default")
    due_at = models.WebhookDelivery._meta.fields_map["due_at"]
    ages = {}
    for kind, sql, params in (
        ("email", _OLDEST_EMAIL, [now]),
        ("webhook", _OLDEST_WEBHOOK, [now, True, False]),
    ):
        [row] = await rows(conn, sql, params)
        at = due_at.to_python_value(row["at"])
        ages[kind] = max((now - at).total_seconds(), 0.0) if at is not None else 0.0
    return ages
