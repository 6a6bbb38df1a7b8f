"""What people are told: one template table for every notification type, and who is told.

A stored contract event tells the parties other than its actor: the other party for a step a
party took, both for an automatic step (no actor) or an admin's, and every admin besides when a
dispute is opened. The reminders and the disabled-webhook notice have their own recipients
(`reminder_notices`, `endpoint_disabled_notice`). Titles are one line; bodies say what happened
(amounts with their currency, the milestone's title) and what to do next. The texts are plain:
the e-mail's HTML is escaped from them where it is rendered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from app.domain.events import Event, EventType
from app.domain.money import format_amount
from app.domain.state import ContractState


class NotificationType(StrEnum):
    """Every `EventType` value, and the notices no event stands for."""

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
    AUTO_RELEASE_REMINDER = "AUTO_RELEASE_REMINDER"
    REFUND_RESPONSE_REMINDER = "REFUND_RESPONSE_REMINDER"
    DUE_DATE_REMINDER = "DUE_DATE_REMINDER"
    WEBHOOK_ENDPOINT_DISABLED = "WEBHOOK_ENDPOINT_DISABLED"


REMINDER_TYPES = frozenset(
    {
        NotificationType.AUTO_RELEASE_REMINDER,
        NotificationType.REFUND_RESPONSE_REMINDER,
        NotificationType.DUE_DATE_REMINDER,
    }
)


@dataclass(frozen=True)
class Template:
    """`str.format` texts over `contract`, `milestone`, `amount`, `deadline`, `url` and
    `failing_for`.
    `without_amount` is the body for an event that moved no money where others of its type do;
    `message` labels the actor's text, appended to the body when the event has one."""

    title: str
    body: str
    next_step: str
    without_amount: str | None = None
    message: str | None = None


