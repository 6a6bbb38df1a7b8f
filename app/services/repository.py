"""Loading a contract aggregate from its rows, and writing back what an action changed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Sum

from app.db import models
from app.domain.contract import Contract, ContractStatus
from app.domain.ledger import Entry, EntryKind, LedgerTotals
from app.domain.milestones import (
    MAX_SUBMISSIONS,
    Milestone,
    MilestoneStatus,
    Submission,
    SubmissionStatus,
)
from app.domain.policy import Policy
from app.domain.requests import (
    ChangeAction,
    ChangeRequest,
    ChangeRequestStatus,
    Dispute,
    DisputeStatus,
    MilestoneChange,
    RefundRequest,
    RefundStatus,
)

Connection = BaseDBAsyncClient


class VersionConflict(Exception):
    """Another transaction changed the contract since it was read; the use case is retried."""


def milestone_from_row(row: models.Milestone) -> Milestone:
    return Milestone(
        id=row.id,
        position=row.position or 0,
        title=row.title,
        description=row.description,
        amount=row.amount,
        due_date=row.due_date,
        status=MilestoneStatus(row.status),
        unit_price=row.unit_price,
        max_units=row.max_units,
        units_released=row.units_released,
        funded_amount=row.funded_amount,
        released_amount=row.released_amount,
        refunded_amount=row.refunded_amount,
        auto_release_at=row.auto_release_at,
        funded_at=row.funded_at,
        submitted_at=row.submitted_at,
        released_at=row.released_at,
        review_seconds_left=row.review_seconds_left,
    )


def refund_from_row(row: models.RefundRequest) -> RefundRequest:
    return RefundRequest(
        id=row.id,
        milestone_id=row.milestone_id,
        amount=row.amount,
        reason=row.reason,
        status=RefundStatus(row.status),
        respond_by=row.respond_by,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        response=row.response,
    )


def dispute_from_row(row: models.Dispute) -> Dispute:
    return Dispute(
        id=row.id,
        milestone_id=row.milestone_id,
        opened_by=row.opened_by_id,
        reason=row.reason,
        status=DisputeStatus(row.status),
        previous_status=MilestoneStatus(row.previous_status),
        created_at=row.created_at,
        freelancer_amount=row.freelancer_amount,
        client_amount=row.client_amount,
        note=row.note,
        resolved_by=row.resolved_by_id,
        resolved_at=row.resolved_at,
    )


def change_from_json(data: dict[str, Any]) -> MilestoneChange:
    due = data.get("due_date")
    return MilestoneChange(
        action=ChangeAction(data["action"]),
        milestone_id=data.get("milestone_id"),
        title=data.get("title"),
        description=data.get("description"),
        amount=data.get("amount"),
        due_date=date.fromisoformat(due) if due else None,
        position=data.get("position"),
        unit_price=data.get("unit_price"),
        max_units=data.get("max_units"),
    )


def change_to_json(change: MilestoneChange) -> dict[str, Any]:
    return {
        "action": str(change.action),
        "milestone_id": change.milestone_id,
        "title": change.title,
        "description": change.description,
        "amount": change.amount,
        "due_date": change.due_date.isoformat() if change.due_date else None,
        "position": change.position,
        "unit_price": change.unit_price,
        "max_units": change.max_units,
    }


def change_request_from_row(row: models.ChangeRequest) -> ChangeRequest:
    return ChangeRequest(
        id=row.id,
        proposed_by=row.proposed_by_id,
        message=row.message,
        changes=[change_from_json(c) for c in row.changes],
        status=ChangeRequestStatus(row.status),
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        reason=row.reason,
    )


def submission_from_row(row: models.Submission) -> Submission:
    return Submission(
        id=row.id,
        message=row.message,
        attachments=list(row.attachments),
        requested_amount=row.requested_amount,
        units=row.units,
        status=SubmissionStatus(row.status),
        created_at=row.created_at,
    )


async def ledger_totals(
    contract_ids: Iterable[int], conn: Connection | None = None
) -> dict[int, LedgerTotals]:
    """Each contract's entry sums by kind, in one statement."""
    ids = list(contract_ids)
    totals = {cid: LedgerTotals.empty() for cid in ids}
    if not ids:
        return totals
    rows = (
        await models.LedgerEntry.filter(contract_id__in=ids)
        .using_db(conn)
        .annotate(total=Sum("amount"))
        .group_by("contract_id", "kind", "refunded_fee")
        .values("contract_id", "kind", "refunded_fee", "total")
    )
    for row in rows:
        target = totals[row["contract_id"]]
        kind = EntryKind(row["kind"])
        target.by_kind[kind] += int(row["total"])
        if row["refunded_fee"]:
            target.fee_refunds[EntryKind(row["refunded_fee"])] += int(row["total"])
    return totals


@dataclasses.dataclass
class Loaded:
    """An aggregate and the state it was read in, to write back only what changed."""

    contract: Contract
    version: int
    originals: dict[int, Milestone]
    submission_snapshot: dict[int, SubmissionStatus]
    requests_snapshot: dict[tuple[str, int], tuple[Any, ...]]


