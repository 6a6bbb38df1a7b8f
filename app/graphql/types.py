"""The object types of the contract graph. Each holds its row privately and resolves relations
through the loaders.

Milestones, contracts, their events and ledger, and what one party asks of the other (change
requests, refunds, disputes) point at each other, so they live in this one module; what they
all build on (Node, Money, User) is `app.graphql.leaf_types`.
"""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from app.db import models
from app.domain.milestones import ACTIVE_STATUSES
from app.domain.money import format_percent
from app.domain.policy import Policy as DomainPolicy
from app.domain.requests import MilestoneChange as DomainChange
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
from app.graphql.ids import encode_id
from app.graphql.leaf_types import Money, Node, User, load_user, plain_values
from app.graphql.pagination import (
    PageInfo,
    after_entry,
    after_event,
    entries_cursor,
    events_cursor,
    page_size,
)
from app.graphql.scalars import Decimal
from app.services import reads
from app.services.mappers import change_from_json


@strawberry.type
class Submission(Node):
    message: str
    attachments: list[str]
    requested_amount: Money
    units: int | None
    created_at: datetime
    status: SubmissionStatus

    @classmethod
    def from_row(cls, row: models.Submission, currency: str) -> Submission:
        return cls(
            id=strawberry.ID(encode_id("Submission", row.id)),
            **plain_values(cls, row, currency, attachments=list(row.attachments)),
        )


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
    _row: strawberry.Private[models.Milestone]
    _currency: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: models.Milestone, currency: str) -> Milestone:
        return cls(
            id=strawberry.ID(encode_id("Milestone", row.id)),
            **plain_values(cls, row, currency, position=row.position or 0),
            _row=row,
            _currency=currency,
        )

    @strawberry.field
    async def contract(self, info: Info) -> Contract:
        row = await info.context.loaders.contract_by_id.load(self._row.contract_id)
        assert row is not None
        return Contract.from_row(row)

    @strawberry.field(description="Every submission, oldest first.")
    async def submissions(self, info: Info) -> list[Submission]:
        rows = await info.context.loaders.submissions_by_milestone.load(self._row.id)
        return [Submission.from_row(r, self._currency) for r in rows]

    @strawberry.field(description="The refund request awaiting the freelancer's answer.")
    async def pending_refund_request(self, info: Info) -> RefundRequest | None:
        rows = await info.context.loaders.refunds_by_milestone.load(self._row.id)
        pending = next((r for r in rows if r.status == "PENDING"), None)
        return RefundRequest.from_row(pending, self._currency) if pending else None

    @strawberry.field(description="Every refund request of the milestone, oldest first.")
    async def refund_requests(self, info: Info) -> list[RefundRequest]:
        rows = await info.context.loaders.refunds_by_milestone.load(self._row.id)
        return [RefundRequest.from_row(r, self._currency) for r in rows]

    @strawberry.field(description="The milestone's latest dispute, open or settled.")
    async def dispute(self, info: Info) -> Dispute | None:
        rows = await info.context.loaders.disputes_by_milestone.load(self._row.id)
        return Dispute.from_row(rows[-1], self._currency) if rows else None


