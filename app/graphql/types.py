"""The object types of the contract graph. Each is built from a record of the read side
(`app.services.reads`), holds what it needs of it privately, and resolves relations through
the loaders; a relation the compiled read path follows says which on its field (`relation`).

Milestones, contracts, their events and ledger, and what one party asks of the other (change
requests, refunds, disputes) point at each other, so they live in this one module; what they
all build on (Node, Money, User) is `app.graphql.leaf_types`.
"""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from app.domain.changes import MAX_CHANGES
from app.domain.checks import MAX_TEXT
from app.domain.milestones import MAX_SUBMISSIONS, MAX_TITLE
from app.domain.milestones import Submission as SubmissionRecord
from app.domain.money import format_percent
from app.domain.policy import Policy as DomainPolicy
from app.domain.requests import MAX_CHANGE_REQUESTS, MAX_REFUND_REQUESTS
from app.domain.requests import ChangeRequest as ChangeRequestRecord
from app.domain.requests import Dispute as DisputeRecord
from app.domain.requests import MilestoneChange as ChangeRecord
from app.domain.requests import RefundRequest as RefundRecord
from app.domain.work import MAX_ATTACHMENTS
from app.graphql.compiled.relation import relation
from app.graphql.context import Info
from app.graphql.enums import (
    ChangeAction,
    ChangeRequestStatus,
    ContractStatus,
    DisputeStatus,
    EntryKind,
    EventType,
    MilestoneStatus,
    RefundStatus,
    SubmissionStatus,
)
from app.graphql.leaf_types import Money, Node, User, global_id, load_user, plain_values
from app.graphql.pagination import (
    CURSOR,
    EDGES,
    PAGE_INFO,
    TOTAL_COUNT,
    After,
    Before,
    First,
    Last,
    PageInfo,
    entries_cursor,
    entries_window,
    events_cursor,
    events_window,
    page_info,
)
from app.graphql.scalars import Decimal
from app.services import read_rows, reads
from app.services.records import ContractRecord, EntryRecord, EventRecord, MilestoneRecord

TITLE = f"1 to {MAX_TITLE} characters."
DESCRIPTION = f"Up to {MAX_TEXT:,} characters; may be empty."


@strawberry.type(
    description="Work the freelancer submitted on a milestone, for the client to review."
)
class Submission(Node):
    message: str = strawberry.field(description="The freelancer's message (may be empty).")
    attachments: list[str] = strawberry.field(
        description=f"Up to {MAX_ATTACHMENTS} absolute http(s) URLs of the delivered work."
    )
    requested_amount: Money = strawberry.field(
        description="What the freelancer asks to be paid for it; by default the milestone's "
        "`fundedAmount` (piece-rate: `units` times `unitPrice`). An automatic release pays this, "
        "capped at the milestone's remaining escrow."
    )
    units: int | None = strawberry.field(
        description="Units delivered, on a piece-rate milestone; null on a fixed-price one."
    )
    created_at: datetime = strawberry.field(description="When it was submitted.")
    status: SubmissionStatus = strawberry.field(description="Whether it was paid or sent back.")

    @classmethod
    def from_record(cls, record: SubmissionRecord, currency: str) -> Submission:
        return cls(id=global_id("Submission", record.id), **plain_values(cls, record, currency))


