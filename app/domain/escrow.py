"""Escrow posting and fees: the ledger entries each movement of money makes.

Funding charges the client only for what the contract's available escrow does not cover and
adds the processing fee on the charge; the contract initiation fee is charged once, with the
first funding. Every release to the freelancer carries the service fee. Fees round with
`app.domain.money.fee` (half up, in cents). A closing contract returns every escrowed cent and,
if nothing was ever released, the initiation fee (an offer withdrawn or declined returns the
processing fees too).
"""

from __future__ import annotations

from app.domain.clock import clear_review, stop_review
from app.domain.events import EventType
from app.domain.ledger import Entry, EntryKind
from app.domain.milestones import Milestone, MilestoneStatus, SubmissionStatus
from app.domain.money import fee
from app.domain.permissions import (
    Action,
    Actor,
    ContractStatus,
    contract_target,
    milestone_target,
    unfunded_target,
)
from app.domain.requests import RefundRequest, RefundStatus
from app.domain.state import ContractState


class Escrow(ContractState):
    def _allocate(self, milestone: Milestone, amount: int) -> None:
        """Put `amount` more escrow behind `milestone`: available funds first, then a charge."""
        charge = amount - min(self.available, amount)
        if charge:
            self._record(Entry(EntryKind.FUNDING, charge, milestone.id))
            self._record_fee(
                EntryKind.PROCESSING_FEE,
                charge,
                self.policy.client_processing_fee_bps,
                milestone.id,
            )
        if (
            self.ledger.by_kind[EntryKind.INITIATION_FEE] == 0
            and self.policy.contract_initiation_fee
        ):
            self._record(
                Entry(EntryKind.INITIATION_FEE, self.policy.contract_initiation_fee, milestone.id)
            )
        milestone.funded_amount += amount

    def _settle(self, milestone: Milestone, amount: int, actor_id: int | None) -> None:
        """Pay for the milestone's work: all of it, or the submitted units of a piece-rate one
        (which stays active while units remain)."""
        submission = milestone.latest_submission
        self._pay_out(milestone, amount, actor_id)
        if milestone.is_piece_rate and submission is not None:
            milestone.units_released += submission.units or 0
            if milestone.units_released < (milestone.max_units or 0):
                milestone.status = milestone_target(Action.RELEASE, in_full=False)
                return
        milestone.status = milestone_target(Action.RELEASE)

    def _finish(self, milestone: Milestone, action: Action) -> None:
        """A milestone ended with money going both ways: RELEASED if the freelancer got any."""
        milestone.status = milestone_target(action, in_full=bool(milestone.released_amount))
        clear_review(milestone)

    def _pay_out(self, milestone: Milestone, amount: int, actor_id: int | None) -> None:
        """Release `amount` of the milestone to the freelancer, topping its escrow up first."""
        if amount > milestone.remaining:
            self._allocate(milestone, amount - milestone.remaining)
        self._record(Entry(EntryKind.RELEASE, amount, milestone.id))
        self._record_fee(
            EntryKind.SERVICE_FEE, amount, self.policy.freelancer_service_fee_bps, milestone.id
        )
        milestone.released_amount += amount
        milestone.released_at = self.now
        stop_review(milestone)
        submission = milestone.latest_submission
        if submission is not None and submission.status is SubmissionStatus.PENDING:
            submission.status = SubmissionStatus.RELEASED
        self._emit(EventType.MILESTONE_RELEASED, actor_id, milestone, amount=amount)

    def _refund(self, milestone: Milestone, amount: int, actor_id: int | None) -> None:
        self._record(Entry(EntryKind.REFUND, amount, milestone.id))
        milestone.refunded_amount += amount
        self._emit(EventType.MILESTONE_REFUNDED, actor_id, milestone, amount=amount)

    def _approve_refund(self, request: RefundRequest, actor_id: int | None) -> None:
        """The amount goes back to the client; the rest of a fixed-price milestone's escrow is
        released to the freelancer, while a piece-rate milestone's rest becomes available."""
        milestone = self.milestone(request.milestone_id)
        request.status = RefundStatus.APPROVED
        request.resolved_at = self.now
        self._emit(EventType.REFUND_APPROVED, actor_id, milestone, amount=request.amount)
        self._refund(milestone, min(request.amount, milestone.remaining), actor_id)
        if milestone.remaining and not milestone.is_piece_rate:
            self._pay_out(milestone, milestone.remaining, actor_id)
        self._finish(milestone, Action.ANSWER_REFUND)

    def _close(self, actor: Actor, action: Action, reason: str) -> None:
        """Decline, withdraw or end: every escrowed cent goes back to the client."""
        pending = self.pending_change_request
        if pending is not None:
            self._withdraw_change_request(pending, actor.user_id)
        unallocated = self._return_escrow(action, actor.user_id)
        self.status = contract_target(action)
        self.ended_at = self.now
        event = (
            EventType.CONTRACT_DECLINED
            if self.status is ContractStatus.DECLINED
            else EventType.CONTRACT_ENDED
        )
        self._emit(event, actor.user_id, amount=unallocated or None, message=reason or None)

    def _return_escrow(self, action: Action, actor_id: int) -> int:
        """Closing the contract: every escrowed cent goes back to the client, with the fees
        that are refundable. Returns the unallocated escrow refunded."""
        was_offer = self.status is ContractStatus.OFFERED
        for milestone in self.milestones:
            if milestone.is_active:
                self._withdraw_refund(milestone)
                if milestone.remaining:
                    self._refund(milestone, milestone.remaining, actor_id)
                self._finish(milestone, action)
            elif milestone.status is MilestoneStatus.NOT_FUNDED:
                milestone.status = unfunded_target(action)
        unallocated = self.available
        if unallocated:
            self._record(Entry(EntryKind.REFUND, unallocated))
        self._refund_fees(was_offer=was_offer)
        return unallocated

    def _refund_fees(self, *, was_offer: bool) -> None:
        """The initiation fee comes back if nothing was ever released; a withdrawn or declined
        offer also returns its processing fees."""
        refundable = (EntryKind.INITIATION_FEE, EntryKind.PROCESSING_FEE) if was_offer else ()
        if self.ledger.total_released == 0:
            refundable = tuple({*refundable, EntryKind.INITIATION_FEE})
        for kind in sorted(refundable):
            outstanding = self.ledger.fee_outstanding(kind)
            if outstanding:
                self._record(Entry(EntryKind.FEE_REFUND, outstanding, refunded_fee=kind))

    def _record(self, entry: Entry) -> None:
        self.entries.append(entry)
        self.ledger.add(entry)

    def _record_fee(
        self, kind: EntryKind, base: int, bps: int, milestone_id: int | None = None
    ) -> None:
        amount = fee(base, bps)
        if amount:
            self._record(Entry(kind, amount, milestone_id))
