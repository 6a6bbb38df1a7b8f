"""The permission and state table: who may take each action, from which milestone statuses,
and the status it leads to.

`RULES` is the one place that says so; the actions of the aggregate read their checks and
their target statuses from it. Checks run in the order of the product contract (permission,
then input, then state), so permission is a function here and the state checks are the
aggregate's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import ErrorCode, refuse
from app.domain.milestones import MilestoneStatus


class ContractStatus(StrEnum):
    OFFERED = "OFFERED"
    ACTIVE = "ACTIVE"
    DECLINED = "DECLINED"
    ENDED = "ENDED"


class Role(StrEnum):
    CLIENT = "CLIENT"
    FREELANCER = "FREELANCER"


class Action(StrEnum):
    ACCEPT = "accept the offer"
    DECLINE = "decline the offer"
    END = "end the contract"
    FUND = "fund a milestone"
    SUBMIT = "submit work"
    REQUEST_REVISION = "request a revision"
    RELEASE = "release payment"
    COMPLETE = "complete a piece-rate milestone"
    PAY_BONUS = "pay a bonus"
    PROPOSE_CHANGES = "propose milestone changes"
    ANSWER_CHANGES = "answer a change request"
    REQUEST_REFUND = "request a refund"
    ANSWER_REFUND = "answer a refund request"
    OPEN_DISPUTE = "open a dispute"
    WITHDRAW_DISPUTE = "withdraw a dispute"
    RESOLVE_DISPUTE = "resolve a dispute"


@dataclass(frozen=True)
class Actor:
    """Who acts: a user, perhaps an admin (admins only watch, except to resolve disputes)."""

    user_id: int
    is_admin: bool = False


@dataclass(frozen=True)
class Rule:
    """One action: who may take it, from which milestone statuses, and where it leads.

    `by` is one party, or None for either party. `leads_to` is the milestone's status after
    the action; `otherwise` the one it takes when the action pays the freelancer short (see
    each row); `unfunded_to` what becomes of milestones never funded when the contract
    closes; `contract_to` the contract's status after the action.
    """

    by: Role | None
    starts_from: frozenset[MilestoneStatus] = frozenset()
    leads_to: MilestoneStatus | None = None
    otherwise: MilestoneStatus | None = None
    unfunded_to: MilestoneStatus | None = None
    contract_to: ContractStatus | None = None
    admin_only: bool = False


_M = MilestoneStatus
_WORKING = frozenset({_M.FUNDED, _M.SUBMITTED, _M.REVISION_REQUESTED})
# Money going both ways (a closing contract, an approved refund, a dispute split): the
# milestone is RELEASED if the freelancer got any of it, otherwise REFUNDED.

RULES: Mapping[Action, Rule] = {
    Action.ACCEPT: Rule(Role.FREELANCER, contract_to=ContractStatus.ACTIVE),
    Action.DECLINE: Rule(
        Role.FREELANCER,
        leads_to=_M.RELEASED,
        otherwise=_M.REFUNDED,
        unfunded_to=_M.CANCELLED,
        contract_to=ContractStatus.DECLINED,
    ),
    Action.END: Rule(
        None,
        leads_to=_M.RELEASED,
        otherwise=_M.REFUNDED,
        unfunded_to=_M.CANCELLED,
        contract_to=ContractStatus.ENDED,
    ),
    Action.FUND: Rule(Role.CLIENT, frozenset({_M.NOT_FUNDED}), _M.FUNDED),
    Action.SUBMIT: Rule(
        Role.FREELANCER, frozenset({_M.FUNDED, _M.REVISION_REQUESTED}), _M.SUBMITTED
    ),
    Action.REQUEST_REVISION: Rule(Role.CLIENT, frozenset({_M.SUBMITTED}), _M.REVISION_REQUESTED),
    # otherwise: a piece-rate milestone with units left stays funded for the next ones.
    Action.RELEASE: Rule(Role.CLIENT, _WORKING, _M.RELEASED, otherwise=_M.FUNDED),
    # otherwise: no unit was ever paid.
    Action.COMPLETE: Rule(
        Role.CLIENT,
        frozenset({_M.FUNDED, _M.REVISION_REQUESTED}),
        _M.RELEASED,
        otherwise=_M.CANCELLED,
    ),
    Action.PAY_BONUS: Rule(Role.CLIENT),
    Action.PROPOSE_CHANGES: Rule(None),
    Action.ANSWER_CHANGES: Rule(None),
    Action.REQUEST_REFUND: Rule(Role.CLIENT, _WORKING),
    Action.ANSWER_REFUND: Rule(Role.FREELANCER, leads_to=_M.RELEASED, otherwise=_M.REFUNDED),
    Action.OPEN_DISPUTE: Rule(None, _WORKING, _M.DISPUTED),
    # Leads back to the status the milestone was disputed from, kept on the dispute.
    Action.WITHDRAW_DISPUTE: Rule(None),
    Action.RESOLVE_DISPUTE: Rule(
        None, leads_to=_M.RELEASED, otherwise=_M.REFUNDED, admin_only=True
    ),
}

# Views of the table: who may take each party action, and the milestone state machine.
PERMISSIONS: Mapping[Action, Role | None] = {
    action: rule.by for action, rule in RULES.items() if not rule.admin_only
}
TRANSITIONS: Mapping[Action, frozenset[MilestoneStatus]] = {
    action: rule.starts_from for action, rule in RULES.items() if rule.starts_from
}


def milestone_target(action: Action, *, in_full: bool = True) -> MilestoneStatus:
    """The milestone status `action` leads to (`otherwise` when it does not pay in full)."""
    rule = RULES[action]
    target = rule.leads_to if in_full else rule.otherwise
    assert target is not None, f"{action} leads a milestone nowhere"
    return target


def unfunded_target(action: Action) -> MilestoneStatus:
    target = RULES[action].unfunded_to
    assert target is not None, f"{action} leaves unfunded milestones alone"
    return target


def contract_target(action: Action) -> ContractStatus:
    target = RULES[action].contract_to
    assert target is not None, f"{action} leaves the contract's status alone"
    return target


def check_permission(action: Action, actor: Actor, role: Role | None) -> Role | None:
    """Refuse unless `actor`, a party in `role` (None: no party), may take `action`."""
    rule = RULES[action]
    if rule.admin_only:
        if not actor.is_admin:
            raise refuse(ErrorCode.NOT_PERMITTED, f"Only an admin may {action}")
        return role
    if role is None or (rule.by is not None and role is not rule.by):
        who = f"the {rule.by.lower()}" if rule.by is not None else "a party to the contract"
        raise refuse(ErrorCode.NOT_PERMITTED, f"Only {who} may {action}")
    return role
