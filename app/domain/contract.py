"""The contract aggregate: a contract, its milestones and the state machine that moves money.

Every action checks in the order of the product contract (permission, then input, then
state) and raises `DomainError` before it changes anything it will be persisted with. A
successful action appends the ledger entries it pays with to `entries` and the events it
causes to `events`; the service persists both with the changed rows in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from app.domain.errors import DomainError, ErrorCode, InputProblems, refuse
from app.domain.events import Event, EventType
from app.domain.ledger import Entry, EntryKind, LedgerTotals
from app.domain.money import CURRENCIES, DEFAULT_CURRENCY, fee, format_amount, parse_amount
from app.domain.policy import Policy

MAX_TITLE = 200
MAX_TEXT = 10_000
MAX_ATTACHMENTS = 20
MAX_URL = 2_048


class ContractStatus(StrEnum):
    OFFERED = "OFFERED"
    ACTIVE = "ACTIVE"
    DECLINED = "DECLINED"
    ENDED = "ENDED"


class MilestoneStatus(StrEnum):
    NOT_FUNDED = "NOT_FUNDED"
    FUNDED = "FUNDED"
    SUBMITTED = "SUBMITTED"
    REVISION_REQUESTED = "REVISION_REQUESTED"
    RELEASED = "RELEASED"
    REFUNDED = "REFUNDED"
    DISPUTED = "DISPUTED"
    CANCELLED = "CANCELLED"


class SubmissionStatus(StrEnum):
    PENDING = "PENDING"
    RELEASED = "RELEASED"
    REVISION_REQUESTED = "REVISION_REQUESTED"


class Role(StrEnum):
    CLIENT = "CLIENT"
    FREELANCER = "FREELANCER"


class Action(StrEnum):
    ACCEPT = "accept the offer"
    DECLINE = "decline the offer"
    FUND = "fund a milestone"
    SUBMIT = "submit work"
    REQUEST_REVISION = "request a revision"
    RELEASE = "release payment"
    PAY_BONUS = "pay a bonus"


ACTIVE_STATUSES = frozenset(
    {
        MilestoneStatus.FUNDED,
        MilestoneStatus.SUBMITTED,
        MilestoneStatus.REVISION_REQUESTED,
        MilestoneStatus.DISPUTED,
    }
)
FINISHED_STATUSES = frozenset(
    {MilestoneStatus.RELEASED, MilestoneStatus.REFUNDED, MilestoneStatus.CANCELLED}
)

# Who may take each action.
PERMISSIONS: Mapping[Action, Role] = {
    Action.ACCEPT: Role.FREELANCER,
    Action.DECLINE: Role.FREELANCER,
    Action.FUND: Role.CLIENT,
    Action.SUBMIT: Role.FREELANCER,
    Action.REQUEST_REVISION: Role.CLIENT,
    Action.RELEASE: Role.CLIENT,
    Action.PAY_BONUS: Role.CLIENT,
}

_WORKING = frozenset(
    {MilestoneStatus.FUNDED, MilestoneStatus.SUBMITTED, MilestoneStatus.REVISION_REQUESTED}
)
# The milestone state machine: the statuses each action may start from.
TRANSITIONS: Mapping[Action, frozenset[MilestoneStatus]] = {
    Action.FUND: frozenset({MilestoneStatus.NOT_FUNDED}),
    Action.SUBMIT: frozenset({MilestoneStatus.FUNDED, MilestoneStatus.REVISION_REQUESTED}),
    Action.REQUEST_REVISION: frozenset({MilestoneStatus.SUBMITTED}),
    Action.RELEASE: _WORKING,
}


@dataclass(frozen=True)
class Actor:
    user_id: int
    is_admin: bool = False


@dataclass
class Submission:
    id: int | None
    message: str
    attachments: list[str]
    requested_amount: int
    units: int | None
    status: SubmissionStatus
    created_at: datetime


@dataclass
class Milestone:
    id: int | None
    position: int
    title: str
    description: str
    amount: int
    due_date: date | None
    status: MilestoneStatus = MilestoneStatus.NOT_FUNDED
    unit_price: int | None = None
    max_units: int | None = None
    units_released: int = 0
    funded_amount: int = 0
    released_amount: int = 0
    refunded_amount: int = 0
    auto_release_at: datetime | None = None
    funded_at: datetime | None = None
    submitted_at: datetime | None = None
    released_at: datetime | None = None
    latest_submission: Submission | None = field(default=None, compare=False)

    @property
    def remaining(self) -> int:
        """Escrow still allocated to this milestone."""
        return self.funded_amount - self.released_amount - self.refunded_amount

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_piece_rate(self) -> bool:
        return self.unit_price is not None


@dataclass(frozen=True)
class MilestoneDraft:
    """Milestone fields as a client sent them: text, not yet parsed."""

    title: str | None
    description: str | None = None
    amount: str | None = None
    due_date: date | None = None
    unit_price: str | None = None
    max_units: int | None = None


def parse_milestone(
    draft: MilestoneDraft, policy: Policy, path: Sequence[str], problems: InputProblems
) -> Milestone | None:
    """Validate a new milestone's fields, reporting every bad one under `path`."""
    before = len(problems.problems)
    title = (draft.title or "").strip()
    if not title:
        problems.add(ErrorCode.INVALID_INPUT, "A milestone needs a title", [*path, "title"])
    elif len(title) > MAX_TITLE:
        problems.add(ErrorCode.INVALID_INPUT, f"Title is longer than {MAX_TITLE}", [*path, "title"])
    description = draft.description or ""
    if len(description) > MAX_TEXT:
        problems.add(
            ErrorCode.INVALID_INPUT,
            f"Description is longer than {MAX_TEXT}",
            [*path, "description"],
        )
    amount = _parse_into(draft.amount, [*path, "amount"], problems)
    unit_price: int | None = None
    if draft.unit_price is not None or draft.max_units is not None:
        unit_price = _parse_into(draft.unit_price, [*path, "unitPrice"], problems)
        if draft.unit_price is None:
            problems.add(
                ErrorCode.INVALID_INPUT,
                "A piece-rate milestone needs unitPrice",
                [*path, "unitPrice"],
            )
        if draft.max_units is None or draft.max_units < 1:
            problems.add(
                ErrorCode.INVALID_INPUT,
                "maxUnits must be a whole number of at least 1",
                [*path, "maxUnits"],
            )
        elif unit_price is not None:
            product = unit_price * draft.max_units
            if amount is not None and amount != product:
                problems.add(
                    ErrorCode.INVALID_INPUT,
                    f"amount must equal unitPrice * maxUnits ({format_amount(product)})",
                    [*path, "amount"],
                )
            amount = product
    elif draft.amount is None:
        problems.add(ErrorCode.INVALID_INPUT, "A milestone needs an amount", [*path, "amount"])
    if amount is not None and amount < policy.minimum_milestone_amount:
        problems.add(
            ErrorCode.AMOUNT_TOO_SMALL,
            f"A milestone is at least {format_amount(policy.minimum_milestone_amount)}",
            [*path, "amount"],
        )
    if len(problems.problems) > before or amount is None:
        return None
    return Milestone(
        id=None,
        position=0,
        title=title,
        description=description,
        amount=amount,
        due_date=draft.due_date,
        unit_price=unit_price,
        max_units=draft.max_units if unit_price is not None else None,
    )


