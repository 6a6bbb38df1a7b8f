"""The books as the database holds them, and the invariants they must always satisfy.

`snapshot()` reads every row that a contract's money and state live in; `check_books()` asserts
the ledger rules of docs/concepts.md#the-ledger, docs/concepts.md#events on it. Both are shared by
the stateful ledger test
and the concurrency tests, so whatever the order of steps, the same books are checked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, TypeVar

from app.db import models
from app.domain.events import EventType
from app.domain.ledger import FEE_KINDS, ROUTES, Account, EntryKind
from app.domain.milestones import ACTIVE_STATUSES, MilestoneStatus
from app.domain.money import fee
from app.domain.permissions import ContractStatus
from app.domain.policy import Policy
from app.domain.requests import ChangeRequestStatus, DisputeStatus, RefundStatus

FINAL = (ContractStatus.ENDED, ContractStatus.DECLINED)


@dataclass(frozen=True)
class ContractRow:
    id: int
    client_id: int
    freelancer_id: int
    status: ContractStatus
    version: int
    last_sequence: int
    accepted_at: Any
    ended_at: Any


@dataclass(frozen=True)
class MilestoneRow:
    id: int
    contract_id: int
    position: int | None
    status: MilestoneStatus
    amount: int
    funded: int
    released: int
    refunded: int
    auto_release_at: Any
    deleted: bool
    title: str = ""
    unit_price: int | None = None
    max_units: int | None = None
    units_released: int = 0
    review_seconds_left: int | None = None

    @property
    def remaining(self) -> int:
        return self.funded - self.released - self.refunded

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_piece_rate(self) -> bool:
        return self.unit_price is not None


@dataclass(frozen=True)
class EntryRow:
    id: int
    contract_id: int
    milestone_id: int | None
    kind: EntryKind
    amount: int
    debit: str
    credit: str
    refunded_fee: str | None


@dataclass(frozen=True)
class EventRow:
    contract_id: int
    sequence: int
    type: str
    actor_id: int | None
    milestone_id: int | None
    amount: int | None


@dataclass(frozen=True)
class RefundRow:
    id: int
    contract_id: int
    milestone_id: int
    amount: int
    status: RefundStatus
    respond_by: Any
    resolved_at: Any


@dataclass(frozen=True)
class DisputeRow:
    id: int
    contract_id: int
    milestone_id: int
    opened_by: int
    status: DisputeStatus
    previous_status: MilestoneStatus
    freelancer_amount: int | None
    client_amount: int | None
    resolved_by: int | None


@dataclass(frozen=True)
class ChangeRequestRow:
    id: int
    contract_id: int
    proposed_by: int
    status: ChangeRequestStatus
    changes: tuple[tuple[tuple[str, Any], ...], ...]


@dataclass
class Totals:
    """One contract's money, computed from its ledger entries."""

    by_kind: dict[EntryKind, int] = field(default_factory=lambda: dict.fromkeys(EntryKind, 0))
    balances: dict[str, int] = field(default_factory=lambda: dict.fromkeys(Account, 0))
    fee_refunds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FEE_KINDS, 0))

    @property
    def funded(self) -> int:
        return self.by_kind[EntryKind.FUNDING]

    @property
    def released(self) -> int:
        return self.by_kind[EntryKind.RELEASE]

    @property
    def refunded(self) -> int:
        return self.by_kind[EntryKind.REFUND]

    @property
    def held(self) -> int:
        return self.funded - self.released - self.refunded

    def outstanding(self, kind: EntryKind) -> int:
        return self.by_kind[kind] - self.fee_refunds[kind]


class _OfContract(Protocol):
    @property
    def contract_id(self) -> int: ...


RowT = TypeVar("RowT", bound=_OfContract)


def _grouped(rows: Iterable[RowT]) -> dict[int, list[RowT]]:
    grouped: dict[int, list[RowT]] = defaultdict(list)
    for row in rows:
        grouped[row.contract_id].append(row)
    return dict(grouped)


