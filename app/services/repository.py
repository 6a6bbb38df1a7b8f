"""Loading a contract aggregate from its rows, and writing back what an action changed.

A load reads what the action may need (`Reads`: not every request the contract ever had), in
one statement per table; a save writes only what changed, each kind of row in one statement
however many milestones there are (a change request's new milestones, few, one by one).
Which columns a record has is `app.services.mappers`; what changed since it was read is
`app.services.tracking`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.functions import Sum

from app.db import models
from app.domain.contract import Contract
from app.domain.ledger import Entry, EntryKind, LedgerTotals
from app.domain.milestones import MAX_SUBMISSIONS, Milestone
from app.domain.permissions import ContractStatus
from app.domain.policy import Policy
from app.domain.requests import (
    ChangeRequest,
    ChangeRequestStatus,
    Dispute,
    RefundRequest,
    RefundStatus,
)
from app.services.mappers import (
    CHANGE_REQUESTS,
    DISPUTES,
    MILESTONES,
    REFUND_REQUESTS,
    SUBMISSIONS,
    RecordMap,
)
from app.services.tracking import Loaded

Connection = BaseDBAsyncClient
R = TypeVar("R", RefundRequest, Dispute, ChangeRequest)


class VersionConflict(Exception):
    """Another transaction changed the contract since it was read; the use case is retried."""


@dataclass(frozen=True)
class Reads:
    """Which of a contract's requests an action reads. Every action reads the pending refund
    requests (a deadline may approve one; a pending one stops work on its milestone), and
    the pending change request unless told it cannot end the contract (ending withdraws it)
    nor propose one; besides, the request it names, every refund request of a milestone (their
    cap), every change request (theirs). Disputes are read only by the actions on one of them.
    What is not read is not written."""

    refund_id: int | None = None
    refunds_of_milestone: int | None = None
    dispute_id: int | None = None
    change_request_id: int | None = None
    every_change_request: bool = False
    pending_change_requests: bool = True

    def refunds(self) -> Q:
        wanted = Q(status=RefundStatus.PENDING)
        if self.refund_id is not None:
            wanted |= Q(id=self.refund_id)
        if self.refunds_of_milestone is not None:
            wanted |= Q(milestone_id=self.refunds_of_milestone)
        return wanted

    def change_requests(self) -> Q | None:
        """Which change requests to read, if any."""
        if self.every_change_request:
            return Q()
        wanted = [Q(id=self.change_request_id)] if self.change_request_id is not None else []
        if self.pending_change_requests:
            wanted.append(Q(status=ChangeRequestStatus.PENDING))
        return Q(*wanted, join_type=Q.OR) if wanted else None


PENDING = Reads()  # the pending refund and change requests only
WORK = Reads(pending_change_requests=False)  # an action that cannot end the contract


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


async def load_contract(
    row: models.Contract, conn: Connection, *, reads: Reads, policy: Policy, now: datetime
) -> Loaded:
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
        milestones=await _milestones(row.id, conn),
        ledger=(await ledger_totals([row.id], conn))[row.id],
    )
    await _load_requests(contract, row.id, reads, conn)
    return Loaded.track(contract, row.version)


async def _milestones(contract_id: int, conn: Connection) -> list[Milestone]:
    """The current milestones in order, the active one with its latest submissions."""
    rows = (
        await models.Milestone.filter(contract_id=contract_id, deleted=False)
        .using_db(conn)
        .order_by("position")
    )
    milestones = [MILESTONES.from_row(m) for m in rows]
    active = next((m for m in milestones if m.is_active), None)
    if active is not None:
        # the latest submissions, enough of them to tell whether the cap is reached
        latest = (
            await models.Submission.filter(milestone_id=active.id)
            .using_db(conn)
            .order_by("-id")
            .limit(MAX_SUBMISSIONS)
        )
        active.latest_submission = SUBMISSIONS.from_row(latest[0]) if latest else None
        active.submissions = len(latest)
    return milestones


async def _load_requests(
    contract: Contract, contract_id: int, reads: Reads, conn: Connection
) -> None:
    refunds = models.RefundRequest.filter(reads.refunds(), contract_id=contract_id)
    contract.refunds = [REFUND_REQUESTS.from_row(r) for r in await refunds.using_db(conn)]
    if reads.dispute_id is not None:
        disputes = models.Dispute.filter(id=reads.dispute_id, contract_id=contract_id)
        contract.disputes = [DISPUTES.from_row(d) for d in await disputes.using_db(conn)]
    wanted = reads.change_requests()
    if wanted is not None:
        changes = models.ChangeRequest.filter(wanted, contract_id=contract_id).using_db(conn)
        contract.change_requests = [CHANGE_REQUESTS.from_row(c) for c in await changes]


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
    await models.Milestone.bulk_create(
        [
            models.Milestone(contract_id=row.id, **MILESTONES.values(milestone))
            for milestone in contract.milestones
        ],
        using_db=conn,
    )
    # a bulk insert tells no ids: a new contract's milestones are told apart by position
    ids = dict(
        await models.Milestone.filter(contract_id=row.id)
        .using_db(conn)
        .values_list("position", "id")
    )
    for milestone in contract.milestones:
        milestone.id = ids[milestone.position]
    await _append(contract, conn)
    return [m.id for m in contract.milestones if m.id is not None]


async def _insert_milestones(contract: Contract, conn: Connection) -> None:
    """The milestones a change request added, one by one (there are few; the stored ones may
    still hold the positions they were given)."""
    for milestone in contract.milestones:
        if milestone.id is None:
            created = await models.Milestone.create(
                using_db=conn, contract_id=contract.id, **MILESTONES.values(milestone)
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
    await _save_milestones(loaded, conn)
    await _save_requests(loaded, conn)
    await _append(contract, conn)
    return loaded.watched_changes(new)


async def _save_milestones(loaded: Loaded, conn: Connection) -> None:
    """The deleted, changed and submitted milestones of a loaded aggregate."""
    contract = loaded.contract
    if contract.deleted_milestones:
        deleted = [m.id for m in contract.deleted_milestones]
        await (
            models.Milestone.filter(id__in=deleted)
            .using_db(conn)
            .update(deleted=True, position=None)
        )
    await _update_milestones([m for m in contract.milestones if loaded.milestone_changed(m)], conn)
    for milestone in contract.milestones:
        submission = milestone.latest_submission
        if submission is None:
            continue
        if submission.id is None:
            created = await models.Submission.create(
                using_db=conn, milestone_id=milestone.id, **SUBMISSIONS.values(submission)
            )
            submission.id = created.id
        elif loaded.submission_changed(milestone):
            await (
                models.Submission.filter(id=submission.id)
                .using_db(conn)
                .update(status=submission.status)
            )


async def _update_milestones(changed: list[Milestone], conn: Connection) -> None:
    """The changed milestones, in one statement however many there are."""
    if len(changed) == 1:
        [milestone] = changed
        values = MILESTONES.values(milestone)
        await models.Milestone.filter(id=milestone.id).using_db(conn).update(**values)
    elif changed:
        rows = [models.Milestone(id=m.id, **MILESTONES.values(m)) for m in changed]
        columns = list(MILESTONES.values(changed[0]))
        await models.Milestone.bulk_update(rows, columns, using_db=conn)


async def _save_request(
    loaded: Loaded,
    conn: Connection,
    request: R,
    model: type[models.RefundRequest | models.Dispute | models.ChangeRequest],
    mapping: RecordMap[R],
) -> None:
    """Insert a new request, or update a stored one if it changed."""
    if request.id is None:
        row = await model.create(
            using_db=conn, contract_id=loaded.contract.id, **mapping.values(request)
        )
        request.id = row.id
    elif loaded.request_changed(request):
        await model.filter(id=request.id).using_db(conn).update(**mapping.values(request))


async def _save_requests(loaded: Loaded, conn: Connection) -> None:
    """Insert new refund requests, disputes and change requests; update the changed ones."""
    contract = loaded.contract
    for refund in contract.refunds:
        await _save_request(loaded, conn, refund, models.RefundRequest, REFUND_REQUESTS)
    for dispute in contract.disputes:
        await _save_request(loaded, conn, dispute, models.Dispute, DISPUTES)
    for request in contract.change_requests:
        for change in request.changes:
            if change.added is not None:
                change.milestone_id = change.added.id
        await _save_request(loaded, conn, request, models.ChangeRequest, CHANGE_REQUESTS)


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
