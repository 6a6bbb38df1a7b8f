"""The state machines: milestone statuses x actions, roles x actions, contract statuses."""

from __future__ import annotations

from collections.abc import Callable
from itertools import product

import pytest

from app.domain.commands import DeclineContract, EndContract, PayBonus
from app.domain.contract import Contract
from app.domain.errors import ErrorCode
from app.domain.milestones import MilestoneStatus
from app.domain.permissions import (
    PERMISSIONS,
    TRANSITIONS,
    Action,
    Actor,
    ContractStatus,
    Role,
    contract_target,
    milestone_target,
    unfunded_target,
)
from tests.domain.builders import (
    ADMIN,
    CLIENT,
    EVERYONE,
    FREELANCER,
    NAMES,
    OUTSIDER,
    active,
    attempt,
    fund,
    in_status,
    offered,
    open_dispute,
    propose_changes,
    refused,
    request_refund,
    step,
    with_first_milestone,
)

_M = MilestoneStatus
WORKING = {_M.FUNDED, _M.SUBMITTED, _M.REVISION_REQUESTED}

# docs/concepts.md, docs/rules.md#milestones: the statuses each milestone action starts from,
# written out again.
EXPECTED_TRANSITIONS = {
    Action.FUND: {_M.NOT_FUNDED},
    Action.SUBMIT: {_M.FUNDED, _M.REVISION_REQUESTED},
    Action.REQUEST_REVISION: {_M.SUBMITTED},
    Action.RELEASE: WORKING,
    Action.REQUEST_REFUND: WORKING,
    Action.OPEN_DISPUTE: WORKING,
}
STATUS_AFTER = {
    Action.FUND: _M.FUNDED,
    Action.SUBMIT: _M.SUBMITTED,
    Action.REQUEST_REVISION: _M.REVISION_REQUESTED,
    Action.RELEASE: _M.RELEASED,
    Action.OPEN_DISPUTE: _M.DISPUTED,
    Action.COMPLETE: _M.CANCELLED,  # no unit was paid
}

# docs/concepts.md, docs/rules.md#contracts: who may take each action. None: either party.
EXPECTED_PERMISSIONS = {
    Action.ACCEPT: Role.FREELANCER,
    Action.DECLINE: Role.FREELANCER,
    Action.END: None,
    Action.FUND: Role.CLIENT,
    Action.SUBMIT: Role.FREELANCER,
    Action.REQUEST_REVISION: Role.CLIENT,
    Action.RELEASE: Role.CLIENT,
    Action.COMPLETE: Role.CLIENT,
    Action.PAY_BONUS: Role.CLIENT,
    Action.PROPOSE_CHANGES: None,
    Action.ANSWER_CHANGES: None,
    Action.REQUEST_REFUND: Role.CLIENT,
    Action.ANSWER_REFUND: Role.FREELANCER,
    Action.OPEN_DISPUTE: None,
    Action.WITHDRAW_DISPUTE: None,
}
PARTIES = {Role.CLIENT: {CLIENT}, Role.FREELANCER: {FREELANCER}, None: {CLIENT, FREELANCER}}


def _id(value: object) -> str:
    if isinstance(value, Action):
        return value.name
    if isinstance(value, Actor):
        return NAMES[value]
    return str(value)


def _by(action: Action) -> Actor:
    """A party allowed to take a milestone action."""
    return CLIENT if PERMISSIONS[action] in (Role.CLIENT, None) else FREELANCER


# --- milestone statuses x actions ---------------------------------------------------------


def test_the_transition_table_covers_the_milestone_actions() -> None:
    assert set(EXPECTED_TRANSITIONS) | {Action.COMPLETE} == set(TRANSITIONS)


@pytest.mark.parametrize("action", list(EXPECTED_TRANSITIONS), ids=_id)
def test_the_transition_table_is_the_one_the_product_contract_describes(action: Action) -> None:
    assert set(TRANSITIONS[action]) == EXPECTED_TRANSITIONS[action]


