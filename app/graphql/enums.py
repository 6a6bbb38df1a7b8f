"""Every enum of the schema, with its GraphQL name. The domain's (and the token scopes') enums
are the schema's enums: registering one here marks the class itself, so each module that
needs an enum in a GraphQL type imports it from this module."""

from __future__ import annotations

import strawberry

from app.auth.tokens import Scope
from app.domain.errors import ErrorCode
from app.domain.events import EventType
from app.domain.ledger import EntryKind
from app.domain.milestones import MilestoneStatus, SubmissionStatus
from app.domain.permissions import ContractStatus, Role
from app.domain.requests import ChangeAction, ChangeRequestStatus, DisputeStatus, RefundStatus

__all__ = [
    "ChangeAction",
    "ChangeRequestStatus",
    "ContractStatus",
    "DisputeStatus",
    "EntryKind",
    "ErrorCode",
    "EventType",
    "MilestoneStatus",
    "RefundStatus",
    "Role",
    "Scope",
    "SubmissionStatus",
]

strawberry.enum(ChangeAction, name="MilestoneChangeAction")
strawberry.enum(ChangeRequestStatus, name="ChangeRequestStatus")
strawberry.enum(ContractStatus, name="ContractStatus")
strawberry.enum(DisputeStatus, name="DisputeStatus")
strawberry.enum(EntryKind, name="LedgerEntryKind")
strawberry.enum(ErrorCode, name="UserErrorCode")
strawberry.enum(EventType, name="ContractEventType")
strawberry.enum(MilestoneStatus, name="MilestoneStatus")
strawberry.enum(RefundStatus, name="RefundRequestStatus")
strawberry.enum(Role, name="ContractRole")
strawberry.enum(Scope, name="TokenScope")
strawberry.enum(SubmissionStatus, name="SubmissionStatus")
