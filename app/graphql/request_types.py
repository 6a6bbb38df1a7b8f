"""Object types for what one party asks of the other: change requests, refunds, disputes."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from app.db import models
from app.domain.requests import ChangeAction, ChangeRequestStatus, DisputeStatus, RefundStatus
from app.domain.requests import MilestoneChange as DomainChange
from app.graphql.context import Info
from app.graphql.ids import encode_id
from app.graphql.types import Milestone, Money, Node, User, load_milestone, load_user
from app.services.repository import change_from_json

strawberry.enum(ChangeRequestStatus, name="ChangeRequestStatus")
strawberry.enum(ChangeAction, name="MilestoneChangeAction")
strawberry.enum(RefundStatus, name="RefundRequestStatus")
strawberry.enum(DisputeStatus, name="DisputeStatus")


def _money(cents: int | None, currency: str) -> Money | None:
    return Money.of(cents, currency) if cents is not None else None


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
        return cls(
            action=change.action,
            title=change.title,
            description=change.description,
            amount=_money(change.amount, currency),
            due_date=change.due_date,
            position=change.position,
            unit_price=_money(change.unit_price, currency),
            max_units=change.max_units,
            _milestone_id=change.milestone_id,
        )

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
            status=ChangeRequestStatus(row.status),
            message=row.message,
            reason=row.reason,
            created_at=row.created_at,
            resolved_at=row.resolved_at,
            changes=[MilestoneChange.of(change_from_json(c), currency) for c in row.changes],
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
            amount=Money.of(row.amount, currency),
            reason=row.reason,
            status=RefundStatus(row.status),
            respond_by=row.respond_by,
            response=row.response,
            created_at=row.created_at,
            resolved_at=row.resolved_at,
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
            reason=row.reason,
            status=DisputeStatus(row.status),
            created_at=row.created_at,
            resolution=resolution,
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
