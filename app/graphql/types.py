"""Object types. Each holds its row privately and resolves relations through the loaders."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.db import models
from app.domain.contract import ContractStatus
from app.domain.events import EventType
from app.domain.ledger import EntryKind
from app.domain.milestones import ACTIVE_STATUSES, MilestoneStatus, SubmissionStatus
from app.domain.money import format_amount, format_percent
from app.domain.policy import Policy as DomainPolicy
from app.graphql.context import Info
from app.graphql.ids import encode_id
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

if TYPE_CHECKING:
    from app.graphql.request_types import ChangeRequest, Dispute, RefundRequest

_REQUESTS = "app.graphql.request_types"
ChangeRequestRef = Annotated["ChangeRequest", strawberry.lazy(_REQUESTS)]
RefundRequestRef = Annotated["RefundRequest", strawberry.lazy(_REQUESTS)]
DisputeRef = Annotated["Dispute", strawberry.lazy(_REQUESTS)]

# The domain's enums are the schema's enums.
strawberry.enum(ContractStatus, name="ContractStatus")
strawberry.enum(MilestoneStatus, name="MilestoneStatus")
strawberry.enum(SubmissionStatus, name="SubmissionStatus")
strawberry.enum(EntryKind, name="LedgerEntryKind")
strawberry.enum(EventType, name="ContractEventType")


@strawberry.interface(description="An object with an opaque global id.")
class Node:
    id: strawberry.ID


@strawberry.type
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, cents: int, currency: str) -> Money:
        return cls(amount=Decimal(format_amount(cents)), currency=currency)


@strawberry.type
class User(Node):
    name: str
    _row: strawberry.Private[models.User]
    _is_caller: strawberry.Private[bool] = False

    @classmethod
    def from_row(cls, row: models.User, *, is_caller: bool = False) -> User:
        return cls(
            id=strawberry.ID(encode_id("User", row.id)),
            name=row.name,
            _row=row,
            _is_caller=is_caller,
        )

    async def _shown_to_caller(self, info: Info) -> bool:
        if self._is_caller:
            return True
        principal = await info.context.principal()
        return principal is not None and (principal.is_admin or principal.user_id == self._row.id)

    @strawberry.field(description="Shown only to the user and to admins.")
    async def email(self, info: Info) -> str | None:
        return self._row.email if await self._shown_to_caller(info) else None

    @strawberry.field(description="Shown only to the user and to admins; null for others.")
    async def is_admin(self, info: Info) -> bool | None:
        return self._row.is_admin if await self._shown_to_caller(info) else None


async def load_user(info: Info, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    row = await info.context.loaders.user_by_id.load(user_id)
    return User.from_row(row) if row is not None else None


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
            message=row.message,
            attachments=list(row.attachments),
            requested_amount=Money.of(row.requested_amount, currency),
            units=row.units,
            created_at=row.created_at,
            status=SubmissionStatus(row.status),
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
            position=row.position or 0,
            title=row.title,
            description=row.description,
            amount=Money.of(row.amount, currency),
            due_date=row.due_date,
            status=MilestoneStatus(row.status),
            unit_price=Money.of(row.unit_price, currency) if row.unit_price is not None else None,
            max_units=row.max_units,
            units_released=row.units_released,
            funded_amount=Money.of(row.funded_amount, currency),
            released_amount=Money.of(row.released_amount, currency),
            refunded_amount=Money.of(row.refunded_amount, currency),
            auto_release_at=row.auto_release_at,
            funded_at=row.funded_at,
            submitted_at=row.submitted_at,
            released_at=row.released_at,
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
    async def pending_refund_request(self, info: Info) -> RefundRequestRef | None:
        from app.graphql.request_types import RefundRequest

        rows = await info.context.loaders.refunds_by_milestone.load(self._row.id)
        pending = next((r for r in rows if r.status == "PENDING"), None)
        return RefundRequest.from_row(pending, self._currency) if pending else None

    @strawberry.field(description="Every refund request of the milestone, oldest first.")
    async def refund_requests(self, info: Info) -> list[RefundRequestRef]:
        from app.graphql.request_types import RefundRequest

        rows = await info.context.loaders.refunds_by_milestone.load(self._row.id)
        return [RefundRequest.from_row(r, self._currency) for r in rows]

    @strawberry.field(description="The milestone's latest dispute, open or settled.")
    async def dispute(self, info: Info) -> DisputeRef | None:
        from app.graphql.request_types import Dispute

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
            sequence=row.sequence,
            type=EventType(row.type),
            occurred_at=row.occurred_at,
            amount=Money.of(row.amount, currency) if row.amount is not None else None,
            message=row.message,
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
    async def change_request(self, info: Info) -> ChangeRequestRef | None:
        from app.graphql.request_types import ChangeRequest

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
            title=row.title,
            description=row.description,
            status=ContractStatus(row.status),
            currency=row.currency,
            created_at=row.created_at,
            accepted_at=row.accepted_at,
            ended_at=row.ended_at,
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
    async def pending_change_request(self, info: Info) -> ChangeRequestRef | None:
        from app.graphql.request_types import ChangeRequest

        rows = await info.context.loaders.change_requests_by_contract.load(self._row.id)
        pending = next((r for r in rows if r.status == "PENDING"), None)
        return ChangeRequest.from_row(pending, self._row.currency) if pending else None

    @strawberry.field(description="Every change request, oldest first.")
    async def change_requests(self, info: Info) -> list[ChangeRequestRef]:
        from app.graphql.request_types import ChangeRequest

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