TEMPLATES: Mapping[NotificationType, Template] = {
    NotificationType.CONTRACT_OFFERED: Template(
        "New contract offer: {contract}",
        "You are offered the contract {contract}.",
        "Read its milestones, then accept or decline the offer.",
    ),
    NotificationType.CONTRACT_ACCEPTED: Template(
        "Contract accepted: {contract}",
        "The contract {contract} was accepted and is now active.",
        "Fund the first milestone so that work can start.",
    ),
    NotificationType.CONTRACT_DECLINED: Template(
        "Contract declined: {contract}",
        "The offer {contract} was declined; {amount} of escrow goes back to the client.",
        "Nothing more to do: the contract is closed.",
        without_amount="The offer {contract} was declined.",
        message="Reason",
    ),
    NotificationType.CONTRACT_ENDED: Template(
        "Contract ended: {contract}",
        "The contract {contract} has ended; {amount} of escrow goes back to the client.",
        "Nothing more to do: the contract is closed.",
        without_amount="The contract {contract} has ended.",
        message="Reason",
    ),
    NotificationType.MILESTONE_FUNDED: Template(
        "Milestone funded: {milestone}",
        "{amount} is held in escrow for the milestone {milestone} of {contract}.",
        "The freelancer can start the work and submit it when done.",
    ),
    NotificationType.MILESTONE_SUBMITTED: Template(
        "Work submitted: {milestone}",
        "Work on the milestone {milestone} of {contract} was submitted, asking {amount}.",
        "Review it: release the payment or request a revision before the review window ends.",
        message="Message",
    ),
    NotificationType.MILESTONE_REVISION_REQUESTED: Template(
        "Revision requested: {milestone}",
        "The client asks for changes to the milestone {milestone} of {contract}.",
        "Make the changes and submit the work again.",
        message="Message",
    ),
    NotificationType.MILESTONE_RELEASED: Template(
        "Payment released: {milestone}",
        "{amount} was released for the milestone {milestone} of {contract}.",
        "Nothing to do; the next milestone can be funded.",
        without_amount="The milestone {milestone} of {contract} was completed.",
        message="Message",
    ),
    NotificationType.MILESTONE_REFUNDED: Template(
        "Milestone refunded: {milestone}",
        "{amount} of the milestone {milestone} of {contract} went back to the client.",
        "Nothing to do.",
    ),
    NotificationType.CHANGE_REQUEST_PROPOSED: Template(
        "Milestone changes proposed: {contract}",
        "Changes to the milestones of {contract} were proposed.",
        "Read them, then accept or decline the change request.",
        message="Message",
    ),
    NotificationType.CHANGE_REQUEST_ACCEPTED: Template(
        "Milestone changes accepted: {contract}",
        "The proposed changes to the milestones of {contract} were accepted and applied.",
        "Nothing to do.",
    ),
    NotificationType.CHANGE_REQUEST_DECLINED: Template(
        "Milestone changes declined: {contract}",
        "The proposed changes to the milestones of {contract} were declined.",
        "You may propose other changes.",
        message="Reason",
    ),
    NotificationType.CHANGE_REQUEST_WITHDRAWN: Template(
        "Milestone changes withdrawn: {contract}",
        "The proposed changes to the milestones of {contract} were withdrawn.",
        "Nothing to do.",
    ),
    NotificationType.REFUND_REQUESTED: Template(
        "Refund requested: {milestone}",
        "The client asks for {amount} back from the milestone {milestone} of {contract}.",
        "Approve or decline the request before it counts as approved.",
        message="Reason",
    ),
    NotificationType.REFUND_APPROVED: Template(
        "Refund approved: {milestone}",
        "The refund of {amount} from the milestone {milestone} of {contract} was approved.",
        "Nothing to do.",
    ),
    NotificationType.REFUND_DECLINED: Template(
        "Refund declined: {milestone}",
        "The refund requested from the milestone {milestone} of {contract} was declined.",
        "The milestone carries on; open a dispute if you cannot agree.",
        message="Message",
    ),
    NotificationType.DISPUTE_OPENED: Template(
        "Dispute opened: {milestone}",
        "A dispute was opened on the milestone {milestone} of {contract}; it is frozen.",
        "An admin will split the escrow; the opener may withdraw the dispute meanwhile.",
        message="Reason",
    ),
    NotificationType.DISPUTE_RESOLVED: Template(
        "Dispute resolved: {milestone}",
        "The dispute on the milestone {milestone} of {contract} was resolved, splitting {amount}.",
        "Nothing to do.",
        message="Note",
    ),
    NotificationType.DISPUTE_WITHDRAWN: Template(
        "Dispute withdrawn: {milestone}",
        "The dispute on the milestone {milestone} of {contract} was withdrawn.",
        "The milestone carries on where it was.",
    ),
    NotificationType.BONUS_PAID: Template(
        "Bonus paid: {contract}",
        "A bonus of {amount} was paid on {contract}.",
        "Nothing to do.",
        message="Note",
    ),
    NotificationType.AUTO_RELEASE_REMINDER: Template(
        "Payment releases automatically at {deadline}: {milestone}",
        "Unless you review it, {amount} for the milestone {milestone} of {contract} is"
        " released automatically at {deadline}.",
        "Release the payment or request a revision before then.",
    ),
    NotificationType.REFUND_RESPONSE_REMINDER: Template(
        "Refund request awaits your answer: {milestone}",
        "The refund of {amount} from the milestone {milestone} of {contract} counts as"
        " approved at {deadline} unless you answer.",
        "Approve or decline the request before then.",
    ),
    NotificationType.DUE_DATE_REMINDER: Template(
        "Milestone due {deadline}: {milestone}",
        "The milestone {milestone} of {contract}, worth {amount}, is due at {deadline}.",
        "Submit the work before then, or propose a new due date.",
    ),
    NotificationType.WEBHOOK_ENDPOINT_DISABLED: Template(
        "Webhook endpoint disabled: {url}",
        "Deliveries to {url} failed for {failing_for}, so the endpoint was disabled.",
        "Fix the receiver, then enable the endpoint again; failed deliveries can be redelivered.",
    ),
}


@dataclass(frozen=True)
class ContractFacts:
    id: int
    title: str
    currency: str
    client_id: int
    freelancer_id: int

    @classmethod
    def of(cls, contract: ContractState) -> ContractFacts:
        assert contract.id is not None, "a stored contract"
        return cls(
            contract.id,
            contract.title,
            contract.currency,
            contract.client_id,
            contract.freelancer_id,
        )


