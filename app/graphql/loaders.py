"""DataLoaders, built fresh for every request (and every subscription event), and emptied after
each mutation of a request, so that the next payload reads what that mutation committed. Each
batch is one read of `app.services.reads`, and each loads records."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from strawberry.dataloader import DataLoader

from app.domain.ledger import LedgerTotals
from app.domain.milestones import Submission
from app.domain.requests import ChangeRequest, Dispute, RefundRequest
from app.services import reads
from app.services.records import ContractRecord, MilestoneRecord, UserRecord


@dataclass
class Loaders:
    user_by_id: DataLoader[int, UserRecord | None] = field(
        default_factory=lambda: DataLoader(reads.users_by_id)
    )
    contract_by_id: DataLoader[int, ContractRecord | None] = field(
        default_factory=lambda: DataLoader(reads.contracts_by_id)
    )
    milestone_by_id: DataLoader[int, MilestoneRecord | None] = field(
        default_factory=lambda: DataLoader(reads.milestones_by_id)
    )
    milestones_by_contract: DataLoader[int, list[MilestoneRecord]] = field(
        default_factory=lambda: DataLoader(reads.milestones_by_contract)
    )
    submissions_by_milestone: DataLoader[int, list[Submission]] = field(
        default_factory=lambda: DataLoader(reads.submissions_by_milestone)
    )
    ledger_totals_by_contract: DataLoader[int, LedgerTotals] = field(
        default_factory=lambda: DataLoader(reads.ledger_totals_by_contract)
    )
    change_requests_by_contract: DataLoader[int, list[ChangeRequest]] = field(
        default_factory=lambda: DataLoader(reads.change_requests_by_contract)
    )
    change_request_by_id: DataLoader[int, ChangeRequest | None] = field(
        default_factory=lambda: DataLoader(reads.change_requests_by_id)
    )
    refunds_by_milestone: DataLoader[int, list[RefundRequest]] = field(
        default_factory=lambda: DataLoader(reads.refunds_by_milestone)
    )
    disputes_by_milestone: DataLoader[int, list[Dispute]] = field(
        default_factory=lambda: DataLoader(reads.disputes_by_milestone)
    )

    def forget(self) -> None:
        """Drop every cached record: a mutation has committed since they were read."""
        for loader in fields(self):
            getattr(self, loader.name).clear_all()
