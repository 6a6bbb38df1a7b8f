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

from app.domain.milestones import Submission as SubmissionRecord
from app.domain.money import format_percent
from app.domain.policy import Policy as DomainPolicy
from app.domain.requests import ChangeRequest as ChangeRequestRecord
from app.domain.requests import Dispute as DisputeRecord
from app.domain.requests import MilestoneChange as ChangeRecord
from app.domain.requests import RefundRequest as RefundRecord
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
    PageInfo,
    after_entry,
    after_event,
    entries_cursor,
    events_cursor,
    page_size,
)
from app.graphql.scalars import Decimal
from app.services import read_rows, reads
from app.services.records import ContractRecord, EntryRecord, EventRecord, MilestoneRecord


@strawberry.type
class Submission(Node):
    message: str
    attachments: list[str]
    requested_amount: Money
    units: int | None
    created_at: datetime
    status: SubmissionStatus

    @classmethod
    def from_record(cls, record: SubmissionRecord, currency: str) -> Submission:
        return cls(id=global_id("Submission", record.id), **plain_values(cls, record, currency))


@strawberry.type
class Milestone(Node):
    position: int
    title: str
    description: str
    amount: Money
    due_date: date | None
    status: MilestoneStatus
    unit_price: Money | None
    max_units: int | None
    units_released: int
    funded_amount: Money
    released_amount: Money
    refunded_amount: Money
    auto_release_at: datetime | None
    funded_at: datetime | None
    submitted_at: datetime | None
    released_at: datetime | None
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

    @relation("contracts", key="contract_id")
    async def contract(self, info: Info) -> Contract:
        return await load_contract(info, self._record.contract_id)

    @strawberry.field(description="Every submission, oldest first.")
    async def submissions(self, info: Info) -> list[Submission]:
        records = await info.context.loaders.submissions_by_milestone.load(self._record.id)
        return [Submission.from_record(r, self._currency) for r in records]

    @strawberry.field(description="The refund request awaiting the freelancer's answer.")
    async def pending_refund_request(self, info: Info) -> RefundRequest | None:
        records = await info.context.loaders.refunds_by_milestone.load(self._record.id)
        pending = next((r for r in records if r.status is RefundStatus.PENDING), None)
        return RefundRequest.from_record(pending, self._currency) if pending else None

    @strawberry.field(description="Every refund request of the milestone, oldest first.")
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


@strawberry.type
class LedgerEntry(Node):
    kind: EntryKind
    amount: Money
    created_at: datetime
    debit_account: str
    credit_account: str
    refunded_fee: EntryKind | None
    _milestone_id: strawberry.Private[int | None]

    @classmethod
    def from_record(cls, record: EntryRecord, currency: str) -> LedgerEntry:
        return cls(
            id=global_id("LedgerEntry", record.id),
            **plain_values(cls, record, currency),
            _milestone_id=record.milestone_id,
        )

    @relation("milestones_by_id", key="milestone_id")
    async def milestone(self, info: Info) -> Milestone | None:
        if self._milestone_id is None:
            return None
        return await load_milestone(info, self._milestone_id)


@strawberry.type
class LedgerEntryEdge:
    cursor: str
    node: LedgerEntry


@strawberry.type
class LedgerEntryConnection:
    edges: list[LedgerEntryEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class Escrow:
    held: Money
    available: Money
    total_funded: Money
    total_released: Money
    total_refunded: Money
    _contract_id: strawberry.Private[int]
    _currency: strawberry.Private[str]

    @relation(
        "entries",
        paged=True,
        description="Every ledger entry of the contract, fees included, oldest first.",
    )
    async def entries(
        self, first: int | None = None, after: str | None = None
    ) -> LedgerEntryConnection:
        page = await reads.entries_page(
            self._contract_id, first=page_size(first), after=after_entry(after)
        )
        edges = [
            LedgerEntryEdge(
                cursor=entries_cursor(r.id), node=LedgerEntry.from_record(r, self._currency)
            )
            for r in page.rows
        ]
        return LedgerEntryConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=page.total,
        )


@strawberry.type
class ContractEvent(Node):
    sequence: int
    type: EventType
    occurred_at: datetime
    amount: Money | None
    message: str | None
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

    @relation("contracts", key="contract_id")
    async def contract(self, info: Info) -> Contract:
        return await load_contract(info, self._record.contract_id)

    @relation("milestones_by_id", key="milestone_id")
    async def milestone(self, info: Info) -> Milestone | None:
        if self._record.milestone_id is None:
            return None
        return await load_milestone(info, self._record.milestone_id)

    @strawberry.field
    async def change_request(self, info: Info) -> ChangeRequest | None:
        if self._record.change_request_id is None:
            return None
        loader = info.context.loaders.change_request_by_id
        record = await loader.load(self._record.change_request_id)
        return ChangeRequest.from_record(record, self._currency) if record else None


@strawberry.type
class ContractEventEdge:
    cursor: str
    node: ContractEvent