@dataclass(frozen=True)
class Notice:
    """One notification for one person, as stored and e-mailed."""

    recipient_id: int
    type: NotificationType
    title: str
    body: str
    contract_id: int | None = None
    milestone_id: int | None = None


def money(cents: int, currency: str) -> str:
    return f"{format_amount(cents)} {currency}"


def moment(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def span(length: timedelta) -> str:
    hours = int(length.total_seconds()) // 3600
    return f"{hours // 24} days" if hours % 24 == 0 and hours >= 48 else f"{hours} hours"


def render(
    kind: NotificationType,
    *,
    amount: str | None = None,
    message: str | None = None,
    **fields: str,
) -> tuple[str, str]:
    """The title and body of `kind` with its fields filled in."""
    template = TEMPLATES[kind]
    text = template.without_amount if amount is None and template.without_amount else template.body
    values = {**fields, "amount": amount or ""}
    body = f"{text.format(**values)}\n\n{template.next_step}"
    if message and template.message:
        body += f"\n\n{template.message}: {message}"
    return template.title.format(**values), body


def recipients(
    kind: EventType, actor_id: int | None, contract: ContractFacts, admin_ids: Iterable[int]
) -> list[int]:
    """The parties other than the actor, and the admins too when a dispute is opened."""
    people = [contract.client_id, contract.freelancer_id]
    if kind is EventType.DISPUTE_OPENED:
        people += sorted(admin_ids)
    return [person for person in dict.fromkeys(people) if person != actor_id]


def event_notices(
    event: Event,
    contract: ContractFacts,
    milestone_title: str | None,
    admin_ids: Iterable[int] = (),
) -> list[Notice]:
    """The notifications a stored event creates, one per person it concerns."""
    kind = NotificationType(event.type.value)
    amount = None if event.amount is None else money(event.amount, contract.currency)
    title, body = render(
        kind,
        amount=amount,
        message=event.message,
        contract=f"“{contract.title}”",
        milestone=f"“{milestone_title or ''}”",
    )
    return [
        Notice(person, kind, title, body, contract.id, event.milestone_id)
        for person in recipients(event.type, event.actor_id, contract, admin_ids)
    ]


def contract_notices(contract: ContractState, admin_ids: Iterable[int] = ()) -> list[Notice]:
    """The notifications of the events a step of `contract` added (`contract.events`), with
    the titles of their milestones as they are after the step."""
    facts = ContractFacts.of(contract)
    titles = {m.id: m.title for m in [*contract.milestones, *contract.deleted_milestones]}
    admins = list(admin_ids)
    return [
        notice
        for event in contract.events
        for notice in event_notices(event, facts, titles.get(event.milestone_id), admins)
    ]


def reminder_notice(
    kind: NotificationType,
    contract: ContractFacts,
    milestone_id: int,
    milestone_title: str,
    deadline: datetime,
    amount: int,
) -> Notice:
    """A reminder for the party who must act: the client before an automatic release, the
    freelancer before a refund request counts as approved and before a due date."""
    if kind not in REMINDER_TYPES:
        raise ValueError(f"{kind} is not a reminder")
    person = (
        contract.client_id
        if kind is NotificationType.AUTO_RELEASE_REMINDER
        else contract.freelancer_id
    )
    title, body = render(
        kind,
        amount=money(amount, contract.currency),
        contract=f"“{contract.title}”",
        milestone=f"“{milestone_title}”",
        deadline=moment(deadline),
    )
    return Notice(person, kind, title, body, contract.id, milestone_id)


def endpoint_disabled_notice(owner_id: int, url: str, failing_for: timedelta) -> Notice:
    title, body = render(
        NotificationType.WEBHOOK_ENDPOINT_DISABLED, url=url, failing_for=span(failing_for)
    )
    return Notice(owner_id, NotificationType.WEBHOOK_ENDPOINT_DISABLED, title, body)