@strawberry.type(
    description="One part of a contract's work and price, funded, submitted and paid in turn: "
    "milestones are worked one at a time, in `position` order. Visible to the contract's "
    "parties and admins."
)
class Milestone(Node):
    position: int = strawberry.field(
        description="Its place in the contract, from 1, contiguous; work and funding follow it."
    )
    title: str = strawberry.field(description=TITLE)
    description: str = strawberry.field(description=DESCRIPTION)
    amount: Money = strawberry.field(
        description="Its price, in the contract's currency, at least "
        "`Policy.minimumMilestoneAmount`; on a piece-rate milestone `unitPrice` times `maxUnits`, "
        "the cap that is funded."
    )
    due_date: date | None = strawberry.field(
        description="When the work is due, as agreed; informative, nothing happens on it."
    )
    status: MilestoneStatus = strawberry.field(description="Where it stands in its lifecycle.")
    unit_price: Money | None = strawberry.field(
        description="The price per unit of a piece-rate milestone; null on a fixed-price one."
    )
    max_units: int | None = strawberry.field(
        description="The most units a piece-rate milestone pays (at least 1); null on a "
        "fixed-price one."
    )
    units_released: int = strawberry.field(
        description="Units paid so far (piece-rate); 0 on a fixed-price milestone."
    )
    funded_amount: Money = strawberry.field(
        description="Escrow allocated to it, from new money and available escrow together; "
        '"0.00" before funding.'
    )
    released_amount: Money = strawberry.field(
        description="Paid out of it to the freelancer, gross (before the service fee)."
    )
    refunded_amount: Money = strawberry.field(
        description="Gone back from it to the client. Its remaining escrow is `fundedAmount` "
        "minus `releasedAmount` minus `refundedAmount`."
    )
    auto_release_at: datetime | None = strawberry.field(
        description="While `SUBMITTED` and not paused by a refund request or a dispute: when "
        "the submission is released automatically (submission time + "
        "`Policy.autoReleaseAfterSeconds`); else null."
    )
    funded_at: datetime | None = strawberry.field(
        description="When it was funded; null until then."
    )
    submitted_at: datetime | None = strawberry.field(
        description="When work was last submitted; null until then."
    )
    released_at: datetime | None = strawberry.field(
        description="When money was last released from it; null until then."
    )
    _record: strawberry.Private[MilestoneRecord]
    _currency: strawberry.Private[str]

    @classmethod
    def from_record(cls, record: MilestoneRecord, currency: str) -> Milestone:
        return cls(
            id=global_id("Milestone", record.id),
            **plain_values(cls, record, currency),
            _record=record,
            _currency=currency,
        )

    @relation("contracts", key="contract_id", description="The contract it belongs to.")
    async def contract(self, info: Info) -> Contract:
        return await load_contract(info, self._record.contract_id)

    @strawberry.field(description=f"Every submission, oldest first (at most {MAX_SUBMISSIONS}).")
    async def submissions(self, info: Info) -> list[Submission]:
        records = await info.context.loaders.submissions_by_milestone.load(self._record.id)
        return [Submission.from_record(r, self._currency) for r in records]

    @strawberry.field(description="The refund request awaiting the freelancer's answer.")
    async def pending_refund_request(self, info: Info) -> RefundRequest | None:
        records = await info.context.loaders.refunds_by_milestone.load(self._record.id)
        pending = next((r for r in records if r.status is RefundStatus.PENDING), None)
        return RefundRequest.from_record(pending, self._currency) if pending else None

    @strawberry.field(
        description=f"Every refund request of the milestone, oldest first (at most "
        f"{MAX_REFUND_REQUESTS})."
    )
    async def refund_requests(self, info: Info) -> list[RefundRequest]:
        records = await info.context.loaders.refunds_by_milestone.load(self._record.id)
        return [RefundRequest.from_record(r, self._currency) for r in records]

    @strawberry.field(description="The milestone's latest dispute, open or settled.")
    async def dispute(self, info: Info) -> Dispute | None:
        records = await info.context.loaders.disputes_by_milestone.load(self._record.id)
        return Dispute.from_record(records[-1], self._currency) if records else None


async def load_contract(info: Info, contract_id: int) -> Contract:
    """A contract that a record of it names (so it exists)."""
    record = await info.context.loaders.contract_by_id.load(contract_id)
    assert record is not None
    return Contract.from_record(record)


async def load_milestone(info: Info, milestone_id: int) -> Milestone | None:
    record = await info.context.loaders.milestone_by_id.load(milestone_id)
    if record is None:
        return None
    contract = await info.context.loaders.contract_by_id.load(record.contract_id)
    assert contract is not None
    return Milestone.from_record(record, contract.currency)


@strawberry.type(
    description="One movement of money: a positive amount from one account of the contract "
    "(debited) to another (credited). Entries are never updated or deleted."
)
class LedgerEntry(Node):
    kind: EntryKind = strawberry.field(description="What the money was for.")
    amount: Money = strawberry.field(description="The amount moved, always positive.")
    created_at: datetime = strawberry.field(description="When the money moved.")
    debit_account: str = strawberry.field(
        description="The account the money left: CLIENT, ESCROW, FREELANCER or PLATFORM."
    )
    credit_account: str = strawberry.field(
        description="The account the money reached: CLIENT, ESCROW, FREELANCER or PLATFORM."
    )
    refunded_fee: EntryKind | None = strawberry.field(
        description="On a FEE_REFUND, the kind of fee it returns; null otherwise."
    )
    _milestone_id: strawberry.Private[int | None]

    @classmethod
    def from_record(cls, record: EntryRecord, currency: str) -> LedgerEntry:
        return cls(
            id=global_id("LedgerEntry", record.id),
            **plain_values(cls, record, currency),
            _milestone_id=record.milestone_id,
        )

    @relation(
        "milestones_by_id",
        key="milestone_id",
        description="The milestone it belongs to; null for a contract-level entry (a bonus, "
        "an initiation fee, the refund of available escrow).",
    )
    async def milestone(self, info: Info) -> Milestone | None:
        if self._milestone_id is None:
            return None
        return await load_milestone(info, self._milestone_id)


