"""What the read side hands the GraphQL layer: plain records, never rows.

Milestones, submissions, refunds, disputes and change requests are the domain's own records
(mapped by `app.services.mappers`); a stored milestone also names its contract. The rest have
no domain record fit to show, so they are declared here: a contract as it is read (not the
aggregate), a user without the password hash, a token without its hash, a ledger entry and a
contract event as stored. Each is mapped from its row by a `RecordMap`, field by column name,
so a field added to a record is one edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from app.auth.tokens import Scope, decode_scopes
from app.domain.events import EventType
from app.domain.ledger import EntryKind
from app.domain.milestones import Milestone
from app.domain.notifications import NotificationType
from app.domain.permissions import ContractStatus
from app.services.mappers import MILESTONES, RecordMap

R = TypeVar("R")


@dataclass(frozen=True)
class UserRecord:
    id: int
    name: str
    email: str
    is_admin: bool


@dataclass(frozen=True)
class ContractRecord:
    id: int
    client_id: int
    freelancer_id: int
    title: str
    description: str
    status: ContractStatus
    currency: str
    created_at: datetime
    accepted_at: datetime | None
    ended_at: datetime | None
    last_sequence: int


@dataclass
class MilestoneRecord(Milestone):
    """A stored milestone: the domain's record, its id, and the contract it belongs to."""

    id: int
    contract_id: int = field(kw_only=True)


@dataclass(frozen=True)
class EntryRecord:
    id: int
    milestone_id: int | None
    kind: EntryKind
    amount: int
    debit_account: str
    credit_account: str
    refunded_fee: EntryKind | None
    created_at: datetime


@dataclass(frozen=True)
class EventRecord:
    """A stored contract event; `actor_id` is None for an automatic step."""

    id: int
    contract_id: int
    sequence: int
    type: EventType
    occurred_at: datetime
    actor_id: int | None
    milestone_id: int | None
    change_request_id: int | None
    amount: int | None
    message: str | None


@dataclass(frozen=True)
class TokenRecord:
    """An API token or a session (`is_session`), without its secret's hash."""

    id: int
    name: str
    scopes: frozenset[Scope]
    created_at: datetime
    last_used_at: datetime | None
    is_session: bool
    expires_at: datetime | None


@dataclass(frozen=True)
class NotificationRecord:
    id: int
    recipient_id: int
    type: NotificationType
    title: str
    body: str
    contract_id: int | None
    milestone_id: int | None
    created_at: datetime
    read_at: datetime | None


@dataclass(frozen=True)
class WebhookEndpointRecord:
    """A webhook endpoint without its secret; `event_types` () for every type."""

    id: int
    owner_id: int
    url: str
    event_types: tuple[EventType, ...]
    description: str
    enabled: bool
    failing_since: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class WebhookDeliveryRecord:
    """One attempt; `event_pk` is the stored event it carries (None for a test), `attempted_at`
    None while it is pending."""

    id: int
    endpoint_id: int
    contract_id: int | None
    sequence: int | None
    event_type: str
    message_id: str
    attempt: int
    status_code: int | None
    duration_ms: int | None
    next_retry_at: datetime | None
    response_excerpt: str | None
    created_at: datetime
    attempted_at: datetime | None
    event_pk: int | None = None


def encode_event_types(types: tuple[EventType, ...]) -> str:
    """How an endpoint's event types are stored: "" for every type, else ",A,B," (sorted), so
    that SQL matches one type with LIKE '%,T,%'."""
    return f",{','.join(sorted(types))}," if types else ""


def decode_event_types(text: str) -> tuple[EventType, ...]:
    return tuple(EventType(name) for name in text.split(",") if name)


@dataclass(frozen=True)
class Owned(Generic[R]):
    """A contract's object, with the id of the contract it belongs to."""

    record: R
    contract_id: int


USERS = RecordMap(UserRecord)
CONTRACTS = RecordMap(ContractRecord)
STORED_MILESTONES = RecordMap(
    MilestoneRecord,
    columns=MILESTONES.columns,
    transient=MILESTONES.transient,
    read=MILESTONES.read,
)
ENTRIES = RecordMap(EntryRecord)
EVENTS = RecordMap(EventRecord)
TOKENS = RecordMap(TokenRecord, read={"scopes": decode_scopes})
NOTIFICATIONS = RecordMap(NotificationRecord)
WEBHOOK_ENDPOINTS = RecordMap(
    WebhookEndpointRecord,
    read={"event_types": decode_event_types},
    write={"event_types": encode_event_types},
)
WEBHOOK_DELIVERIES = RecordMap(WebhookDeliveryRecord, transient=frozenset({"event_pk"}))
