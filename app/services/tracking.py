"""Change tracking: the state an aggregate was read in, to write back only what an action changed.

Records are compared by value (`dataclasses.astuple`), so a field added to a record is tracked
without an edit here. A milestone's latest submission is tracked by its status alone, the one
thing an action changes on a stored submission.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from app.domain.contract import Contract
from app.domain.milestones import Milestone, SubmissionStatus
from app.domain.requests import ChangeRequest, Dispute, RefundRequest

Request = RefundRequest | Dispute | ChangeRequest


def _requests(contract: Contract) -> list[Request]:
    return [*contract.refunds, *contract.disputes, *contract.change_requests]


def _key(request: Request) -> tuple[str, int | None]:
    return type(request).__name__, request.id


def _stored_part(milestone: Milestone) -> Milestone:
    return dataclasses.replace(milestone, latest_submission=None)


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


@dataclasses.dataclass
class Loaded:
    """An aggregate and the state it was read in, to write back only what changed."""

    contract: Contract
    version: int
    originals: dict[int, Milestone]
    submission_snapshot: dict[int, SubmissionStatus]
    requests_snapshot: dict[tuple[str, int | None], tuple[Any, ...]]

    @classmethod
    def track(cls, contract: Contract, version: int) -> Loaded:
        milestones = contract.milestones
        return cls(
            contract=contract,
            version=version,
            originals={m.id: _stored_part(m) for m in milestones if m.id is not None},
            submission_snapshot={
                m.latest_submission.id: m.latest_submission.status
                for m in milestones
                if m.latest_submission is not None and m.latest_submission.id is not None
            },
            requests_snapshot={
                _key(r): dataclasses.astuple(r) for r in _requests(contract) if r.id is not None
            },
        )

    def milestone_changed(self, milestone: Milestone) -> bool:
        original = self.originals.get(milestone.id) if milestone.id is not None else None
        return original is None or dataclasses.astuple(original) != dataclasses.astuple(
            _stored_part(milestone)
        )

    def submission_changed(self, milestone: Milestone) -> bool:
        """Whether the stored latest submission's status changed."""
        submission = milestone.latest_submission
        assert submission is not None and submission.id is not None
        return self.submission_snapshot.get(submission.id) is not submission.status

    def request_changed(self, request: Request) -> bool:
        return self.requests_snapshot.get(_key(request)) != dataclasses.astuple(request)

    def watched_changes(self, new: set[int]) -> list[int]:
        """The milestones whose status or money changed, the `new` ones (by `id()`) included."""
        return [
            m.id
            for m in self.contract.milestones
            if m.id is not None
            and (
                id(m) in new
                or (original := self.originals.get(m.id)) is None
                or watched_state(original) != watched_state(m)
            )
        ]