def test_the_rules_table_names_the_status_each_action_leads_to() -> None:
    # The one place the target statuses are written: the actions read them from it.
    for action, status in STATUS_AFTER.items():
        assert milestone_target(action, in_full=action is not Action.COMPLETE) is status
    assert milestone_target(Action.RELEASE, in_full=False) is _M.FUNDED  # piece-rate units left
    assert milestone_target(Action.COMPLETE) is _M.RELEASED  # some units were paid
    for splitting in (Action.DECLINE, Action.END, Action.ANSWER_REFUND, Action.RESOLVE_DISPUTE):
        assert milestone_target(splitting) is _M.RELEASED
        assert milestone_target(splitting, in_full=False) is _M.REFUNDED
    for closing in (Action.DECLINE, Action.END):
        assert unfunded_target(closing) is _M.CANCELLED
    assert contract_target(Action.ACCEPT) is ContractStatus.ACTIVE
    assert contract_target(Action.DECLINE) is ContractStatus.DECLINED
    assert contract_target(Action.END) is ContractStatus.ENDED


def test_only_a_working_milestone_is_completed() -> None:
    # docs/rules.md#milestones: nothing but the dispute's own actions on a DISPUTED milestone.
    assert set(TRANSITIONS[Action.COMPLETE]) <= WORKING


@pytest.mark.parametrize(
    ("status", "action"),
    list(product(MilestoneStatus, EXPECTED_TRANSITIONS)),
    ids=_id,
)
def test_a_milestone_action_is_allowed_exactly_from_the_statuses_in_the_transition_table(
    status: MilestoneStatus, action: Action
) -> None:
    # given
    contract = with_first_milestone(status)
    actor = _by(action)

    if status in TRANSITIONS[action]:
        # when
        step(contract, lambda: attempt(contract, action, actor))
        # then
        assert contract.milestones[0].status is STATUS_AFTER.get(action, status)
    else:
        # when
        error = refused(contract, lambda: attempt(contract, action, actor))
        # then (§6.16: release of NOT_FUNDED, anything on DISPUTED, funding a funded one)
        assert error.code is ErrorCode.INVALID_STATE
        assert error.problems[0].field == ("milestone_id",)


@pytest.mark.parametrize("status", list(MilestoneStatus), ids=_id)
def test_a_piece_rate_milestone_is_completed_exactly_from_the_statuses_in_the_table(
    status: MilestoneStatus,
) -> None:
    contract = with_first_milestone(status, piece_rate=True)
    if status in TRANSITIONS[Action.COMPLETE]:
        step(contract, lambda: attempt(contract, Action.COMPLETE, CLIENT))
        assert contract.milestones[0].status is MilestoneStatus.CANCELLED
    else:
        error = refused(contract, lambda: attempt(contract, Action.COMPLETE, CLIENT))
        assert error.code is ErrorCode.INVALID_STATE


@pytest.mark.parametrize("status", sorted(WORKING), ids=_id)
def test_a_fixed_price_milestone_cannot_be_completed(status: MilestoneStatus) -> None:
    # docs/concepts.md#piece-rate-milestones: completeMilestone is piece-rate only, INVALID_STATE
    # otherwise.
    contract = with_first_milestone(status)
    error = refused(contract, lambda: attempt(contract, Action.COMPLETE, CLIENT))
    assert error.code is ErrorCode.INVALID_STATE


# --- roles x actions ----------------------------------------------------------------------


@pytest.mark.parametrize("action", list(EXPECTED_PERMISSIONS), ids=_id)
def test_the_permission_table_is_the_one_the_product_contract_describes(action: Action) -> None:
    assert PERMISSIONS[action] == EXPECTED_PERMISSIONS[action]