async def load_milestone(info: Info, milestone_id: int) -> Milestone | None:
    row = await info.context.loaders.milestone_by_id.load(milestone_id)
    if row is None:
        return None
    contract = await info.context.loaders.contract_by_id.load(row.contract_id)
    assert contract is not None
    return Milestone.from_row(row, contract.currency)


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
    def from_row(cls, row: models.LedgerEntry, currency: str) -> LedgerEntry:
        return cls(
            id=strawberry.ID(encode_id("LedgerEntry", row.id)),
            kind=EntryKind(row.kind),
            amount=Money.of(row.amount, currency),
            created_at=row.created_at,
            debit_account=row.debit_account,
            credit_account=row.credit_account,
            refunded_fee=EntryKind(row.refunded_fee) if row.refunded_fee else None,
            _milestone_id=row.milestone_id,
        )

    @strawberry.field
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

    @strawberry.field(
        description="Every ledger entry of the contract, fees included, oldest first."
    )
    async def entries(
        self, first: int | None = None, after: str | None = None
    ) -> LedgerEntryConnection:
        page = await reads.entries_page(
            self._contract_id, first=page_size(first), after=after_entry(after)
        )
        edges = [
            LedgerEntryEdge(
                cursor=entries_cursor(r.id), node=LedgerEntry.from_row(r, self._currency)
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
    _row: strawberry.Private[models.ContractEvent]
    _currency: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: models.ContractEvent, currency: str) -> ContractEvent:
        return cls(
            id=strawberry.ID(encode_id("ContractEvent", row.id)),
            **plain_values(cls, row, currency),
            _row=row,
            _currency=currency,
        )

    @strawberry.field(description="Who took the step; null for an automatic one.")
    async def actor(self, info: Info) -> User | None:
        return await load_user(info, self._row.actor_id)

    @strawberry.field
    async def contract(self, info: Info) -> Contract:
        row = await info.context.loaders.contract_by_id.load(self._row.contract_id)
        assert row is not None
        return Contract.from_row(row)

    @strawberry.field
    async def milestone(self, info: Info) -> Milestone | None:
        if self._row.milestone_id is None:
            return None
        return await load_milestone(info, self._row.milestone_id)

    @strawberry.field
    async def change_request(self, info: Info) -> ChangeRequest | None:
        if self._row.change_request_id is None:
            return None
        row = await info.context.loaders.change_request_by_id.load(self._row.change_request_id)
        return ChangeRequest.from_row(row, self._currency) if row else None


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
    _row: strawberry.Private[models.Contract]

    @classmethod
    def from_row(cls, row: models.Contract) -> Contract:
        return cls(
            id=strawberry.ID(encode_id("Contract", row.id)),
            **plain_values(cls, row, row.currency),
            _row=row,
        )

    @strawberry.field
    async def client(self, info: Info) -> User:
        user = await load_user(info, self._row.client_id)
        assert user is not None
        return user

    @strawberry.field
    async def freelancer(self, info: Info) -> User:
        user = await load_user(info, self._row.freelancer_id)
        assert user is not None
        return user

    @strawberry.field(description="By position; deleted milestones are absent.")
    async def milestones(self, info: Info) -> list[Milestone]:
        rows = await info.context.loaders.milestones_by_contract.load(self._row.id)
        return [Milestone.from_row(r, self._row.currency) for r in rows]

    @strawberry.field(description="The funded, submitted or disputed milestone, if any.")
    async def active_milestone(self, info: Info) -> Milestone | None:
        milestones: list[Milestone] = await self.milestones(info)
        return next((m for m in milestones if m.status in ACTIVE_STATUSES), None)

    @strawberry.field(description="The change request awaiting an answer, if any.")
    async def pending_change_request(self, info: Info) -> ChangeRequest | None:
        rows = await info.context.loaders.change_requests_by_contract.load(self._row.id)
        pending = next((r for r in rows if r.status == "PENDING"), None)
        return ChangeRequest.from_row(pending, self._row.currency) if pending else None

    @strawberry.field(description="Every change request, oldest first.")
    async def change_requests(self, info: Info) -> list[ChangeRequest]:
        rows = await info.context.loaders.change_requests_by_contract.load(self._row.id)
        return [ChangeRequest.from_row(r, self._row.currency) for r in rows]

    @strawberry.field
    async def escrow(self, info: Info) -> Escrow:
        totals = await info.context.loaders.ledger_totals_by_contract.load(self._row.id)
        milestones = await info.context.loaders.milestones_by_contract.load(self._row.id)
        currency = self._row.currency
        return Escrow(
            held=Money.of(totals.held, currency),
            available=Money.of(totals.held - reads.allocated(milestones), currency),
            total_funded=Money.of(totals.total_funded, currency),
            total_released=Money.of(totals.total_released, currency),
            total_refunded=Money.of(totals.total_refunded, currency),
            _contract_id=self._row.id,
            _currency=currency,
        )

    @strawberry.field(description="Every event of the contract, oldest first.")
    async def events(
        self, first: int | None = None, after: str | None = None
    ) -> ContractEventConnection:
        page = await reads.events_page(
            self._row.id, first=page_size(first), after=after_event(after)
        )
        edges = [
            ContractEventEdge(
                cursor=events_cursor(r.sequence),
                node=ContractEvent.from_row(r, self._row.currency),
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
    def of(cls, change: DomainChange, currency: str) -> MilestoneChange:
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
    def from_row(cls, row: models.ChangeRequest, currency: str) -> ChangeRequest:
        return cls(
            id=strawberry.ID(encode_id("ChangeRequest", row.id)),
            **plain_values(
                cls,
                row,
                currency,
                changes=[MilestoneChange.of(change_from_json(c), currency) for c in row.changes],
            ),
            _proposed_by=row.proposed_by_id,
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
    def from_row(cls, row: models.RefundRequest, currency: str) -> RefundRequest:
        return cls(
            id=strawberry.ID(encode_id("RefundRequest", row.id)),
            **plain_values(cls, row, currency),
            _milestone_id=row.milestone_id,
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
    _row: strawberry.Private[models.Dispute]

    @classmethod
    def from_row(cls, row: models.Dispute, currency: str) -> Dispute:
        resolution = None
        if row.status == DisputeStatus.RESOLVED and row.resolved_at is not None:
            resolution = DisputeResolution(
                freelancer_amount=Money.of(row.freelancer_amount or 0, currency),
                client_amount=Money.of(row.client_amount or 0, currency),
                note=row.note,
                resolved_at=row.resolved_at,
                _resolved_by=row.resolved_by_id,
            )
        return cls(
            id=strawberry.ID(encode_id("Dispute", row.id)),
            **plain_values(cls, row, currency, resolution=resolution),
            _row=row,
        )

    @strawberry.field
    async def opened_by(self, info: Info) -> User:
        user = await load_user(info, self._row.opened_by_id)
        assert user is not None
        return user

    @strawberry.field
    async def milestone(self, info: Info) -> Milestone | None:
        return await load_milestone(info, self._row.milestone_id)


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