@dataclass(frozen=True)
class Snapshot:
    contracts: dict[int, ContractRow]
    milestones: dict[int, MilestoneRow]
    # Submission id -> (milestone id, status, requested amount, units).
    submissions: dict[int, tuple[int, str, int, int | None]]
    entries: tuple[EntryRow, ...]
    events: tuple[EventRow, ...]
    idempotency_keys: frozenset[tuple[int, str, str]]
    refunds: dict[int, RefundRow] = field(default_factory=dict)
    disputes: dict[int, DisputeRow] = field(default_factory=dict)
    change_requests: dict[int, ChangeRequestRow] = field(default_factory=dict)

    def state(self) -> tuple[Any, ...]:
        """Everything but the idempotency keys: what a refused action must leave untouched."""
        return (
            self.contracts,
            self.milestones,
            self.submissions,
            self.entries,
            self.events,
            self.refunds,
            self.disputes,
            self.change_requests,
        )

    def others(self, contract_id: int) -> tuple[Any, ...]:
        """The state of every other contract."""
        mine = {m.id for m in self.milestones.values() if m.contract_id == contract_id}
        return (
            {k: v for k, v in self.contracts.items() if k != contract_id},
            {k: v for k, v in self.milestones.items() if k not in mine},
            {k: v for k, v in self.submissions.items() if v[0] not in mine},
            tuple(e for e in self.entries if e.contract_id != contract_id),
            tuple(e for e in self.events if e.contract_id != contract_id),
            {k: v for k, v in self.refunds.items() if v.contract_id != contract_id},
            {k: v for k, v in self.disputes.items() if v.contract_id != contract_id},
            {k: v for k, v in self.change_requests.items() if v.contract_id != contract_id},
        )

    def refunds_of(self, contract_id: int) -> list[RefundRow]:
        return sorted(self._refunds_by_contract.get(contract_id, []), key=lambda r: r.id)

    def pending_refund(self, milestone_id: int) -> RefundRow | None:
        return next(
            (
                r
                for r in self.refunds.values()
                if r.milestone_id == milestone_id and r.status is RefundStatus.PENDING
            ),
            None,
        )

    def open_dispute(self, milestone_id: int) -> DisputeRow | None:
        return next(
            (
                d
                for d in self.disputes.values()
                if d.milestone_id == milestone_id and d.status is DisputeStatus.OPEN
            ),
            None,
        )

    def pending_change_request(self, contract_id: int) -> ChangeRequestRow | None:
        return next(
            (
                c
                for c in self.change_requests.values()
                if c.contract_id == contract_id and c.status is ChangeRequestStatus.PENDING
            ),
            None,
        )

    def events_of(self, contract_id: int) -> list[EventRow]:
        return self._events_by_contract.get(contract_id, [])

    def milestones_of(self, contract_id: int) -> list[MilestoneRow]:
        return sorted(
            (m for m in self._milestones_by_contract.get(contract_id, []) if not m.deleted),
            key=lambda m: (m.position or 0, m.id),
        )

    def entries_of(self, contract_id: int) -> list[EntryRow]:
        return self._entries_by_contract.get(contract_id, [])

    # Grouped by contract once, so that checking the books of many contracts stays linear.

    @cached_property
    def _entries_by_contract(self) -> dict[int, list[EntryRow]]:
        return _grouped(self.entries)

    @cached_property
    def _events_by_contract(self) -> dict[int, list[EventRow]]:
        return _grouped(self.events)

    @cached_property
    def _milestones_by_contract(self) -> dict[int, list[MilestoneRow]]:
        return _grouped(self.milestones.values())

    @cached_property
    def _refunds_by_contract(self) -> dict[int, list[RefundRow]]:
        return _grouped(self.refunds.values())

    def totals(self, contract_id: int) -> Totals:
        totals = Totals()
        for entry in self.entries_of(contract_id):
            totals.by_kind[entry.kind] += entry.amount
            totals.balances[entry.debit] -= entry.amount
            totals.balances[entry.credit] += entry.amount
            if entry.refunded_fee is not None:
                totals.fee_refunds[EntryKind(entry.refunded_fee)] += entry.amount
        return totals

    def allocated(self, contract_id: int) -> int:
        return sum(m.remaining for m in self.milestones_of(contract_id) if m.is_active)

    def available(self, contract_id: int) -> int:
        return self.totals(contract_id).held - self.allocated(contract_id)


