"""Every enum of the schema, with its GraphQL name and a description of the enum and of each
of its values for a client developer. The domain's (and the token scopes') enums are the
schema's enums: registering one here marks the class itself, so each module that needs an enum
in a GraphQL type imports it from this module. The domain's enums know nothing of GraphQL, so
their values' descriptions are given here, one per member (a member left out stops the schema
from being built)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

import strawberry
from strawberry.types.enum import StrawberryEnumDefinition

from app.auth.tokens import Scope
from app.domain.errors import ErrorCode
from app.domain.events import EventType
from app.domain.ledger import EntryKind
from app.domain.milestones import MilestoneStatus, SubmissionStatus
from app.domain.notifications import NotificationType
from app.domain.permissions import ContractStatus, Role
from app.domain.requests import ChangeAction, ChangeRequestStatus, DisputeStatus, RefundStatus

__all__ = [
    "ChangeAction",
    "ChangeRequestStatus",
    "ContractStatus",
    "DisputeStatus",
    "EntryKind",
    "ErrorCode",
    "EventType",
    "MilestoneStatus",
    "NotificationType",
    "RefundStatus",
    "Role",
    "Scope",
    "SubmissionStatus",
]


def _register(cls: type[enum.Enum], name: str, description: str, values: Mapping[str, str]) -> None:
    """`cls` as the GraphQL enum `name`, each member described by `values[member.name]`."""
    members = {member.name for member in cls}
    if members != set(values):
        raise TypeError(f"{name}: describe exactly {sorted(members)}")
    strawberry.enum(cls, name=name, description=description)
    definition: StrawberryEnumDefinition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    definition.values = [
        dataclasses.replace(value, description=values[value.name]) for value in definition.values
    ]


_register(
    ChangeAction,
    "MilestoneChangeAction",
    "What one change of a change request does to the contract's future milestones.",
    {
        "ADD": "Insert a new milestone at `position`, or append it without one; no `milestoneId`.",
        "UPDATE": "Set the given fields of a `NOT_FUNDED` milestone (at least one field).",
        "DELETE": "Remove a `NOT_FUNDED` milestone; it is absent from `Contract.milestones` after.",
        "MOVE": "Move a `NOT_FUNDED` milestone to `position`.",
    },
)
_register(
    ChangeRequestStatus,
    "ChangeRequestStatus",
    "Where a change request stands. At most one per contract is `PENDING`.",
    {
        "PENDING": "Proposed, awaiting the other party's answer.",
        "ACCEPTED": "Accepted by the other party: every change was applied at once.",
        "DECLINED": "Declined by the other party; nothing changed.",
        "WITHDRAWN": "Withdrawn by the proposer, or by the contract closing; nothing changed.",
    },
)
_register(
    ContractStatus,
    "ContractStatus",
    "Where a contract stands in its lifecycle (docs/concepts.md, Contract lifecycle).",
    {
        "OFFERED": "Made by the client, not yet answered by the freelancer.",
        "ACTIVE": "Accepted by the freelancer; work and payments happen.",
        "DECLINED": "The freelancer declined the offer; final, everything was refunded.",
        "ENDED": "Ended by a party, or an offer withdrawn by the client; final.",
    },
)
_register(
    DisputeStatus,
    "DisputeStatus",
    "Where a dispute stands.",
    {
        "OPEN": "The milestone is frozen until an admin resolves the dispute or its opener "
        "withdraws it.",
        "RESOLVED": "An admin split the milestone's remaining escrow (`Dispute.resolution`).",
        "WITHDRAWN": "Withdrawn by the party who opened it; the milestone is back where it was.",
    },
)
_register(
    EntryKind,
    "LedgerEntryKind",
    "What a ledger entry moved, and between which accounts (debit → credit).",
    {
        "FUNDING": "CLIENT → ESCROW: money charged to the client into escrow, fees excluded.",
        "INITIATION_FEE": "CLIENT → PLATFORM: the contract initiation fee, once per contract, "
        "with its first funding.",
        "PROCESSING_FEE": "CLIENT → PLATFORM: the client processing fee on a funding charge or "
        "a bonus.",
        "RELEASE": "ESCROW → FREELANCER: the gross amount paid out of escrow.",
        "SERVICE_FEE": "FREELANCER → PLATFORM: the service fee withheld from a release or a bonus.",
        "REFUND": "ESCROW → CLIENT: escrow returned to the client.",
        "FEE_REFUND": "PLATFORM → CLIENT: a fee returned when a contract closes; "
        "`refundedFee` names which.",
        "BONUS": "CLIENT → FREELANCER: a bonus, paid directly, bypassing escrow.",
    },
)
_register(
    ErrorCode,
    "UserErrorCode",
    "Why a mutation was refused (docs/rules.md lists each rule with its code and field).",
    {
        "NOT_FOUND": "No such object, or one the caller may not see (the two are never told "
        "apart).",
        "NOT_PERMITTED": "The caller's role may not take this action (for example the client's "
        "action asked by the freelancer, or an admin's by a party).",
        "INVALID_STATE": "The contract or milestone is not in a status that allows the action, "
        "or a cap on its history is reached.",
        "INVALID_AMOUNT": "Not a valid amount for this field (format, sign, decimals, "
        "`MAX_AMOUNT`), or more than the action can take.",
        "AMOUNT_TOO_SMALL": "A milestone's amount below `Policy.minimumMilestoneAmount`.",
        "TOO_MANY_MILESTONES": "More than `Policy.maxMilestonesPerContract` milestones, on "
        "creation or after a change request.",
        "MILESTONE_OUT_OF_ORDER": "Funding a milestone that is not the first `NOT_FUNDED` one "
        "by position.",
        "ANOTHER_MILESTONE_ACTIVE": "Funding while another milestone of the contract is active.",
        "MILESTONE_NOT_EDITABLE": "A change to an active or finished milestone, or placing one "
        "at or before it.",
        "CHANGE_REQUEST_PENDING": "Proposing while another change request of the contract is "
        "pending.",
        "STALE_CHANGE_REQUEST": "Accepting a change request that no longer applies to the "
        "contract; it stays `PENDING`.",
        "ACTIVE_MILESTONE_FUNDED": "The client ending an active contract while a milestone is "
        "active: release it or request a refund first.",
        "REFUND_PENDING": "Submitting, opening a dispute or requesting another refund while a "
        "refund request is pending.",
        "IDEMPOTENCY_KEY_REUSED": "The idempotency key was already used by this user for this "
        "mutation with different input.",
        "INVALID_INPUT": "Any other bad input field: missing, too long, malformed or inconsistent.",
        "EMAIL_TAKEN": "`register` with an e-mail address already registered (in any letter case).",
        "INVALID_CREDENTIALS": "`login` with a wrong e-mail address or password (the same "
        "answer for both).",
    },
)
_EVENT_TYPES = {
    "CONTRACT_OFFERED": "The client created the contract (always sequence 1).",
    "CONTRACT_ACCEPTED": "The freelancer accepted the offer.",
    "CONTRACT_DECLINED": "The freelancer declined the offer; `amount` is the available "
    "escrow refunded, `message` the reason.",
    "CONTRACT_ENDED": "A party ended the contract or the client withdrew the offer; "
    "`amount` is the available escrow refunded, `message` the reason.",
    "MILESTONE_FUNDED": "A milestone was funded; `amount` is all that was allocated to it "
    "(new money and available escrow).",
    "MILESTONE_SUBMITTED": "The freelancer submitted work; `amount` is the requested "
    "amount, `message` the submission's.",
    "MILESTONE_REVISION_REQUESTED": "The client asked for changes; `message` is the client's.",
    "MILESTONE_RELEASED": "Money was released to the freelancer (`amount`, gross), or a "
    "piece-rate milestone was completed (no amount).",
    "MILESTONE_REFUNDED": "Escrow of a milestone went back to the client (`amount`).",
    "CHANGE_REQUEST_PROPOSED": "A party proposed changes; `message` is the proposer's.",
    "CHANGE_REQUEST_ACCEPTED": "The other party accepted the change request.",
    "CHANGE_REQUEST_DECLINED": "The other party declined the change request; `message` is "
    "the reason.",
    "CHANGE_REQUEST_WITHDRAWN": "The proposer, or the contract closing, withdrew the change "
    "request.",
    "REFUND_REQUESTED": "The client asked for a refund; `amount` is the amount asked, "
    "`message` the reason.",
    "REFUND_APPROVED": "The freelancer approved the refund, or its deadline passed "
    "(`actor: null`); `amount` is the amount asked.",
    "REFUND_DECLINED": "The freelancer declined the refund; `message` is the freelancer's.",
    "DISPUTE_OPENED": "A party opened a dispute; `message` is the reason.",
    "DISPUTE_RESOLVED": "An admin resolved the dispute; `amount` is the whole split, "
    "`message` the admin's note.",
    "DISPUTE_WITHDRAWN": "The party who opened the dispute withdrew it.",
    "BONUS_PAID": "The client paid a bonus; `amount` is the bonus, `message` the note.",
}
_register(
    EventType,
    "ContractEventType",
    "What happened to a contract. An automatic step (a deadline) is the same type with "
    "`actor: null`.",
    _EVENT_TYPES,
)
_register(
    NotificationType,
    "NotificationType",
    "What a notification is about: a contract event of that type (docs/concepts.md, "
    "Notifications), a reminder before a deadline, or a webhook endpoint disabled.",
    {
        **{name: f"A contract event: {text}" for name, text in _EVENT_TYPES.items()},
        "AUTO_RELEASE_REMINDER": "To the client: a submission is released automatically soon "
        "(`REMINDERS_BEFORE_AUTO_RELEASE` before `autoReleaseAt`).",
        "REFUND_RESPONSE_REMINDER": "To the freelancer: a refund request counts as approved "
        "soon (`REMINDER_BEFORE_REFUND_RESPONSE` before `respondBy`).",
        "DUE_DATE_REMINDER": "To the freelancer: a milestone is due soon "
        "(`REMINDER_BEFORE_DUE_DATE` before the end of its `dueDate`, UTC).",
        "WEBHOOK_ENDPOINT_DISABLED": "To its owner: a webhook endpoint failed for 3 days "
        "and was disabled.",
    },
)
_register(
    MilestoneStatus,
    "MilestoneStatus",
    "Where a milestone stands (docs/concepts.md, Milestone lifecycle). `FUNDED`, "
    "`SUBMITTED`, `REVISION_REQUESTED` and `DISPUTED` are active (at most one milestone of a "
    "contract is); `RELEASED`, `REFUNDED` and `CANCELLED` are finished and final.",
    {
        "NOT_FUNDED": "A future milestone; the only status a change request may edit.",
        "FUNDED": "Its amount is in escrow; the freelancer works on it.",
        "SUBMITTED": "The freelancer submitted work; the review clock (`autoReleaseAt`) runs.",
        "REVISION_REQUESTED": "The client asked for changes; the freelancer may submit again.",
        "RELEASED": "Finished, and the freelancer received money from it.",
        "REFUNDED": "Finished; its escrow went back to the client and the freelancer received "
        "nothing.",
        "DISPUTED": "Frozen by a dispute until an admin resolves it or its opener withdraws it.",
        "CANCELLED": "Finished without ever being funded (the contract closed), or a "
        "piece-rate milestone completed with no unit paid.",
    },
)
_register(
    RefundStatus,
    "RefundRequestStatus",
    "Where a refund request stands. At most one per milestone is `PENDING`.",
    {
        "PENDING": "Awaiting the freelancer's answer until `respondBy`.",
        "APPROVED": "Approved by the freelancer, or unanswered by `respondBy`; the amount went "
        "back to the client.",
        "DECLINED": "Declined by the freelancer; the milestone carries on where it was.",
        "WITHDRAWN": "Withdrawn by a release, a completion or the contract closing.",
    },
)
_register(
    Role,
    "ContractRole",
    "A party's side of a contract.",
    {
        "CLIENT": "The user who offered the contract and pays.",
        "FREELANCER": "The user the contract was offered to, who does the work and is paid.",
    },
)
_register(
    Scope,
    "TokenScope",
    "What a bearer token may do.",
    {
        "READ": "Queries and subscriptions.",
        "WRITE": "Mutations too (a session from `login` or `register` has both scopes).",
    },
)
_register(
    SubmissionStatus,
    "SubmissionStatus",
    "Where a submission of work stands.",
    {
        "PENDING": "Neither paid nor sent back yet.",
        "RELEASED": "Paid: money was released from the milestone while it was the latest "
        "submission.",
        "REVISION_REQUESTED": "Sent back: the client asked for changes.",
    },
)