Request = RefundRequest | Dispute | ChangeRequest


def _requests_state(contract: Contract) -> dict[tuple[str, int], tuple[Any, ...]]:
    rows: list[Request] = [
        *contract.refunds,
        *contract.disputes,
        *contract.change_requests,
    ]
    return {(type(r).__name__, r.id): dataclasses.astuple(r) for r in rows if r.id is not None}


def _copy(milestone: Milestone) -> Milestone:
    return dataclasses.replace(milestone, latest_submission=None)


def _state(milestone: Milestone) -> tuple[Any, ...]:
    return dataclasses.astuple(_copy(milestone))


def watched_state(milestone: Milestone) -> tuple[Any, ...]:
    """What subscribers to milestone updates are told about: status and money."""
    return (
        milestone.status,
        milestone.amount,
        milestone.funded_amount,
        milestone.released_amount,
        milestone.refunded_amount,
        milestone.units_released,
    )


async def load_contract(
    row: models.Contract, conn: Connection, *, policy: Policy, now: datetime
) -> Loaded:
    milestone_rows = (
        await models.Milestone.filter(contract_id=row.id, deleted=False)
        .using_db(conn)
        .order_by("position")
    )
    milestones = [milestone_from_row(m) for m in milestone_rows]
    active = [m for m in milestones if m.is_active]
    if active:
        # the latest submissions, enough of them to tell whether the cap is reached
        latest = (
            await models.Submission.filter(milestone_id=active[0].id)
            .using_db(conn)
            .order_by("-id")
            .limit(MAX_SUBMISSIONS)
        )
        active[0].latest_submission = submission_from_row(latest[0]) if latest else None
        active[0].submissions = len(latest)
    contract = Contract(
        id=row.id,
        client_id=row.client_id,
        freelancer_id=row.freelancer_id,
        title=row.title,
        description=row.description,
        currency=row.currency,
        status=ContractStatus(row.status),
        created_at=row.created_at,
        now=now,
        policy=policy,
        accepted_at=row.accepted_at,
        ended_at=row.ended_at,
        last_sequence=row.last_sequence,
        milestones=milestones,
        ledger=(await ledger_totals([row.id], conn))[row.id],
        refunds=[
            refund_from_row(r)
            for r in await models.RefundRequest.filter(contract_id=row.id).using_db(conn)
        ],
        disputes=[
            dispute_from_row(d)
            for d in await models.Dispute.filter(contract_id=row.id).using_db(conn)
        ],
        change_requests=[
            change_request_from_row(c)
            for c in await models.ChangeRequest.filter(contract_id=row.id).using_db(conn)
        ],
    )
    return Loaded(
        contract=contract,
        version=row.version,
        originals={m.id: _copy(m) for m in milestones if m.id is not None},
        submission_snapshot={
            m.latest_submission.id: m.latest_submission.status
            for m in milestones
            if m.latest_submission is not None and m.latest_submission.id is not None
        },
        requests_snapshot=_requests_state(contract),
    )


_MILESTONE_COLUMNS = (
    "position",
    "title",
    "description",
    "amount",
    "due_date",
    "status",
    "unit_price",
    "max_units",
    "units_released",
    "funded_amount",
    "released_amount",
    "refunded_amount",
    "auto_release_at",
    "funded_at",
    "submitted_at",
    "released_at",
    "review_seconds_left",
)


def _milestone_values(milestone: Milestone) -> dict[str, Any]:
    return {column: getattr(milestone, column) for column in _MILESTONE_COLUMNS}


async def insert_contract(contract: Contract, conn: Connection) -> list[int]:
    row = await models.Contract.create(
        using_db=conn,
        client_id=contract.client_id,
        freelancer_id=contract.freelancer_id,
        title=contract.title,
        description=contract.description,
        currency=contract.currency,
        status=contract.status,
        created_at=contract.created_at,
        last_sequence=contract.last_sequence,
    )
    contract.id = row.id
    await _insert_milestones(contract, conn)
    await _append(contract, conn)
    return [m.id for m in contract.milestones if m.id is not None]


async def _insert_milestones(contract: Contract, conn: Connection) -> None:
    for milestone in contract.milestones:
        if milestone.id is None:
            created = await models.Milestone.create(
                using_db=conn, contract_id=contract.id, **_milestone_values(milestone)
            )
            milestone.id = created.id


