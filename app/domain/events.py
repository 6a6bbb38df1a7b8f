"""What a contract records about each of its state changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from app.domain.requests import ChangeRequest


class EventType(StrEnum):
    CONTRACT_OFFERED = "CONTRACT_OFFERED"
    CONTRACT_ACCEPTED = "CONTRACT_ACCEPTED"
    CONTRACT_DECLINED = "CONTRACT_DECLINED"
    CONTRACT_ENDED = "CONTRACT_ENDED"
    MILESTONE_FUNDED = "MILESTONE_FUNDED"
    MILESTONE_SUBMITTED = "MILESTONE_SUBMITTED"
    MILESTONE_REVISION_REQUESTED = "MILESTONE_REVISION_REQUESTED"
    MILESTONE_RELEASED = "MILESTONE_RELEASED"
    MILESTONE_REFUNDED = "MILESTONE_REFUNDED"
    CHANGE_REQUEST_PROPOSED = "CHANGE_REQUEST_PROPOSED"
    CHANGE_REQUEST_ACCEPTED = "CHANGE_REQUEST_ACCEPTED"
    CHANGE_REQUEST_DECLINED = "CHANGE_REQUEST_DECLINED"
    CHANGE_REQUEST_WITHDRAWN = "CHANGE_REQUEST_WITHDRAWN"
    REFUND_REQUESTED = "REFUND_REQUESTED"
    REFUND_APPROVED = "REFUND_APPROVED"
    REFUND_DECLINED = "REFUND_DECLINED"
    DISPUTE_OPENED = "DISPUTE_OPENED"
    DISPUTE_RESOLVED = "DISPUTE_RESOLVED"
    DISPUTE_WITHDRAWN = "DISPUTE_WITHDRAWN"
    BONUS_PAID = "BONUS_PAID"


@dataclass(frozen=True)
class Event:
    """`actor_id` is None for an automatic step (a deadline that fired)."""

    sequence: int
    type: EventType
    actor_id: int | None
    milestone_id: int | None = None
    amount: int | None = None
    message: str | None = None
    change_request: ChangeRequest | None = field(default=None, compare=False)