def _ready_for(action: Action) -> tuple[Contract, set[Actor]]:
    """A contract on which `action` succeeds, and who may take it there."""
    allowed = PARTIES[EXPECTED_PERMISSIONS.get(action)]
    match action:
        case Action.ACCEPT | Action.DECLINE:
            return offered(), allowed
        case Action.END | Action.FUND | Action.PAY_BONUS | Action.PROPOSE_CHANGES:
            return active(), allowed
        case Action.SUBMIT | Action.RELEASE | Action.REQUEST_REFUND | Action.OPEN_DISPUTE:
            return with_first_milestone(_M.FUNDED), allowed
        case Action.REQUEST_REVISION:
            return with_first_milestone(_M.SUBMITTED), allowed
        case Action.COMPLETE:
            return with_first_milestone(_M.FUNDED, piece_rate=True), allowed
        case Action.ANSWER_REFUND:
            contract = with_first_milestone(_M.FUNDED)
            request_refund(contract)
            return contract, allowed
        case Action.ANSWER_CHANGES:
            # The other party answers: the client proposed, so the freelancer.
            contract = active()
            propose_changes(contract, CLIENT)
            return contract, {FREELANCER}
        case Action.WITHDRAW_DISPUTE:
            # Only who opened it: the client here.
            return with_first_milestone(_M.DISPUTED), {CLIENT}
        case Action.RESOLVE_DISPUTE:
            return with_first_milestone(_M.DISPUTED), {ADMIN}
    raise AssertionError(action)


@pytest.mark.parametrize(("action", "actor"), list(product(Action, EVERYONE)), ids=_id)
def test_only_the_party_the_permission_table_names_may_take_an_action(
    action: Action, actor: Actor
) -> None:
    # given
    contract, allowed = _ready_for(action)

    if actor in allowed:
        step(contract, lambda: attempt(contract, action, actor))
    else:
        error = refused(contract, lambda: attempt(contract, action, actor))
        assert error.code is ErrorCode.NOT_PERMITTED


@pytest.mark.parametrize(
    ("status", "action", "actor"),
    [
        (status, action, actor)
        for status, action, actor in product(MilestoneStatus, TRANSITIONS, EVERYONE)
        if actor not in PARTIES[EXPECTED_PERMISSIONS[action]]
    ],
    ids=_id,
)
def test_the_wrong_party_is_not_permitted_whatever_the_milestone_status(
    status: MilestoneStatus, action: Action, actor: Actor
) -> None:
    # §6.31: NOT_PERMITTED is checked before the state.
    contract = with_first_milestone(status, piece_rate=action is Action.COMPLETE)
    error = refused(contract, lambda: attempt(contract, action, actor))
    assert error.code is ErrorCode.NOT_PERMITTED


def test_the_party_who_did_not_open_a_dispute_cannot_withdraw_it() -> None:
    contract = with_first_milestone(_M.FUNDED)
    dispute = open_dispute(contract, by=FREELANCER)
    error = refused(
        contract, lambda: attempt(contract, Action.WITHDRAW_DISPUTE, CLIENT, 1, dispute)
    )
    assert error.code is ErrorCode.NOT_PERMITTED


def test_the_proposer_of_a_change_request_cannot_accept_it() -> None:
    contract = active()
    request = propose_changes(contract, FREELANCER)
    error = refused(
        contract, lambda: attempt(contract, Action.ANSWER_CHANGES, FREELANCER, 1, request)
    )
    assert error.code is ErrorCode.NOT_PERMITTED


# --- contract statuses x contract actions (§6.8, §6.10, §6.16, §6.30) ----------------------