async def save_contract(loaded: Loaded, conn: Connection) -> list[int]:
    """Write back the aggregate; a concurrent change of the contract raises VersionConflict.

    Returns the milestones whose status or money changed (new ones included)."""
    contract = loaded.contract
    new = {id(m) for m in contract.milestones if m.id is None}
    updated = (
        await models.Contract.filter(id=contract.id, version=loaded.version)
        .using_db(conn)
        .update(
            status=contract.status,
            accepted_at=contract.accepted_at,
            ended_at=contract.ended_at,
            last_sequence=contract.last_sequence,
            version=loaded.version + 1,
        )
    )
    if updated != 1:
        raise VersionConflict(f"contract {contract.id} changed concurrently")
    await _insert_milestones(contract, conn)
    for milestone in contract.deleted_milestones:
        await (
            models.Milestone.filter(id=milestone.id)
            .using_db(conn)
            .update(deleted=True, position=None)
        )
    for milestone in contract.milestones:
        assert milestone.id is not None
        original = loaded.originals.get(milestone.id)
        if original is None or _state(original) != _state(milestone):
            await (
                models.Milestone.filter(id=milestone.id)
                .using_db(conn)
                .update(**_milestone_values(milestone))
            )
        submission = milestone.latest_submission
        if submission is None:
            continue
        if submission.id is None:
            created = await models.Submission.create(
                using_db=conn,
                milestone_id=milestone.id,
                message=submission.message,
                attachments=submission.attachments,
                requested_amount=submission.requested_amount,
                units=submission.units,
                status=submission.status,
                created_at=submission.created_at,
            )
            submission.id = created.id
        elif loaded.submission_snapshot.get(submission.id) is not submission.status:
            await (
                models.Submission.filter(id=submission.id)
                .using_db(conn)
                .update(status=submission.status)
            )
    await _save_requests(loaded, conn)
    await _append(contract, conn)
    return [
        m.id
        for m in contract.milestones
        if m.id is not None
        and (
            id(m) in new
            or (original := loaded.originals.get(m.id)) is None
            or watched_state(original) != watched_state(m)
        )
    ]


async def _save_request(
    loaded: Loaded,
    conn: Connection,
    request: Request,
    model: type[models.RefundRequest | models.Dispute | models.ChangeRequest],
    changing: dict[str, Any],
    fixed: dict[str, Any],
) -> None:
    """Insert a new request with all its values, or update the `changing` ones if they did."""
    if request.id is None:
        row = await model.create(using_db=conn, contract_id=loaded.contract.id, **fixed, **changing)
        request.id = row.id
    elif loaded.requests_snapshot.get((type(request).__name__, request.id)) != (
        dataclasses.astuple(request)
    ):
        await model.filter(id=request.id).using_db(conn).update(**changing)


async def _save_requests(loaded: Loaded, conn: Connection) -> None:
    """Insert new refund requests, disputes and change requests; update the changed ones."""
    contract = loaded.contract
    for refund in contract.refunds:
        await _save_request(
            loaded,
            conn,
            refund,
            models.RefundRequest,
            changing={
                "amount": refund.amount,
                "reason": refund.reason,
                "status": refund.status,
                "respond_by": refund.respond_by,
                "response": refund.response,
                "resolved_at": refund.resolved_at,
            },
            fixed={"milestone_id": refund.milestone_id, "created_at": refund.created_at},
        )
    for dispute in contract.disputes:
        await _save_request(
            loaded,
            conn,
            dispute,
            models.Dispute,
            changing={
                "status": dispute.status,
                "freelancer_amount": dispute.freelancer_amount,
                "client_amount": dispute.client_amount,
                "note": dispute.note,
                "resolved_by_id": dispute.resolved_by,
                "resolved_at": dispute.resolved_at,
            },
            fixed={
                "milestone_id": dispute.milestone_id,
                "opened_by_id": dispute.opened_by,
                "reason": dispute.reason,
                "previous_status": dispute.previous_status,
                "created_at": dispute.created_at,
            },
        )
    for request in contract.change_requests:
        for change in request.changes:
            if change.added is not None:
                change.milestone_id = change.added.id
        await _save_request(
            loaded,
            conn,
            request,
            models.ChangeRequest,
            changing={
                "changes": [change_to_json(c) for c in request.changes],
                "status": request.status,
                "reason": request.reason,
                "resolved_at": request.resolved_at,
            },
            fixed={
                "proposed_by_id": request.proposed_by,
                "message": request.message,
                "created_at": request.created_at,
            },
        )


async def _append(contract: Contract, conn: Connection) -> None:
    """Append the new ledger entries and events (never updated afterwards)."""
    assert contract.id is not None
    if contract.entries:
        await models.LedgerEntry.bulk_create(
            [_entry_row(contract.id, entry, contract.now) for entry in contract.entries],
            using_db=conn,
        )
    if contract.events:
        await models.ContractEvent.bulk_create(
            [
                models.ContractEvent(
                    contract_id=contract.id,
                    sequence=event.sequence,
                    type=event.type,
                    occurred_at=contract.now,
                    actor_id=event.actor_id,
                    milestone_id=event.milestone_id,
                    change_request_id=event.change_request.id if event.change_request else None,
                    amount=event.amount,
                    message=event.message,
                )
                for event in contract.events
            ],
            using_db=conn,
        )


def _entry_row(contract_id: int, entry: Entry, now: datetime) -> models.LedgerEntry:
    return models.LedgerEntry(
        contract_id=contract_id,
        milestone_id=entry.milestone_id,
        kind=entry.kind,
        amount=entry.amount,
        debit_account=entry.debit,
        credit_account=entry.credit,
        refunded_fee=entry.refunded_fee,
        created_at=now,
    )
