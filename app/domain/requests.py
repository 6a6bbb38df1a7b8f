"""What one party asks of the other: refunds, disputes and milestone change requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from app.domain.milestones import Milestone, MilestoneFields, MilestoneStatus

# Write caps. `Contract.changeRequests` and `Milestone.refundRequests` are shown whole, answered
# ones included, so the GraphQL node count counts them by these sizes, and every write loads the
# aggregate with all of them. 20 change requests of up to MAX_CHANGES (200) changes are 4,000
# changes, within the 10,000 objects a query may build, so one contract's whole history can be
# read; the SPA dashboard (50 contracts, every milestone and submission, ~481k of the 500k nodes)
# stays allowed with each contract's change requests too (~483k). A new proposal is needed only
# when the plan changes again, so 20 leaves room for a long contract.
MAX_CHANGE_REQUESTS = 20  # per contract
# A refund request is asked again only after a decline; past 10 declines the parties need a
# dispute, not another request. 200 milestones * 10 is 2,000 objects on one contract.
MAX_REFUND_REQUESTS = 10  # per milestone


class RefundStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"
    WITHDRAWN = "WITHDRAWN"


class DisputeStatus(StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"
    WITHDRAWN = "WITHDRAWN"


class ChangeRequestStatus(StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    WITHDRAWN = "WITHDRAWN"


class ChangeAction(StrEnum):
    ADD = "ADD"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    MOVE = "MOVE"


@dataclass
class RefundRequest:
    id: int | None
    milestone_id: int
    amount: int
    reason: str
    status: RefundStatus
    respond_by: datetime
    created_at: datetime
    resolved_at: datetime | None = None
    response: str | None = None


@dataclass
class Dispute:
    id: int | None
    milestone_id: int
    opened_by: int
    reason: str
    status: DisputeStatus
    previous_status: MilestoneStatus
    created_at: datetime
    freelancer_amount: int | None = None
    client_amount: int | None = None
    note: str | None = None
    resolved_by: int | None = None
    resolved_at: datetime | None = None


@dataclass(kw_only=True)
class MilestoneChange(MilestoneFields):
    """One proposed change; None means "not given" (for UPDATE: keep as it is)."""

    action: ChangeAction
    milestone_id: int | None = None
    position: int | None = None
    added: Milestone | None = field(default=None, compare=False, repr=False)


@dataclass
class ChangeRequest:
    id: int | None
    proposed_by: int
    message: str
    changes: list[MilestoneChange]
    status: ChangeRequestStatus
    created_at: datetime
    resolved_at: datetime | None = None
    reason: str | None = None
