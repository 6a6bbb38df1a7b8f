"""The review clock: when submitted work is released unless the client reviews it.

Submitting starts the clock (`Policy.auto_release_after`); a revision request or a payment
stops it; a refund request or a dispute pauses it, keeping the time that was left, and a
declined refund or a withdrawn dispute resumes it. `Contract.apply_deadlines` takes the
deadlines that have passed: the auto-release, and refund requests left unanswered.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.domain.milestones import Milestone, MilestoneStatus
from app.domain.requests import RefundRequest


def start_review(milestone: Milestone, now: datetime, review_for: timedelta) -> None:
    milestone.auto_release_at = now + review_for


def stop_review(milestone: Milestone) -> None:
    milestone.auto_release_at = None


def clear_review(milestone: Milestone) -> None:
    """A finished milestone: no clock running, none paused."""
    milestone.auto_release_at = None
    milestone.review_seconds_left = None


def pause_review(milestone: Milestone, now: datetime) -> None:
    """Stop the review clock, keeping the time that was left."""
    if milestone.auto_release_at is not None:
        left = max(0, int((milestone.auto_release_at - now).total_seconds()))
        milestone.review_seconds_left = left
        milestone.auto_release_at = None


def resume_review(milestone: Milestone, now: datetime) -> None:
    if milestone.review_seconds_left is not None:
        if milestone.status is MilestoneStatus.SUBMITTED:
            milestone.auto_release_at = now + timedelta(seconds=milestone.review_seconds_left)
        milestone.review_seconds_left = None


def auto_release_due(milestone: Milestone, now: datetime) -> bool:
    """Submitted work whose review time has run out, released without the client."""
    due = milestone.auto_release_at
    return (
        milestone.status is MilestoneStatus.SUBMITTED
        and due is not None
        and due <= now
        and milestone.latest_submission is not None
    )


def refund_overdue(request: RefundRequest, now: datetime) -> bool:
    """A refund request the freelancer left unanswered in time, approved without them."""
    return request.respond_by <= now
