"""Tables: fields, indexes and constraints only. Money columns hold integer minor units."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint, UniqueConstraint
from tortoise.models import Model


class User(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=320, unique=True)
    name = fields.CharField(max_length=200)
    password_hash = fields.CharField(max_length=200)
    is_admin = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE
    )
    user_id: int
    name = fields.CharField(max_length=200)
    token_hash = fields.CharField(max_length=64, unique=True)
    scopes = fields.CharField(max_length=50)
    is_session = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)  # sessions expire; API tokens last until revoked

    class Meta:
        table = "api_tokens"


class Contract(Model):
    id = fields.IntField(primary_key=True)
    client: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="contracts_as_client", on_delete=fields.RESTRICT
    )
    client_id: int
    freelancer: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="contracts_as_freelancer", on_delete=fields.RESTRICT
    )
    freelancer_id: int
    title = fields.CharField(max_length=200)
    description = fields.TextField()
    currency = fields.CharField(max_length=3)
    status = fields.CharField(max_length=16)
    created_at = fields.DatetimeField()
    accepted_at = fields.DatetimeField(null=True)
    ended_at = fields.DatetimeField(null=True)
    last_sequence = fields.IntField(default=0)
    version = fields.IntField(default=0)

    class Meta:
        table = "contracts"
        indexes = (
            Index(fields=("client_id", "created_at", "id")),
            Index(fields=("freelancer_id", "created_at", "id")),
        )


class Milestone(Model):
    id = fields.IntField(primary_key=True)
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "models.Contract", related_name="milestones", on_delete=fields.CASCADE
    )
    contract_id: int
    position = fields.IntField(null=True)
    title = fields.CharField(max_length=200)
    description = fields.TextField()
    amount = fields.BigIntField()
    due_date = fields.DateField(null=True)
    status = fields.CharField(max_length=20)
    unit_price = fields.BigIntField(null=True)
    max_units = fields.IntField(null=True)
    units_released = fields.IntField(default=0)
    funded_amount = fields.BigIntField(default=0)
    released_amount = fields.BigIntField(default=0)
    refunded_amount = fields.BigIntField(default=0)
    auto_release_at = fields.DatetimeField(null=True, db_index=True)
    funded_at = fields.DatetimeField(null=True)
    submitted_at = fields.DatetimeField(null=True)
    released_at = fields.DatetimeField(null=True)
    review_seconds_left = fields.IntField(null=True)
    deleted = fields.BooleanField(default=False)

    class Meta:
        table = "milestones"
        indexes = (Index(fields=("contract_id", "position")),)
        constraints = (
            CheckConstraint(
                check="funded_amount >= released_amount + refunded_amount",
                name="milestone_escrow_not_negative",
            ),
        )


class Submission(Model):
    id = fields.IntField(primary_key=True)
    milestone: fields.ForeignKeyRelation[Milestone] = fields.ForeignKeyField(
        "models.Milestone", related_name="submissions", on_delete=fields.CASCADE
    )
    milestone_id: int
    message = fields.TextField()
    attachments: fields.Field[list[str]] = fields.JSONField(default=list)
    requested_amount = fields.BigIntField()
    units = fields.IntField(null=True)
    status = fields.CharField(max_length=20)
    created_at = fields.DatetimeField()

    class Meta:
        table = "submissions"
        indexes = (Index(fields=("milestone_id", "id")),)


class LedgerEntry(Model):
    id = fields.BigIntField(primary_key=True)
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "models.Contract", related_name="ledger_entries", on_delete=fields.RESTRICT
    )
    contract_id: int
    milestone: fields.ForeignKeyNullableRelation[Milestone] = fields.ForeignKeyField(
        "models.Milestone", related_name="ledger_entries", null=True, on_delete=fields.RESTRICT
    )
    milestone_id: int | None
    kind = fields.CharField(max_length=20)
    amount = fields.BigIntField()
    debit_account = fields.CharField(max_length=16)
    credit_account = fields.CharField(max_length=16)
    refunded_fee = fields.CharField(max_length=20, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "ledger_entries"
        indexes = (Index(fields=("contract_id", "id")),)
        constraints = (
            CheckConstraint(check="amount > 0", name="ledger_amount_positive"),
            CheckConstraint(check="debit_account <> credit_account", name="ledger_accounts_differ"),
        )


class ContractEvent(Model):
    id = fields.BigIntField(primary_key=True)
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "models.Contract", related_name="events", on_delete=fields.CASCADE
    )
    contract_id: int
    sequence = fields.IntField()
    type = fields.CharField(max_length=40)
    occurred_at = fields.DatetimeField()
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="events", null=True, on_delete=fields.RESTRICT
    )
    actor_id: int | None
    milestone: fields.ForeignKeyNullableRelation[Milestone] = fields.ForeignKeyField(
        "models.Milestone", related_name="events", null=True, on_delete=fields.RESTRICT
    )
    milestone_id: int | None
    change_request: fields.ForeignKeyNullableRelation[ChangeRequest] = fields.ForeignKeyField(
        "models.ChangeRequest", related_name="events", null=True, on_delete=fields.RESTRICT
    )
    change_request_id: int | None
    amount = fields.BigIntField(null=True)
    message = fields.TextField(null=True)

    class Meta:
        table = "contract_events"
        constraints = (
            UniqueConstraint(fields=("contract_id", "sequence"), name="event_sequence_unique"),
        )


class IdempotencyKey(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="idempotency_keys", on_delete=fields.CASCADE
    )
    user_id: int
    mutation = fields.CharField(max_length=40)
    key = fields.CharField(max_length=255)
    request_hash = fields.CharField(max_length=64)
    outcome: fields.Field[dict[str, object]] = fields.JSONField()
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "idempotency_keys"
        constraints = (
            UniqueConstraint(fields=("user_id", "mutation", "key"), name="idempotency_unique"),
        )


class RefundRequest(Model):
    id = fields.IntField(primary_key=True)
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "models.Contract", related_name="refund_requests", on_delete=fields.CASCADE
    )
    contract_id: int
    milestone: fields.ForeignKeyRelation[Milestone] = fields.ForeignKeyField(
        "models.Milestone", related_name="refund_requests", on_delete=fields.CASCADE
    )
    milestone_id: int
    amount = fields.BigIntField()
    reason = fields.TextField()
    status = fields.CharField(max_length=16)
    respond_by = fields.DatetimeField()
    response = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refund_requests"
        indexes = (Index(fields=("status", "respond_by")), Index(fields=("contract_id", "id")))


class Dispute(Model):
    id = fields.IntField(primary_key=True)
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "models.Contract", related_name="disputes", on_delete=fields.CASCADE
    )
    contract_id: int
    milestone: fields.ForeignKeyRelation[Milestone] = fields.ForeignKeyField(
        "models.Milestone", related_name="disputes", on_delete=fields.CASCADE
    )
    milestone_id: int
    opened_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="disputes_opened", on_delete=fields.RESTRICT
    )
    opened_by_id: int
    reason = fields.TextField()
    status = fields.CharField(max_length=16)
    previous_status = fields.CharField(max_length=20)
    freelancer_amount = fields.BigIntField(null=True)
    client_amount = fields.BigIntField(null=True)
    note = fields.TextField(null=True)
    resolved_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="disputes_resolved", null=True, on_delete=fields.RESTRICT
    )
    resolved_by_id: int | None
    created_at = fields.DatetimeField()
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "disputes"
        indexes = (Index(fields=("contract_id", "id")),)


class ChangeRequest(Model):
    id = fields.IntField(primary_key=True)
    contract: fields.ForeignKeyRelation[Contract] = fields.ForeignKeyField(
        "models.Contract", related_name="change_requests", on_delete=fields.CASCADE
    )
    contract_id: int
    proposed_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="change_requests", on_delete=fields.RESTRICT
    )
    proposed_by_id: int
    message = fields.TextField()
    changes: fields.Field[list[dict[str, object]]] = fields.JSONField()
    status = fields.CharField(max_length=16)
    reason = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "change_requests"
        indexes = (Index(fields=("contract_id", "id")),)


class PersistedQuery(Model):
    """Documents of automatic persisted queries, by the SHA-256 of their text."""

    id = fields.IntField(primary_key=True)
    sha256 = fields.CharField(max_length=64, unique=True)
    document = fields.TextField()

    class Meta:
        table = "persisted_queries"


class Notification(Model):
    """What a person is told, in-app, with the outbox columns of its e-mail.

    The e-mail is owed while `email_due_at` is set and `emailed_at` is not."""

    id = fields.BigIntField(primary_key=True)
    recipient: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="notifications", on_delete=fields.CASCADE
    )
    recipient_id: int
    type = fields.CharField(max_length=40)
    title = fields.TextField()  # holds a contract's or milestone's title, of up to 200 itself
    body = fields.TextField()
    contract: fields.ForeignKeyNullableRelation[Contract] = fields.ForeignKeyField(
        "models.Contract", related_name="notifications", null=True, on_delete=fields.CASCADE
    )
    contract_id: int | None
    milestone: fields.ForeignKeyNullableRelation[Milestone] = fields.ForeignKeyField(
        "models.Milestone", related_name="notifications", null=True, on_delete=fields.SET_NULL
    )
    milestone_id: int | None
    created_at = fields.DatetimeField()
    read_at = fields.DatetimeField(null=True)
    email_due_at = fields.DatetimeField(null=True, db_index=True)
    email_claimed_until = fields.DatetimeField(null=True)
    email_attempts = fields.IntField(default=0)
    emailed_at = fields.DatetimeField(null=True)
    email_error = fields.TextField(null=True)

    class Meta:
        table = "notifications"
        indexes = (Index(fields=("recipient_id", "id")),)


class NotificationSetting(Model):
    """A person's choice of e-mail for one notification type (no row: e-mail on)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="notification_settings", on_delete=fields.CASCADE
    )
    user_id: int
    type = fields.CharField(max_length=40)
    email = fields.BooleanField()

    class Meta:
        table = "notification_settings"
        constraints = (
            UniqueConstraint(fields=("user_id", "type"), name="notification_setting_unique"),
        )