ORDER = (
    ContractStatus.OFFERED,
    ContractStatus.ACTIVE,
    ContractStatus.DECLINED,
    ContractStatus.ENDED,
)
_S = ContractStatus
_E = ErrorCode
CONTRACT_OUTCOMES: dict[str, tuple[ContractStatus | ErrorCode, ...]] = {
    # by contract status: OFFERED, ACTIVE, DECLINED, ENDED
    "freelancer accepts": (_S.ACTIVE, _E.INVALID_STATE, _E.INVALID_STATE, _E.INVALID_STATE),
    "freelancer declines": (_S.DECLINED, _E.INVALID_STATE, _E.INVALID_STATE, _E.INVALID_STATE),
    "client ends": (_S.ENDED, _S.ENDED, _E.INVALID_STATE, _E.INVALID_STATE),
    "freelancer ends": (_E.NOT_PERMITTED, _S.ENDED, _E.INVALID_STATE, _E.INVALID_STATE),
    "client pays a bonus": (_E.INVALID_STATE, _S.ACTIVE, _E.INVALID_STATE, _E.INVALID_STATE),
    "client proposes changes": (_E.INVALID_STATE, _S.ACTIVE, _E.INVALID_STATE, _E.INVALID_STATE),
}
CONTRACT_ACTIONS: dict[str, Callable[[Contract], object]] = {
    "freelancer accepts": lambda c: c.accept(FREELANCER),
    "freelancer declines": lambda c: c.decline(FREELANCER, DeclineContract(contract_id=1)),
    "client ends": lambda c: c.end(CLIENT, EndContract(contract_id=1)),
    "freelancer ends": lambda c: c.end(FREELANCER, EndContract(contract_id=1)),
    "client pays a bonus": lambda c: c.pay_bonus(CLIENT, PayBonus(contract_id=1, amount=10_00)),
    "client proposes changes": lambda c: attempt(c, Action.PROPOSE_CHANGES, CLIENT),
}


@pytest.mark.parametrize(
    ("name", "status"), list(product(CONTRACT_OUTCOMES, ORDER)), ids=lambda v: str(v)
)
def test_a_contract_action_depends_on_the_contract_status(
    name: str, status: ContractStatus
) -> None:
    # given
    contract = in_status(status)
    expected = CONTRACT_OUTCOMES[name][ORDER.index(status)]
    act = CONTRACT_ACTIONS[name]

    if isinstance(expected, ContractStatus):
        # when
        step(contract, lambda: act(contract))
        # then
        assert contract.status is expected
    else:
        error = refused(contract, lambda: act(contract))
        assert error.code is expected


@pytest.mark.parametrize("actor", [OUTSIDER, ADMIN], ids=_id)
@pytest.mark.parametrize("status", list(ContractStatus))
def test_only_a_party_may_end_a_contract(status: ContractStatus, actor: Actor) -> None:
    contract = in_status(status)
    error = refused(contract, lambda: contract.end(actor, EndContract(contract_id=1)))
    assert error.code is ErrorCode.NOT_PERMITTED


# --- milestone actions on a contract that is not ACTIVE (§6.30, §6.16) ----------------------


def test_the_client_may_fund_the_first_milestone_of_an_open_offer() -> None:
    contract = offered()
    fund(contract)
    assert contract.milestones[0].status is MilestoneStatus.FUNDED
    assert contract.status is ContractStatus.OFFERED


def test_cannot_fund_a_later_milestone_of_an_open_offer() -> None:
    contract = offered()
    error = refused(contract, lambda: contract.fund(CLIENT, 2))
    assert error.code is ErrorCode.INVALID_STATE


def test_funding_the_first_milestone_of_an_offer_twice_is_invalid_state() -> None:
    contract = offered()
    fund(contract)
    error = refused(contract, lambda: contract.fund(CLIENT, 1))
    assert error.code is ErrorCode.INVALID_STATE


@pytest.mark.parametrize(
    "action",
    [Action.SUBMIT, Action.RELEASE, Action.REQUEST_REFUND, Action.OPEN_DISPUTE],
    ids=_id,
)
def test_cannot_act_on_the_funded_milestone_of_an_offer_not_yet_accepted(action: Action) -> None:
    contract = offered()
    fund(contract)
    error = refused(contract, lambda: attempt(contract, action, _by(action)))
    assert error.code is ErrorCode.INVALID_STATE


@pytest.mark.parametrize("action", list(TRANSITIONS), ids=_id)
@pytest.mark.parametrize("status", [ContractStatus.DECLINED, ContractStatus.ENDED])
def test_no_milestone_action_is_allowed_once_a_contract_is_closed(
    status: ContractStatus, action: Action
) -> None:
    contract = in_status(status)
    error = refused(contract, lambda: attempt(contract, action, _by(action)))
    assert error.code is ErrorCode.INVALID_STATE