@strawberry.type
class ContractEventConnection:
    edges: list[ContractEventEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class Contract(Node):
    title: str
    description: str
    status: ContractStatus
    currency: str
    created_at: datetime
    accepted_at: datetime | None
    ended_at: datetime | None
    _record: strawberry.Private[ContractRecord]

    @classmethod
    def from_record(cls, record: ContractRecord) -> Contract:
        return cls(
            id=global_id("Contract", record.id),
            **plain_values(cls, record, record.currency),
            _record=record,
        )

    @relation("users", key="client_id")
    async def client(self, info: Info) -> User:
        user = await load_user(info, self._record.client_id)
        assert user is not None
        return user

    @relation("users", key="freelancer_id")
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

    @strawberry.field(description="Every change request, oldest first.")
    async def change_requests(self, info: Info) -> list[ChangeRequest]:
        records = await info.context.loaders.change_requests_by_contract.load(self._record.id)
        return [ChangeRequest.from_record(r, self._record.currency) for r in records]

    @relation("escrows")
    async def escrow(self, info: Info) -> Escrow:
        totals = await info.context.loaders.ledger_totals_by_contract.load(self._record.id)
        milestones = await info.context.loaders.milestones_by_contract.load(self._record.id)
        currency = self._record.currency
        figures = read_rows.escrow_figures(totals, milestones)
        return Escrow(
            **{name: Money.of(cents, currency) for name, cents in figures.items()},
            _contract_id=self._record.id,
            _currency=currency,
        )

    @relation("events", paged=True, description="Every event of the contract, oldest first.")
    async def events(
        self, first: int | None = None, after: str | None = None
    ) -> ContractEventConnection:
        page = await reads.events_page(
            self._record.id, first=page_size(first), after=after_event(after)
        )
        edges = [
            ContractEventEdge(
                cursor=events_cursor(r.sequence),
                node=ContractEvent.from_record(r, self._record.currency),
            )
            for r in page.rows
        ]
        return ContractEventConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=page.total,
        )


@strawberry.type
class ContractEdge:
    cursor: str
    node: Contract


@strawberry.type
class ContractConnection:
    edges: list[ContractEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="One proposed change, with the values it proposes.")
class MilestoneChange:
    action: ChangeAction
    title: str | None
    description: str | None
    amount: Money | None
    due_date: date | None
    position: int | None
    unit_price: Money | None
    max_units: int | None
    _milestone_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, change: ChangeRecord, currency: str) -> MilestoneChange:
        return cls(**plain_values(cls, change, currency), _milestone_id=change.milestone_id)

    @strawberry.field(description="The milestone changed (for ADD, the one created on accept).")
    async def milestone(self, info: Info) -> Milestone | None:
        if self._milestone_id is None:
            return None
        return await load_milestone(info, self._milestone_id)


@strawberry.type
class ChangeRequest(Node):
    status: ChangeRequestStatus
    message: str
    reason: str | None
    created_at: datetime
    resolved_at: datetime | None
    changes: list[MilestoneChange]
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

    @strawberry.field
    async def proposed_by(self, info: Info) -> User:
        user = await load_user(info, self._proposed_by)
        assert user is not None
        return user


@strawberry.type
class RefundRequest(Node):
    amount: Money
    reason: str
    status: RefundStatus
    respond_by: datetime = strawberry.field(
        description="When an unanswered request counts as approved."
    )
    response: str | None
    created_at: datetime
    resolved_at: datetime | None
    _milestone_id: strawberry.Private[int]

    @classmethod
    def from_record(cls, record: RefundRecord, currency: str) -> RefundRequest:
        return cls(
            id=global_id("RefundRequest", record.id),
            **plain_values(cls, record, currency),
            _milestone_id=record.milestone_id,
        )

    @strawberry.field
    async def milestone(self, info: Info) -> Milestone | None:
        return await load_milestone(info, self._milestone_id)


@strawberry.type
class DisputeResolution:
    freelancer_amount: Money
    client_amount: Money
    note: str | None
    resolved_at: datetime
    _resolved_by: strawberry.Private[int | None]

    @strawberry.field
    async def resolved_by(self, info: Info) -> User | None:
        return await load_user(info, self._resolved_by)


@strawberry.type
class Dispute(Node):
    reason: str
    status: DisputeStatus
    created_at: datetime
    resolution: DisputeResolution | None
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

    @strawberry.field
    async def opened_by(self, info: Info) -> User:
        user = await load_user(info, self._record.opened_by)
        assert user is not None
        return user

    @strawberry.field
    async def milestone(self, info: Info) -> Milestone | None:
        return await load_milestone(info, self._record.milestone_id)


@strawberry.type
class Policy:
    minimum_milestone_amount: Money
    max_milestones_per_contract: int
    auto_release_after_seconds: int
    refund_response_seconds: int
    contract_initiation_fee: Money
    client_processing_fee_percent: Decimal
    freelancer_service_fee_percent: Decimal

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