class WebhookEndpoint(Model):
    """A partner's URL that receives the events of its owner's contracts.

    `event_types` is "" for every type, else the types as ",A,B," (matched in SQL by LIKE
    '%,T,%')."""

    id = fields.IntField(primary_key=True)
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="webhook_endpoints", on_delete=fields.CASCADE
    )
    owner_id: int
    url = fields.TextField()
    event_types = fields.TextField()
    description = fields.TextField()
    secret = fields.CharField(max_length=100)
    enabled = fields.BooleanField(default=True)
    failing_since = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    deleted = fields.BooleanField(default=False)

    class Meta:
        table = "webhook_endpoints"
        indexes = (Index(fields=("owner_id", "id")),)


class WebhookDelivery(Model):
    """One attempt to deliver one message to a webhook endpoint.

    Pending until `attempted_at`; every attempt of a message (retries, redeliveries) has its
    `message_id` (the webhook-id)."""

    id = fields.BigIntField(primary_key=True)
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE
    )
    endpoint_id: int
    contract_id = fields.IntField(null=True)  # with `sequence`, the event; none for a test
    sequence = fields.IntField(null=True)
    event_type = fields.CharField(max_length=40)
    message_id = fields.CharField(max_length=100)
    attempt = fields.IntField()
    first_attempt_at = fields.DatetimeField()
    due_at = fields.DatetimeField()
    claimed_until = fields.DatetimeField(null=True)
    attempted_at = fields.DatetimeField(null=True)
    status_code = fields.IntField(null=True)
    duration_ms = fields.IntField(null=True)
    response_excerpt = fields.TextField(null=True)
    next_retry_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_deliveries"
        # the pending ones first (attempted_at NULL), by when they are due: the worker's claim
        indexes = (Index(fields=("endpoint_id", "id")), Index(fields=("attempted_at", "due_at")))


class SentReminder(Model):
    """A reminder sent, by its key (kind, milestone, deadline, offset): sent exactly once."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "sent_reminders"
