"""The contract aggregate: a contract, its milestones and the state machine that moves money.

Every action checks in the order of the product contract (permission, then input, then
state) and raises `DomainError` before it changes anything it will be persisted with. A
successful action appends the ledger entries it pays with to `entries` and the events it
causes to `events`; the service persists both with the changed rows in one transaction.

`Contract` gathers the aggregate from its seams: the fields and shared checks
(`app.domain.state`), the permission and state table (`app.domain.permissions`), escrow
posting and fees (`app.domain.escrow`), the review clock (`app.domain.clock`) and the
actions on milestones (`work`), refunds (`refunds`), disputes (`disputes`) and change
requests (`change_requests`). This module holds making an offer, answering it, ending the
contract and taking the deadlines that have passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.domain.change_requests import ChangeRequestActions
from app.domain.checks import Checks, checking
from app.domain.clock import auto_release_due, refund_overdue
from app.domain.commands import CreateContract, DeclineContract, EndContract, NewMilestone
from app.domain.disputes import DisputeActions
from app.domain.errors import ErrorCode, refuse
from app.domain.events import EventType
from app.domain.milestones import MAX_TITLE, Milestone, MilestoneStatus, new_milestone
from app.domain.money import CURRENCIES, DEFAULT_CURRENCY
from app.domain.permissions import Action, Actor, ContractStatus, Role, contract_target
from app.domain.policy import Policy
from app.domain.refunds import RefundActions
from app.domain.work import MilestoneWork


class Contract(MilestoneWork, RefundActions, DisputeActions, ChangeRequestActions):
    # --- creation ---------------------------------------------------------------------

    @classmethod
    def offer(
        cls, command: CreateContract, *, client_id: int, policy: Policy, now: datetime
    ) -> Contract:
        with checking(command.rejected) as check:
            clean_title = _check_title(command.title, check)
            clean_description = check.text(command.description, ["description"])
            chosen_currency = DEFAULT_CURRENCY if command.currency is None else command.currency
            if chosen_currency not in CURRENCIES:
                check.add(
                    ErrorCode.INVALID_INPUT,
                    f"Currency must be one of {', '.join(sorted(CURRENCIES))}",
                    ["currency"],
                )
            if client_id == command.freelancer_id:
                check.add(ErrorCode.INVALID_INPUT, "You cannot hire yourself", ["freelancer_id"])
            milestones = _check_milestones(command.milestones, policy, check)
        contract = cls(
            id=None,
            client_id=client_id,
            freelancer_id=command.freelancer_id,
            title=clean_title,
            description=clean_description,
            currency=chosen_currency,
            status=ContractStatus.OFFERED,
            created_at=now,
            now=now,
            policy=policy,
        )
        for position, milestone in enumerate(milestones, start=1):
            assert milestone is not None
            milestone.position = position
            contract.milestones.append(milestone)
        contract._emit(EventType.CONTRACT_OFFERED, client_id)
        return contract

    # --- the offer and the end --------------------------------------------------------

    def accept(self, actor: Actor) -> None:
        self.authorize(actor, Action.ACCEPT)
        self._require_status(ContractStatus.OFFERED, "accepted")
        self.status = contract_target(Action.ACCEPT)
        self.accepted_at = self.now
        self._emit(EventType.CONTRACT_ACCEPTED, actor.user_id)

    def decline(self, actor: Actor, command: DeclineContract) -> None:
        self.authorize(actor, Action.DECLINE)
        with checking(command.rejected) as check:
            text = check.text(command.reason, ["reason"])
        self._require_status(ContractStatus.OFFERED, "declined")
        self._close(actor, Action.DECLINE, text)

    def end(self, actor: Actor, command: EndContract) -> None:
        role = self.authorize(actor, Action.END)
        if self.status is ContractStatus.OFFERED and role is not Role.CLIENT:
            raise refuse(ErrorCode.NOT_PERMITTED, "Only the client may withdraw an offer")
        with checking(command.rejected) as check:
            text = check.text(command.reason, ["reason"])
        if self.status is ContractStatus.ACTIVE:
            if any(
                m.status in (MilestoneStatus.SUBMITTED, MilestoneStatus.DISPUTED)
                for m in self.milestones
            ):
                raise refuse(
                    ErrorCode.INVALID_STATE,
                    "A contract cannot end while a milestone is submitted or disputed",
                )
            if role is Role.CLIENT and self.active_milestone is not None:
                raise refuse(
                    ErrorCode.ACTIVE_MILESTONE_FUNDED,
                    "Release the funded milestone or request a refund before ending",
                )
        elif self.status is not ContractStatus.OFFERED:
            raise refuse(ErrorCode.INVALID_STATE, f"The contract is already {self.status}")
        self._close(actor, Action.END, text)

    # --- deadlines --------------------------------------------------------------------

    def apply_deadlines(self) -> bool:
        """Take every deadline that has passed: refund requests unanswered in time are
        approved, submitted work unreviewed in time is released (`app.domain.clock`).
        Returns whether any fired."""
        fired = False
        for milestone in list(self.milestones):
            request = self.pending_refund(milestone)
            if request is not None:
                if refund_overdue(request, self.now):
                    self._approve_refund(request, None)
                    fired = True
                continue
            submission = milestone.latest_submission
            if auto_release_due(milestone, self.now) and submission is not None:
                self._settle(milestone, min(submission.requested_amount, milestone.remaining), None)
                fired = True
        return fired


def _check_title(title: str, check: Checks) -> str:
    clean_title = title.strip()
    if not clean_title:
        check.add(ErrorCode.INVALID_INPUT, "A contract needs a title", ["title"])
    elif len(clean_title) > MAX_TITLE:
        check.add(ErrorCode.INVALID_INPUT, f"Title is longer than {MAX_TITLE}", ["title"])
    return clean_title


def _check_milestones(
    milestones: Sequence[NewMilestone], policy: Policy, check: Checks
) -> list[Milestone | None]:
    if not milestones:
        check.add(ErrorCode.INVALID_INPUT, "A contract needs a milestone", ["milestones"])
    if len(milestones) > policy.max_milestones_per_contract:
        check.add(
            ErrorCode.TOO_MANY_MILESTONES,
            f"A contract has at most {policy.max_milestones_per_contract} milestones",
            ["milestones"],
        )
    return [
        new_milestone(values, policy, ["milestones", str(i)], check)
        for i, values in enumerate(milestones)
    ]