async def snapshot() -> Snapshot:
    contracts = await models.Contract.all().values_list(
        "id",
        "client_id",
        "freelancer_id",
        "status",
        "version",
        "last_sequence",
        "accepted_at",
        "ended_at",
    )
    milestones = await models.Milestone.all().values_list(
        "id",
        "contract_id",
        "position",
        "status",
        "amount",
        "funded_amount",
        "released_amount",
        "refunded_amount",
        "auto_release_at",
        "deleted",
        "title",
        "unit_price",
        "max_units",
        "units_released",
        "review_seconds_left",
    )
    submissions = await models.Submission.all().values_list(
        "id", "milestone_id", "status", "requested_amount", "units"
    )
    entries = (
        await models.LedgerEntry.all()
        .order_by("id")
        .values_list(
            "id",
            "contract_id",
            "milestone_id",
            "kind",
            "amount",
            "debit_account",
            "credit_account",
            "refunded_fee",
        )
    )
    events = (
        await models.ContractEvent.all()
        .order_by("contract_id", "sequence", "id")
        .values_list("contract_id", "sequence", "type", "actor_id", "milestone_id", "amount")
    )
    keys = await models.IdempotencyKey.all().values_list("user_id", "mutation", "key")
    refunds = await models.RefundRequest.all().values_list(
        "id", "contract_id", "milestone_id", "amount", "status", "respond_by", "resolved_at"
    )
    disputes = await models.Dispute.all().values_list(
        "id",
        "contract_id",
        "milestone_id",
        "opened_by_id",
        "status",
        "previous_status",
        "freelancer_amount",
        "client_amount",
        "resolved_by_id",
    )
    change_requests = await models.ChangeRequest.all().values_list(
        "id", "contract_id", "proposed_by_id", "status", "changes"
    )
    return Snapshot(
        contracts={
            row[0]: ContractRow(
                id=row[0],
                client_id=row[1],
                freelancer_id=row[2],
                status=ContractStatus(row[3]),
                version=row[4],
                last_sequence=row[5],
                accepted_at=row[6],
                ended_at=row[7],
            )
            for row in contracts
        },
        milestones={
            row[0]: MilestoneRow(
                id=row[0],
                contract_id=row[1],
                position=row[2],
                status=MilestoneStatus(row[3]),
                amount=row[4],
                funded=row[5],
                released=row[6],
                refunded=row[7],
                auto_release_at=row[8],
                deleted=bool(row[9]),
                title=row[10],
                unit_price=row[11],
                max_units=row[12],
                units_released=row[13],
                review_seconds_left=row[14],
            )
            for row in milestones
        },
        submissions={row[0]: (row[1], row[2], row[3], row[4]) for row in submissions},
        entries=tuple(
            EntryRow(
                id=row[0],
                contract_id=row[1],
                milestone_id=row[2],
                kind=EntryKind(row[3]),
                amount=row[4],
                debit=row[5],
                credit=row[6],
                refunded_fee=row[7],
            )
            for row in entries
        ),
        events=tuple(EventRow(*row) for row in events),
        idempotency_keys=frozenset(tuple(row) for row in keys),
        refunds={
            row[0]: RefundRow(
                id=row[0],
                contract_id=row[1],
                milestone_id=row[2],
                amount=row[3],
                status=RefundStatus(row[4]),
                respond_by=row[5],
                resolved_at=row[6],
            )
            for row in refunds
        },
        disputes={
            row[0]: DisputeRow(
                id=row[0],
                contract_id=row[1],
                milestone_id=row[2],
                opened_by=row[3],
                status=DisputeStatus(row[4]),
                previous_status=MilestoneStatus(row[5]),
                freelancer_amount=row[6],
                client_amount=row[7],
                resolved_by=row[8],
            )
            for row in disputes
        },
        change_requests={
            row[0]: ChangeRequestRow(
                id=row[0],
                contract_id=row[1],
                proposed_by=row[2],
                status=ChangeRequestStatus(row[3]),
                changes=tuple(tuple(sorted(change.items())) for change in row[4]),
            )
            for row in change_requests
        },
    )