def _parse_into(text: str | None, path: Sequence[str], problems: InputProblems) -> int | None:
    if text is None:
        return None
    try:
        return parse_amount(text, path)
    except DomainError as error:
        problems.extend(error)
        return None


def parse_optional_amount(
    text: str | None, path: Sequence[str], problems: InputProblems
) -> int | None:
    return _parse_into(text, path, problems)


def check_text(
    value: str | None, path: Sequence[str], problems: InputProblems, limit: int = MAX_TEXT
) -> str:
    text = value or ""
    if len(text) > limit:
        problems.add(ErrorCode.INVALID_INPUT, f"Longer than {limit} characters", path)
    return text


@dataclass
class Contract:
    id: int | None
    client_id: int
    freelancer_id: int
    title: str
    description: str
    currency: str
    status: ContractStatus
    created_at: datetime
    now: datetime
    policy: Policy
    accepted_at: datetime | None = None
    ended_at: datetime | None = None
    last_sequence: int = 0
    milestones: list[Milestone] = field(default_factory=list)
    ledger: LedgerTotals = field(default_factory=LedgerTotals.empty)
    entries: list[Entry] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    # --- creation ---------------------------------------------------------------------

    @classmethod
    def offer(
        cls,
        *,
        client_id: int,
        freelancer_id: int,
        title: str | None,
        description: str | None,
        currency: str | None,
        milestones: Sequence[MilestoneDraft],
        policy: Policy,
        now: datetime,
    ) -> Contract:
        problems = InputProblems()
        clean_title = (title or "").strip()
        if not clean_title:
            problems.add(ErrorCode.INVALID_INPUT, "A contract needs a title", ["title"])
        elif len(clean_title) > MAX_TITLE:
            problems.add(ErrorCode.INVALID_INPUT, f"Title is longer than {MAX_TITLE}", ["title"])
        clean_description = check_text(description, ["description"], problems)
        chosen_currency = currency if currency is not None else DEFAULT_CURRENCY
        if chosen_currency not in CURRENCIES:
            problems.add(
                ErrorCode.INVALID_INPUT,
                f"Currency must be one of {', '.join(sorted(CURRENCIES))}",
                ["currency"],
            )
        if client_id == freelancer_id:
            problems.add(ErrorCode.INVALID_INPUT, "You cannot hire yourself", ["freelancerId"])
        if not milestones:
            problems.add(ErrorCode.INVALID_INPUT, "A contract needs a milestone", ["milestones"])
        if len(milestones) > policy.max_milestones_per_contract:
            problems.add(
                ErrorCode.TOO_MANY_MILESTONES,
                f"A contract has at most {policy.max_milestones_per_contract} milestones",
                ["milestones"],
            )
        parsed = [
            parse_milestone(draft, policy, ["milestones", str(i)], problems)
            for i, draft in enumerate(milestones)
        ]
        problems.raise_if_any()
        contract = cls(
            id=None,
            client_id=client_id,
            freelancer_id=freelancer_id,
            title=clean_title,
            description=clean_description,
            currency=chosen_currency,
            status=ContractStatus.OFFERED,
            created_at=now,
            now=now,
            policy=policy,
        )
        for position, milestone in enumerate(parsed, start=1):
            assert milestone is not None
            milestone.position = position
            contract.milestones.append(milestone)
        contract._emit(EventType.CONTRACT_OFFERED, client_id)
        return contract

    # --- reading ----------------------------------------------------------------------

    def role_of(self, actor: Actor) -> Role | None:
        if actor.user_id == self.client_id:
            return Role.CLIENT
        if actor.user_id == self.freelancer_id:
            return Role.FREELANCER
        return None

    def is_visible_to(self, actor: Actor) -> bool:
        return actor.is_admin or self.role_of(actor) is not None

    @property
    def active_milestone(self) -> Milestone | None:
        return next((m for m in self.milestones if m.is_active), None)

    @property
    def allocated(self) -> int:
        return sum(m.remaining for m in self.milestones if m.is_active)

    @property
    def available(self) -> int:
        """Escrow held for the contract but allocated to no active milestone."""
        return self.ledger.held - self.allocated

    def milestone(self, milestone_id: int) -> Milestone:
        for milestone in self.milestones:
            if milestone.id == milestone_id:
                return milestone
        raise refuse(ErrorCode.NOT_FOUND, "No such milestone", ["milestoneId"])

    # --- the offer ----------------------------------------------------------------------

    def accept(self, actor: Actor) -> None:
        self.authorize(actor, Action.ACCEPT)
        self._require_status(ContractStatus.OFFERED, "accepted")
        self.status = ContractStatus.ACTIVE
        self.accepted_at = self.now
        self._emit(EventType.CONTRACT_ACCEPTED, actor.user_id)

    def decline(self, actor: Actor, reason: str | None) -> None:
        self.authorize(actor, Action.DECLINE)
        problems = InputProblems()
        text = check_text(reason, ["reason"], problems)
        problems.raise_if_any()
        self._require_status(ContractStatus.OFFERED, "declined")
        self._close(actor, ContractStatus.DECLINED, text)

    def end(self, actor: Actor, reason: str | None) -> None:
        role = self._require(actor, None, "end the contract")
        if self.status is ContractStatus.OFFERED and role is not Role.CLIENT:
            raise refuse(ErrorCode.NOT_PERMITTED, "Only the client may withdraw an offer")
        problems = InputProblems()
        text = check_text(reason, ["reason"], problems)
        problems.raise_if_any()
        if self.status is ContractStatus.ACTIVE:
            if any(
                m.status in (MilestoneStatus.SUBMITTED, MilestoneStatus.DISPUTED)
                for m in self.milestones
            ):
                raise refuse(
                    ErrorCode.INVALID_STATE,
                    "A contract cannot end while a milestone is submitted or disputed",
                )
            if role is Role.CLIENT and self.active_milestone is not None:
                raise refuse(
                    ErrorCode.ACTIVE_MILESTONE_FUNDED,
                    "Release the funded milestone or request a refund before ending",
                )
        elif self.status is not ContractStatus.OFFERED:
            raise refuse(ErrorCode.INVALID_STATE, f"The contract is already {self.status}")
        self._close(actor, ContractStatus.ENDED, text)

    # --- milestones -----------------------------------------------------------------------

    def fund(self, actor: Actor, milestone_id: int) -> Milestone:
        milestone = self.milestone(milestone_id)
        self.authorize(actor, Action.FUND)
        self._require_open(Action.FUND, allow_offer=milestone.position == 1)
        self._require_milestone(milestone, Action.FUND)
        active = self.active_milestone
        if active is not None:
            raise refuse(
                ErrorCode.ANOTHER_MILESTONE_ACTIVE,
                f"Milestone {active.position} is still active",
                ["milestoneId"],
            )
        first = next(m for m in self.milestones if m.status is MilestoneStatus.NOT_FUNDED)
        if first is not milestone:
            raise refuse(
                ErrorCode.MILESTONE_OUT_OF_ORDER,
                f"Milestone {first.position} must be funded first",
                ["milestoneId"],
            )
        self._allocate(milestone, milestone.amount)
        milestone.status = MilestoneStatus.FUNDED
        milestone.funded_at = self.now
        self._emit(EventType.MILESTONE_FUNDED, actor.user_id, milestone, amount=milestone.amount)
        return milestone

    def submit(
        self,
        actor: Actor,
        milestone_id: int,
        *,
        message: str | None,
        attachments: Sequence[str],
        requested_amount: str | None,
        units: int | None,
    ) -> Milestone:
        milestone = self.milestone(milestone_id)
        self.authorize(actor, Action.SUBMIT)
        problems = InputProblems()
        text = check_text(message, ["message"], problems)
        urls = self._check_attachments(attachments, problems)
        requested = parse_optional_amount(requested_amount, ["requestedAmount"], problems)
        if milestone.is_piece_rate:
            remaining_units = (milestone.max_units or 0) - milestone.units_released
            if units is None:
                problems.add(
                    ErrorCode.INVALID_INPUT, "A piece-rate submission needs units", ["units"]
                )
            elif not 1 <= units <= remaining_units:
                problems.add(
                    ErrorCode.INVALID_INPUT,
                    f"units must be between 1 and the {remaining_units} that remain",
                    ["units"],
                )
            elif requested is None:
                requested = units * (milestone.unit_price or 0)
        elif units is not None:
            problems.add(
                ErrorCode.INVALID_INPUT, "units applies to piece-rate milestones only", ["units"]
            )
        problems.raise_if_any()
        self._require_open(Action.SUBMIT)
        self._require_milestone(milestone, Action.SUBMIT)
        amount = requested if requested is not None else milestone.funded_amount
        submission = Submission(
            id=None,
            message=text,
            attachments=urls,
            requested_amount=amount,
            units=units,
            status=SubmissionStatus.PENDING,
            created_at=self.now,
        )
        milestone.latest_submission = submission
        milestone.status = MilestoneStatus.SUBMITTED
        milestone.submitted_at = self.now
        milestone.auto_release_at = self.now + self.policy.auto_release_after
        self._emit(
            EventType.MILESTONE_SUBMITTED, actor.user_id, milestone, amount=amount, message=text
        )
        return milestone

    def request_revision(self, actor: Actor, milestone_id: int, message: str | None) -> Milestone:
        milestone = self.milestone(milestone_id)
        self.authorize(actor, Action.REQUEST_REVISION)
        problems = InputProblems()
        text = check_text(message, ["message"], problems)
        problems.raise_if_any()
        self._require_open(Action.REQUEST_REVISION)
        self._require_milestone(milestone, Action.REQUEST_REVISION)
        milestone.status = MilestoneStatus.REVISION_REQUESTED
        milestone.auto_release_at = None
        if milestone.latest_submission is not None:
            milestone.latest_submission.status = SubmissionStatus.REVISION_REQUESTED
        self._emit(EventType.MILESTONE_REVISION_REQUESTED, actor.user_id, milestone, message=text)
        return milestone

    def release(
        self,
        actor: Actor,
        milestone_id: int,
        *,
        amount: str | None,
        end_contract: bool,
    ) -> Milestone:
        milestone = self.milestone(milestone_id)
        self.authorize(actor, Action.RELEASE)
        problems = InputProblems()
        value = parse_optional_amount(amount, ["amount"], problems)
        problems.raise_if_any()
        self._require_open(Action.RELEASE)
        self._require_milestone(milestone, Action.RELEASE)
        if end_contract and any(m.status is MilestoneStatus.NOT_FUNDED for m in self.milestones):
            raise refuse(
                ErrorCode.INVALID_STATE,
                "The contract cannot end while milestones remain unfunded",
                ["endContract"],
            )
        if value is None:
            submission = milestone.latest_submission
            pending = submission is not None and submission.status is SubmissionStatus.PENDING
            if milestone.status is MilestoneStatus.SUBMITTED and submission and pending:
                value = submission.requested_amount
            else:
                value = milestone.remaining
        self._pay_out(milestone, value, actor.user_id)
        milestone.status = MilestoneStatus.RELEASED
        if end_contract:
            self._close(actor, ContractStatus.ENDED, "")
        return milestone

    def pay_bonus(self, actor: Actor, amount: str | None, note: str | None) -> None:
        self.authorize(actor, Action.PAY_BONUS)
        problems = InputProblems()
        value = parse_optional_amount(amount, ["amount"], problems)
        if amount is None:
            problems.add(ErrorCode.INVALID_AMOUNT, "A bonus needs an amount", ["amount"])
        text = check_text(note, ["note"], problems)
        problems.raise_if_any()
        assert value is not None
        if self.status is not ContractStatus.ACTIVE:
            raise refuse(ErrorCode.INVALID_STATE, "A bonus is paid on an active contract only")
        self._record(Entry(EntryKind.BONUS, value))
        self._record_fee(EntryKind.PROCESSING_FEE, value, self.policy.client_processing_fee_bps)
        self._record_fee(EntryKind.SERVICE_FEE, value, self.policy.freelancer_service_fee_bps)
        self._emit(EventType.BONUS_PAID, actor.user_id, amount=value, message=text)

    # --- money movements ------------------------------------------------------------------

    def _allocate(self, milestone: Milestone, amount: int) -> None:
        """Put `amount` more escrow behind `milestone`: available funds first, then a charge."""
        charge = amount - min(self.available, amount)
        if charge:
            self._record(Entry(EntryKind.FUNDING, charge, milestone.id))
            self._record_fee(
                EntryKind.PROCESSING_FEE,
                charge,
                self.policy.client_processing_fee_bps,
                milestone.id,
            )
        if (
            self.ledger.by_kind[EntryKind.INITIATION_FEE] == 0
            and self.policy.contract_initiation_fee
        ):
            self._record(
                Entry(EntryKind.INITIATION_FEE, self.policy.contract_initiation_fee, milestone.id)
            )
        milestone.funded_amount += amount

    def _pay_out(self, milestone: Milestone, amount: int, actor_id: int | None) -> None:
        """Release `amount` of the milestone to the freelancer, topping its escrow up first."""
        if amount > milestone.remaining:
            self._allocate(milestone, amount - milestone.remaining)
        self._record(Entry(EntryKind.RELEASE, amount, milestone.id))
        self._record_fee(
            EntryKind.SERVICE_FEE, amount, self.policy.freelancer_service_fee_bps, milestone.id
        )
        milestone.released_amount += amount
        milestone.released_at = self.now
        milestone.auto_release_at = None
        submission = milestone.latest_submission
        if submission is not None and submission.status is SubmissionStatus.PENDING:
            submission.status = SubmissionStatus.RELEASED
        self._emit(EventType.MILESTONE_RELEASED, actor_id, milestone, amount=amount)

    def _refund(self, milestone: Milestone, amount: int, actor_id: int | None) -> None:
        self._record(Entry(EntryKind.REFUND, amount, milestone.id))
        milestone.refunded_amount += amount
        self._emit(EventType.MILESTONE_REFUNDED, actor_id, milestone, amount=amount)

    def _close(self, actor: Actor, status: ContractStatus, reason: str) -> None:
        """Decline, withdraw or end: every escrowed cent goes back to the client."""
        was_offer = self.status is ContractStatus.OFFERED
        for milestone in self.milestones:
            if milestone.is_active:
                self._refund(milestone, milestone.remaining, actor.user_id)
                milestone.auto_release_at = None
                milestone.status = (
                    MilestoneStatus.RELEASED
                    if milestone.released_amount
                    else MilestoneStatus.REFUNDED
                )
            elif milestone.status is MilestoneStatus.NOT_FUNDED:
                milestone.status = MilestoneStatus.CANCELLED
        unallocated = self.available
        if unallocated:
            self._record(Entry(EntryKind.REFUND, unallocated))
        refundable = (EntryKind.INITIATION_FEE, EntryKind.PROCESSING_FEE) if was_offer else ()
        if self.ledger.total_released == 0:
            refundable = tuple({*refundable, EntryKind.INITIATION_FEE})
        for kind in sorted(refundable):
            outstanding = self.ledger.fee_outstanding(kind)
            if outstanding:
                self._record(Entry(EntryKind.FEE_REFUND, outstanding, refunded_fee=kind))
        self.status = status
        self.ended_at = self.now
        event = (
            EventType.CONTRACT_DECLINED
            if status is ContractStatus.DECLINED
            else EventType.CONTRACT_ENDED
        )
        self._emit(event, actor.user_id, amount=unallocated or None, message=reason or None)

    def _record(self, entry: Entry) -> None:
        self.entries.append(entry)
        self.ledger.add(entry)

    def _record_fee(
        self, kind: EntryKind, base: int, bps: int, milestone_id: int | None = None
    ) -> None:
        amount = fee(base, bps)
        if amount:
            self._record(Entry(kind, amount, milestone_id))

    def _emit(
        self,
        type_: EventType,
        actor_id: int | None,
        milestone: Milestone | None = None,
        *,
        amount: int | None = None,
        message: str | None = None,
    ) -> None:
        self.last_sequence += 1
        self.events.append(
            Event(
                sequence=self.last_sequence,
                type=type_,
                actor_id=actor_id,
                milestone_id=milestone.id if milestone is not None else None,
                amount=amount,
                message=message,
            )
        )

    # --- checks ---------------------------------------------------------------------------

    def authorize(self, actor: Actor, action: Action) -> None:
        self._require(actor, PERMISSIONS[action], str(action))

    def _require(self, actor: Actor, role: Role | None, doing: str) -> Role:
        """The actor must be a party (and the given one); admins only watch."""
        actual = self.role_of(actor)
        if actual is None or (role is not None and actual is not role):
            who = f"the {role.lower()}" if role is not None else "a party to the contract"
            raise refuse(ErrorCode.NOT_PERMITTED, f"Only {who} may {doing}")
        return actual

    def _require_status(self, status: ContractStatus, verb: str) -> None:
        if self.status is not status:
            raise refuse(
                ErrorCode.INVALID_STATE, f"The contract is {self.status}; it cannot be {verb}"
            )

    def _require_open(self, action: Action, *, allow_offer: bool = False) -> None:
        if self.status is ContractStatus.ACTIVE:
            return
        if self.status is ContractStatus.OFFERED and allow_offer:
            return
        raise refuse(
            ErrorCode.INVALID_STATE, f"Cannot {action} while the contract is {self.status}"
        )

    @staticmethod
    def _require_milestone(milestone: Milestone, action: Action) -> None:
        if milestone.status not in TRANSITIONS[action]:
            raise refuse(
                ErrorCode.INVALID_STATE,
                f"Cannot {action} on a milestone that is {milestone.status}",
                ["milestoneId"],
            )

    @staticmethod
    def _check_attachments(attachments: Sequence[str], problems: InputProblems) -> list[str]:
        if len(attachments) > MAX_ATTACHMENTS:
            problems.add(
                ErrorCode.INVALID_INPUT,
                f"At most {MAX_ATTACHMENTS} attachments",
                ["attachments"],
            )
        for i, url in enumerate(attachments):
            if not url.startswith(("https://", "http://")) or len(url) > MAX_URL:
                problems.add(
                    ErrorCode.INVALID_INPUT,
                    "An attachment is an http(s) URL",
                    ["attachments", str(i)],
                )
        return list(attachments)
