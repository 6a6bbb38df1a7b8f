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