def check_books(books: Snapshot, policy: Policy) -> None:
    """Assert every ledger and state invariant, for every contract and for the whole database."""
    everything: dict[str, int] = defaultdict(int)
    for entry in books.entries:
        assert entry.amount > 0, entry
        assert (entry.debit, entry.credit) == ROUTES[entry.kind], entry
        assert (entry.kind is EntryKind.FEE_REFUND) == (entry.refunded_fee in FEE_KINDS), entry
        assert entry.contract_id in books.contracts, entry
        everything[entry.debit] -= entry.amount
        everything[entry.credit] += entry.amount
    assert sum(everything.values()) == 0, dict(everything)
    for contract in books.contracts.values():
        check_contract(books, contract, policy)


def check_contract(books: Snapshot, contract: ContractRow, policy: Policy) -> None:
    where = f"contract {contract.id} ({contract.status})"
    totals = books.totals(contract.id)
    milestones = books.milestones_of(contract.id)
    entries = books.entries_of(contract.id)

    # §6.1: totalFunded = totalReleased + totalRefunded + held, and the escrow account is `held`.
    held = totals.held
    assert totals.funded == totals.released + totals.refunded + held, where
    assert held >= 0, f"{where}: held {held}"
    assert totals.balances[Account.ESCROW] == held, f"{where}: {totals.balances} held {held}"
    assert sum(totals.balances.values()) == 0, f"{where}: {totals.balances}"
    available = held - books.allocated(contract.id)
    assert available >= 0, f"{where}: available {available}, held {held}"

    # Milestones: escrow never negative, one active at most, amounts match their entries.
    assert sum(m.is_active for m in milestones) <= 1, f"{where}: {milestones}"
    assert [m.position for m in milestones] == list(range(1, len(milestones) + 1)), milestones
    for m in milestones:
        assert min(m.funded, m.released, m.refunded) >= 0, m
        assert m.funded >= m.released + m.refunded, m
        released = sum(
            e.amount for e in entries if e.milestone_id == m.id and e.kind is EntryKind.RELEASE
        )
        refunded = sum(
            e.amount for e in entries if e.milestone_id == m.id and e.kind is EntryKind.REFUND
        )
        assert (m.released, m.refunded) == (released, refunded), f"{where}: {m}"
        if m.status is MilestoneStatus.NOT_FUNDED:
            assert m.funded == m.released == m.refunded == 0, m
        if m.status is MilestoneStatus.CANCELLED:
            # Never funded, or a piece-rate milestone completed before any unit was paid
            # (§6.35): its escrow became available.
            assert m.released == m.refunded == 0, m
            assert m.funded == 0 or (m.is_piece_rate and m.units_released == 0), m
        if m.status is MilestoneStatus.REFUNDED:
            assert m.released == 0 and m.refunded > 0, m
        # The review clock runs only on submitted work, and a pending refund stops it (§6.12).
        reviewing = m.status is MilestoneStatus.SUBMITTED and books.pending_refund(m.id) is None
        assert (m.auto_release_at is not None) == reviewing, f"{where}: {m}"
        if m.is_piece_rate:
            # §1, §6.15: the amount is unitPrice x maxUnits; while active, the escrow is the
            # price of the units not yet paid, and every payment was for whole units.
            assert m.max_units is not None and m.unit_price is not None, m
            assert m.amount == m.unit_price * m.max_units, m
            assert 0 <= m.units_released <= m.max_units, m
            if m.is_active:
                assert m.units_released < m.max_units, m
                assert m.funded == m.amount and m.refunded == 0, m
                assert m.released == m.unit_price * m.units_released, m
        else:
            assert m.max_units is None and m.units_released == 0, m

    # Requests: a pending refund sits on an active, undisputed milestone and asks for no more
    # than its escrow (§6.12); a milestone is DISPUTED exactly while one dispute on it is open;
    # one change request at most is pending, and only on an active contract (§1, §6.34).
    live = {m.id: m for m in milestones}
    for refund in books.refunds_of(contract.id):
        m = books.milestones[refund.milestone_id]
        assert refund.amount > 0, refund
        if refund.status is RefundStatus.PENDING:
            assert contract.status is ContractStatus.ACTIVE, f"{where}: {refund}"
            assert refund.milestone_id in live and m.is_active, f"{where}: {refund} {m}"
            assert m.status is not MilestoneStatus.DISPUTED, f"{where}: {refund} {m}"
            assert refund.amount <= m.remaining, f"{where}: {refund} {m}"
            assert refund.resolved_at is None, refund
        else:
            assert refund.resolved_at is not None, refund
        if refund.status is RefundStatus.APPROVED:
            assert not m.is_active and m.refunded >= refund.amount, f"{where}: {refund} {m}"
    pending = [
        r.milestone_id for r in books.refunds_of(contract.id) if r.status is RefundStatus.PENDING
    ]
    assert len(pending) == len(set(pending)), f"{where}: two pending refunds on one milestone"
    disputes = [d for d in books.disputes.values() if d.contract_id == contract.id]
    open_on = [d.milestone_id for d in disputes if d.status is DisputeStatus.OPEN]
    disputed = [m.id for m in milestones if m.status is MilestoneStatus.DISPUTED]
    assert sorted(open_on) == sorted(disputed), f"{where}: open {open_on}, disputed {disputed}"
    for dispute in disputes:
        resolved = dispute.status is DisputeStatus.RESOLVED
        assert (dispute.freelancer_amount is not None) == resolved, dispute
        assert (dispute.client_amount is not None) == resolved, dispute
        assert (dispute.resolved_by is not None) == resolved, dispute
        if resolved:
            assert not books.milestones[dispute.milestone_id].is_active, dispute
    change_requests = [c for c in books.change_requests.values() if c.contract_id == contract.id]
    pending_changes = [c for c in change_requests if c.status is ChangeRequestStatus.PENDING]
    assert len(pending_changes) <= 1, f"{where}: {pending_changes}"
    if pending_changes:
        assert contract.status is ContractStatus.ACTIVE, f"{where}: {pending_changes}"

    # Fees (§6.3, §6.5): one initiation fee at most; every charge and payout carries its fee.
    initiation = [e for e in entries if e.kind is EntryKind.INITIATION_FEE]
    assert len(initiation) <= 1 and all(
        e.amount == policy.contract_initiation_fee for e in initiation
    ), f"{where}: {initiation}"
    charged = [e.amount for e in entries if e.kind in (EntryKind.FUNDING, EntryKind.BONUS)]
    paid = [e.amount for e in entries if e.kind in (EntryKind.RELEASE, EntryKind.BONUS)]
    assert totals.by_kind[EntryKind.PROCESSING_FEE] == sum(
        fee(a, policy.client_processing_fee_bps) for a in charged
    ), f"{where}: processing fees"
    assert totals.by_kind[EntryKind.SERVICE_FEE] == sum(
        fee(a, policy.freelancer_service_fee_bps) for a in paid
    ), f"{where}: service fees"
    for kind in FEE_KINDS:
        assert totals.outstanding(kind) >= 0, f"{where}: {kind} refunded twice"

    # §6.19: events are numbered 1..n without a gap, and the contract knows n.
    sequences = [e.sequence for e in books.events if e.contract_id == contract.id]
    assert sequences == list(range(1, len(sequences) + 1)), f"{where}: {sequences}"
    assert contract.last_sequence == len(sequences), f"{where}: {contract.last_sequence}"
    first = next(e for e in books.events if e.contract_id == contract.id)
    assert first.type == EventType.CONTRACT_OFFERED, first

    if contract.status is ContractStatus.OFFERED:
        assert totals.released == 0 and totals.by_kind[EntryKind.BONUS] == 0, where
        assert all(m.position == 1 for m in milestones if m.funded), f"{where}: {milestones}"
    if contract.status in FINAL:
        # §6.8-6.9: nothing stays in escrow, every milestone is finished.
        assert held == 0, f"{where}: held {held} after the end"
        assert contract.ended_at is not None, where
        assert all(
            m.status
            in (MilestoneStatus.RELEASED, MilestoneStatus.REFUNDED, MilestoneStatus.CANCELLED)
            for m in milestones
        ), f"{where}: {milestones}"
        # §6.5: the initiation fee comes back when nothing was ever released...
        if totals.released == 0:
            assert totals.outstanding(EntryKind.INITIATION_FEE) == 0, f"{where}: initiation fee"
        # ...and a declined or withdrawn offer gives back every cent the client paid.
        if contract.accepted_at is None:
            assert totals.balances[Account.CLIENT] == 0, f"{where}: {totals.balances}"
            assert totals.balances[Account.PLATFORM] == 0, f"{where}: {totals.balances}"