@strawberry.type(description="A ledger entry of a page of `Escrow.entries`, with its cursor.")
class LedgerEntryEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: LedgerEntry = strawberry.field(description="The ledger entry.")


@strawberry.type(description="A page of a contract's ledger entries, oldest first.")
class LedgerEntryConnection:
    edges: list[LedgerEntryEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(description=TOTAL_COUNT)


@strawberry.type(
    description="A contract's escrow: the money held between the client's payment and the "
    "freelancer's (or the client's refund), with its totals. Always "
    "`totalFunded = totalReleased + totalRefunded + held`. Its id is its own, stable for "
    "the contract, so a client cache merges every read of it."
)
class Escrow(Node):
    held: Money = strawberry.field(
        description="All money in escrow now, allocated to a milestone or not."
    )
    available: Money = strawberry.field(
        description="The part of `held` allocated to no active milestone: it pays towards the "
        "next funding, or goes back to the client when the contract ends."
    )
    total_funded: Money = strawberry.field(
        description="Sum of FUNDING entries: money charged into escrow, fees excluded."
    )
    total_released: Money = strawberry.field(description="Sum of RELEASE entries (gross).")
    total_refunded: Money = strawberry.field(description="Sum of REFUND entries.")
    _contract_id: strawberry.Private[int]
    _currency: strawberry.Private[str]

    @relation(
        "entries",
        paged=True,
        description="Every ledger entry of the contract, fees and bonuses included, oldest first.",
    )
    async def entries(
        self, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> LedgerEntryConnection:
        page = await reads.entries_page(
            self._contract_id, entries_window(first, after, last, before)
        )
        edges = [
            LedgerEntryEdge(
                cursor=entries_cursor(r.id), node=LedgerEntry.from_record(r, self._currency)
            )
            for r in page.rows
        ]
        return LedgerEntryConnection(
            edges=edges,
            page_info=page_info([e.cursor for e in edges], page),
            total_count=page.total,
        )


@strawberry.type(
    description="One state change of a contract, as stored: `Contract.events` lists them and "
    "the `contractEvents` subscription streams them."
)
class ContractEvent(Node):
    sequence: int = strawberry.field(
        description="Its number within the contract: from 1, strictly increasing, no gap. Pass "
        "the last one seen as `afterSequence` to resume `contractEvents`."
    )
    type: EventType = strawberry.field(description="What happened.")
    occurred_at: datetime = strawberry.field(description="When it happened.")
    amount: Money | None = strawberry.field(
        description="The money the step moved (see `ContractEventType`); null when none."
    )
    message: str | None = strawberry.field(
        description="The text the actor gave (a reason, a note, a submission's message); null "
        "when none."
    )
    _record: strawberry.Private[EventRecord]
    _currency: strawberry.Private[str]

    @classmethod
    def from_record(cls, record: EventRecord, currency: str) -> ContractEvent:
        return cls(
            id=global_id("ContractEvent", record.id),
            **plain_values(cls, record, currency),
            _record=record,
            _currency=currency,
        )

    @relation("users", key="actor_id", description="Who took the step; null for an automatic one.")
    async def actor(self, info: Info) -> User | None:
        return await load_user(info, self._record.actor_id)

    @relation("contracts", key="contract_id", description="The contract it happened to.")
    async def contract(self, info: Info) -> Contract:
        return await load_contract(info, self._record.contract_id)

    @relation(
        "milestones_by_id",
        key="milestone_id",
        description="The milestone it concerns; null for a contract-level event.",
    )
    async def milestone(self, info: Info) -> Milestone | None:
        if self._record.milestone_id is None:
            return None
        return await load_milestone(info, self._record.milestone_id)

    @strawberry.field(
        description="The change request it concerns (the CHANGE_REQUEST_* types); else null."
    )
    async def change_request(self, info: Info) -> ChangeRequest | None:
        if self._record.change_request_id is None:
            return None
        loader = info.context.loaders.change_request_by_id
        record = await loader.load(self._record.change_request_id)
        return ChangeRequest.from_record(record, self._currency) if record else None


@strawberry.type(description="An event of a page of `Contract.events`, with its cursor.")
class ContractEventEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: ContractEvent = strawberry.field(description="The event.")


@strawberry.type(description="A page of a contract's events, oldest first (by `sequence`).")
class ContractEventConnection:
    edges: list[ContractEventEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(description=TOTAL_COUNT)


@strawberry.type(
    description="A fixed-price agreement between a client and a freelancer, split into "
    "milestones paid through escrow. Visible to its two parties and to admins; to anyone else "
    "it does not exist (null, or NOT_FOUND in a mutation)."
)
class Contract(Node):
    title: str = strawberry.field(description=TITLE)
    description: str = strawberry.field(description=DESCRIPTION)
    status: ContractStatus = strawberry.field(description="Where it stands in its lifecycle.")
    currency: str = strawberry.field(
        description="The ISO 4217 code of every amount of the contract: USD, EUR, GBP, CAD or "
        "AUD; fixed for its life."
    )
    created_at: datetime = strawberry.field(description="When the client offered it.")
    accepted_at: datetime | None = strawberry.field(
        description="When the freelancer accepted it; null until then."
    )
    ended_at: datetime | None = strawberry.field(
        description="When it was declined or ended; null while open."
    )
    _record: strawberry.Private[ContractRecord]

    @classmethod
    def from_record(cls, record: ContractRecord) -> Contract:
        return cls(
            id=global_id("Contract", record.id),
            **plain_values(cls, record, record.currency),
            _record=record,
        )

    @relation("users", key="client_id", description="The party who offered it and pays.")
    async def client(self, info: Info) -> User:
        user = await load_user(info, self._record.client_id)
        assert user is not None
        return user

    @relation("users", key="freelancer_id", description="The party who does the work and is paid.")
    async def freelancer(self, info: Info) -> User:
        user = await load_user(info, self._record.freelancer_id)
        assert user is not None
        return user

    @relation("milestones", description="By position; deleted milestones are absent.")
    async def milestones(self, info: Info) -> list[Milestone]:
        records = await info.context.loaders.milestones_by_contract.load(self._record.id)
        return [Milestone.from_record(r, self._record.currency) for r in records]

    @relation(
        "active_milestone", description="The funded, submitted or disputed milestone, if any."
    )
    async def active_milestone(self, info: Info) -> Milestone | None:
        records = await info.context.loaders.milestones_by_contract.load(self._record.id)
        active = next((r for r in records if r.is_active), None)
        return Milestone.from_record(active, self._record.currency) if active else None

    @strawberry.field(description="The change request awaiting an answer, if any.")
    async def pending_change_request(self, info: Info) -> ChangeRequest | None:
        records = await info.context.loaders.change_requests_by_contract.load(self._record.id)
        pending = next((r for r in records if r.status is ChangeRequestStatus.PENDING), None)
        return ChangeRequest.from_record(pending, self._record.currency) if pending else None

    @strawberry.field(
        description=f"Every change request, oldest first (at most {MAX_CHANGE_REQUESTS})."
    )
    async def change_requests(self, info: Info) -> list[ChangeRequest]:
        records = await info.context.loaders.change_requests_by_contract.load(self._record.id)
        return [ChangeRequest.from_record(r, self._record.currency) for r in records]

    @relation("escrows", description="Its escrow: the money held, and the ledger.")
    async def escrow(self, info: Info) -> Escrow:
        return await load_escrow(info, self._record)

    @relation("events", paged=True, description="Every event of the contract, oldest first.")
    async def events(
        self, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> ContractEventConnection:
        page = await reads.events_page(self._record.id, events_window(first, after, last, before))
        edges = [
            ContractEventEdge(
                cursor=events_cursor(r.sequence),
                node=ContractEvent.from_record(r, self._record.currency),
            )
            for r in page.rows
        ]
        return ContractEventConnection(
            edges=edges,
            page_info=page_info([e.cursor for e in edges], page),
            total_count=page.total,
        )


async def load_escrow(info: Info, contract: ContractRecord) -> Escrow:
    totals = await info.context.loaders.ledger_totals_by_contract.load(contract.id)
    milestones = await info.context.loaders.milestones_by_contract.load(contract.id)
    figures = read_rows.escrow_figures(totals, milestones)
    return Escrow(
        id=global_id("Escrow", contract.id),
        **{name: Money.of(cents, contract.currency) for name, cents in figures.items()},
        _contract_id=contract.id,
        _currency=contract.currency,
    )


@strawberry.type(description="A contract of a page of `contracts`, with its cursor.")
class ContractEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: Contract = strawberry.field(description="The contract.")


@strawberry.type(
    description="A page of the viewer's own contracts, newest first (`createdAt`, then id)."
)
class ContractConnection:
    edges: list[ContractEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(description=TOTAL_COUNT)


@strawberry.type(
    description="One proposed change, with the values it proposes; a field left null is not "
    "changed (for ADD: not given)."
)
class MilestoneChange:
    action: ChangeAction = strawberry.field(description="What the change does.")
    title: str | None = strawberry.field(description="The proposed title.")
    description: str | None = strawberry.field(description="The proposed description.")
    amount: Money | None = strawberry.field(description="The proposed amount.")
    due_date: date | None = strawberry.field(description="The proposed due date.")
    position: int | None = strawberry.field(
        description="Where ADD inserts or MOVE moves the milestone (from 1); null for ADD: "
        "appended."
    )
    unit_price: Money | None = strawberry.field(description="The proposed price per unit.")
    max_units: int | None = strawberry.field(description="The proposed most units.")
    _milestone_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, change: ChangeRecord, currency: str) -> MilestoneChange:
        return cls(**plain_values(cls, change, currency), _milestone_id=change.milestone_id)

    @strawberry.field(description="The milestone changed (for ADD, the one created on accept).")
    async def milestone(self, info: Info) -> Milestone | None:
        if self._milestone_id is None:
            return None
        return await load_milestone(info, self._milestone_id)


@strawberry.type(
    description="A batch of changes to a contract's future (NOT_FUNDED) milestones, proposed "
    "by one party for the other to accept (every change at once) or decline."
)
class ChangeRequest(Node):
    status: ChangeRequestStatus = strawberry.field(description="Where it stands.")
    message: str = strawberry.field(description="The proposer's message (may be empty).")
    reason: str | None = strawberry.field(
        description="Why the other party declined it; null otherwise."
    )
    created_at: datetime = strawberry.field(description="When it was proposed.")
    resolved_at: datetime | None = strawberry.field(
        description="When it was accepted, declined or withdrawn; null while pending."
    )
    changes: list[MilestoneChange] = strawberry.field(
        description=f"The changes, in the order they apply (1 to {MAX_CHANGES})."
    )
    _proposed_by: strawberry.Private[int]

    @classmethod
    def from_record(cls, record: ChangeRequestRecord, currency: str) -> ChangeRequest:
        return cls(
            id=global_id("ChangeRequest", record.id),
            **plain_values(
                cls,
                record,
                currency,
                changes=[MilestoneChange.of(c, currency) for c in record.changes],
            ),
            _proposed_by=record.proposed_by,
        )

    @strawberry.field(description="The party who proposed it.")
    async def proposed_by(self, info: Info) -> User:
        user = await load_user(info, self._proposed_by)
        assert user is not None
        return user


@strawberry.type(
    description="The client's request for an active milestone's escrow back, for the "
    "freelancer to approve or decline by `respondBy`."
)
class RefundRequest(Node):
    amount: Money = strawberry.field(
        description="The amount asked back, at most the milestone's remaining escrow."
    )
    reason: str = strawberry.field(description="The client's reason (may be empty).")
    status: RefundStatus = strawberry.field(description="Where it stands.")
    respond_by: datetime = strawberry.field(
        description="When an unanswered request counts as approved (request time + "
        "`Policy.refundResponseSeconds`)."
    )
    response: str | None = strawberry.field(
        description="The freelancer's message with the answer; null if none."
    )
    created_at: datetime = strawberry.field(description="When the client asked.")
    resolved_at: datetime | None = strawberry.field(
        description="When it was answered or withdrawn; null while pending."
    )
    _milestone_id: strawberry.Private[int]

    @classmethod
    def from_record(cls, record: RefundRecord, currency: str) -> RefundRequest:
        return cls(
            id=global_id("RefundRequest", record.id),
            **plain_values(cls, record, currency),
            _milestone_id=record.milestone_id,
        )

    @strawberry.field(description="The milestone whose escrow it asks back.")
    async def milestone(self, info: Info) -> Milestone | None:
        return await load_milestone(info, self._milestone_id)


@strawberry.type(
    description="How an admin split a disputed milestone's remaining escrow; the two parts add "
    "up to it exactly."
)
class DisputeResolution:
    freelancer_amount: Money = strawberry.field(
        description="Released to the freelancer (the service fee applies); may be zero."
    )
    client_amount: Money = strawberry.field(description="Refunded to the client; may be zero.")
    note: str | None = strawberry.field(description="The admin's note; null if none.")
    resolved_at: datetime = strawberry.field(description="When it was resolved.")
    _resolved_by: strawberry.Private[int | None]

    @strawberry.field(description="The admin who resolved it.")
    async def resolved_by(self, info: Info) -> User | None:
        return await load_user(info, self._resolved_by)


@strawberry.type(
    description="A party's dispute over an active milestone: it freezes the milestone until an "
    "admin splits its escrow or the opener withdraws it."
)
class Dispute(Node):
    reason: str = strawberry.field(description="The opener's reason.")
    status: DisputeStatus = strawberry.field(description="Where it stands.")
    created_at: datetime = strawberry.field(description="When it was opened.")
    resolution: DisputeResolution | None = strawberry.field(
        description="The admin's split, once RESOLVED; else null."
    )
    _record: strawberry.Private[DisputeRecord]

    @classmethod
    def from_record(cls, record: DisputeRecord, currency: str) -> Dispute:
        resolution = None
        if record.status is DisputeStatus.RESOLVED and record.resolved_at is not None:
            resolution = DisputeResolution(
                freelancer_amount=Money.of(record.freelancer_amount or 0, currency),
                client_amount=Money.of(record.client_amount or 0, currency),
                note=record.note,
                resolved_at=record.resolved_at,
                _resolved_by=record.resolved_by,
            )
        return cls(
            id=global_id("Dispute", record.id),
            **plain_values(cls, record, currency, resolution=resolution),
            _record=record,
        )

    @strawberry.field(description="The party who opened it.")
    async def opened_by(self, info: Info) -> User:
        user = await load_user(info, self._record.opened_by)
        assert user is not None
        return user

    @strawberry.field(description="The disputed milestone.")
    async def milestone(self, info: Info) -> Milestone | None:
        return await load_milestone(info, self._record.milestone_id)


@strawberry.type(
    description="The fees, limits and windows in force on this server (its settings); amounts "
    "in USD."
)
class Policy:
    minimum_milestone_amount: Money = strawberry.field(
        description="The least a milestone may cost (`MIN_MILESTONE_AMOUNT`)."
    )
    max_milestones_per_contract: int = strawberry.field(
        description="The most milestones a contract holds, finished ones included "
        "(`MAX_MILESTONES_PER_CONTRACT`)."
    )
    auto_release_after_seconds: int = strawberry.field(
        description="Seconds from a submission to its automatic release (`AUTO_RELEASE_AFTER`)."
    )
    refund_response_seconds: int = strawberry.field(
        description="Seconds the freelancer has to answer a refund request before it counts as "
        "approved (`REFUND_RESPONSE_WINDOW`)."
    )
    contract_initiation_fee: Money = strawberry.field(
        description="Charged to the client once per contract, with its first funding "
        "(`CONTRACT_INITIATION_FEE`)."
    )
    client_processing_fee_percent: Decimal = strawberry.field(
        description="Percent of each funding charge and bonus charged to the client, such as "
        '"3.00" (`CLIENT_PROCESSING_FEE_PERCENT`).'
    )
    freelancer_service_fee_percent: Decimal = strawberry.field(
        description="Percent of each release and bonus withheld from the freelancer, such as "
        '"10.00" (`FREELANCER_SERVICE_FEE_PERCENT`).'
    )

    @classmethod
    def of(cls, policy: DomainPolicy, currency: str = "USD") -> Policy:
        return cls(
            minimum_milestone_amount=Money.of(policy.minimum_milestone_amount, currency),
            max_milestones_per_contract=policy.max_milestones_per_contract,
            auto_release_after_seconds=int(policy.auto_release_after.total_seconds()),
            refund_response_seconds=int(policy.refund_response_window.total_seconds()),
            contract_initiation_fee=Money.of(policy.contract_initiation_fee, currency),
            client_processing_fee_percent=Decimal(format_percent(policy.client_processing_fee_bps)),
            freelancer_service_fee_percent=Decimal(
                format_percent(policy.freelancer_service_fee_bps)
            ),
        )
