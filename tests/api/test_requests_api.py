"""Change requests, refunds, disputes, deadlines and piece-rate milestones over the API.

The rules themselves are tested through the services (tests/services/); these tests check what
a client of the API sees: payloads, fields, userError codes and paths, events with their
actors, exact timestamps with the frozen clock, and the policy in force (docs/concepts.md,
schema.graphql, docs/rules.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from asgi_lifespan import LifespanManager

from app.main import create_app
from app.services.deadlines import run_due
from app.services.runtime import Runtime
from app.settings import load_settings
from tests.api.client import Api
from tests.api.operations import (
    POLICY,
    USER_ERRORS,
    Payload,
    accept_contract,
    create_contract,
    fund_milestone,
    milestone_input,
    raw_release_milestone,
    raw_submit_milestone,
    refusal,
    release_milestone,
)
from tests.api.people import Parties
from tests.api.scenarios import active, funded, milestone_ids, submitted
from tests.support import FrozenClock

DAY = timedelta(days=1)

# --- operations ---------------------------------------------------------------------------------

CHANGE_REQUEST_FIELDS = """
fragment ChangeRequestFields on ChangeRequest {
  id status message reason createdAt resolvedAt
  proposedBy { id }
  changes {
    action title description dueDate position maxUnits
    amount { amount currency }
    unitPrice { amount currency }
    milestone { id title position status }
  }
}
"""

CHANGE_REQUEST_PAYLOAD = f"""
  changeRequest {{ ...ChangeRequestFields }}
  contract {{
    id
    milestones {{ id position title status amount {{ amount }} dueDate }}
    pendingChangeRequest {{ id status }}
    changeRequests {{ id status }}
  }}
  {USER_ERRORS}
"""

PROPOSE_CHANGES = (
    f"""
mutation($input: ProposeMilestoneChangesInput!) {{
  proposeMilestoneChanges(input: $input) {{ {CHANGE_REQUEST_PAYLOAD} }}
}}
"""
    + CHANGE_REQUEST_FIELDS
)

ACCEPT_CHANGE_REQUEST = (
    f"""
mutation($input: AcceptChangeRequestInput!) {{
  acceptChangeRequest(input: $input) {{ {CHANGE_REQUEST_PAYLOAD} }}
}}
"""
    + CHANGE_REQUEST_FIELDS
)

DECLINE_CHANGE_REQUEST = (
    f"""
mutation($input: DeclineChangeRequestInput!) {{
  declineChangeRequest(input: $input) {{ {CHANGE_REQUEST_PAYLOAD} }}
}}
"""
    + CHANGE_REQUEST_FIELDS
)

WITHDRAW_CHANGE_REQUEST = (
    f"""
mutation($input: WithdrawChangeRequestInput!) {{
  withdrawChangeRequest(input: $input) {{ {CHANGE_REQUEST_PAYLOAD} }}
}}
"""
    + CHANGE_REQUEST_FIELDS
)

REFUND_FIELDS = """
fragment RefundFields on RefundRequest {
  id status reason response respondBy resolvedAt
  amount { amount currency }
  milestone { id }
}
"""

REFUND_PAYLOAD = f"""
  refundRequest {{ ...RefundFields }}
  milestone {{
    id status autoReleaseAt
    refundedAmount {{ amount }} releasedAmount {{ amount }}
    pendingRefundRequest {{ id status }}
    refundRequests {{ id status }}
  }}
  {USER_ERRORS}
"""

REQUEST_REFUND = (
    f"""
mutation($input: RequestRefundInput!) {{ requestRefund(input: $input) {{ {REFUND_PAYLOAD} }} }}
"""
    + REFUND_FIELDS
)

RESPOND_TO_REFUND = (
    f"""
mutation($input: RespondToRefundRequestInput!) {{
  respondToRefundRequest(input: $input) {{ {REFUND_PAYLOAD} }}
}}
"""
    + REFUND_FIELDS
)

DISPUTE_FIELDS = """
fragment DisputeFields on Dispute {
  id status reason createdAt
  openedBy { id }
  milestone { id }
  resolution {
    freelancerAmount { amount currency }
    clientAmount { amount currency }
    note resolvedAt
    resolvedBy { id }
  }
}
"""

DISPUTE_PAYLOAD = f"""
  dispute {{ ...DisputeFields }}
  milestone {{ id status autoReleaseAt dispute {{ id status }} }}
  {USER_ERRORS}
"""

OPEN_DISPUTE = (
    f"""
mutation($input: OpenDisputeInput!) {{ openDispute(input: $input) {{ {DISPUTE_PAYLOAD} }} }}
"""
    + DISPUTE_FIELDS
)

WITHDRAW_DISPUTE = (
    f"""
mutation($input: WithdrawDisputeInput!) {{ withdrawDispute(input: $input) {{ {DISPUTE_PAYLOAD} }} }}
"""
    + DISPUTE_FIELDS
)

RESOLVE_DISPUTE = (
    f"""
mutation($input: ResolveDisputeInput!) {{ resolveDispute(input: $input) {{ {DISPUTE_PAYLOAD} }} }}
"""
    + DISPUTE_FIELDS
)

PIECE_MILESTONE_FIELDS = """
  id status maxUnits unitsReleased autoReleaseAt
  amount { amount currency }
  unitPrice { amount currency }
  fundedAmount { amount }
  releasedAmount { amount }
  submissions { units status requestedAmount { amount } }
"""

SUBMIT_UNITS = f"""
mutation($input: SubmitMilestoneInput!) {{
  submitMilestone(input: $input) {{ milestone {{ {PIECE_MILESTONE_FIELDS} }} {USER_ERRORS} }}
}}
"""

RELEASE_UNITS = f"""
mutation($input: ReleaseMilestoneInput!) {{
  releaseMilestone(input: $input) {{ milestone {{ {PIECE_MILESTONE_FIELDS} }} {USER_ERRORS} }}
}}
"""

COMPLETE_MILESTONE = f"""
mutation($input: CompleteMilestoneInput!) {{
  completeMilestone(input: $input) {{
    milestone {{ {PIECE_MILESTONE_FIELDS} }}
    contract {{ escrow {{ held {{ amount }} available {{ amount }} }} }}
    {USER_ERRORS}
  }}
}}
"""

MILESTONE = (
    f"""
query($id: ID!) {{
  milestone(id: $id) {{
    {PIECE_MILESTONE_FIELDS}
    refundedAmount {{ amount }}
    pendingRefundRequest {{ id }}
    refundRequests {{ ...RefundFields }}
    dispute {{ ...DisputeFields }}
  }}
}}
"""
    + REFUND_FIELDS
    + DISPUTE_FIELDS
)

CONTRACT = (
    """
query($id: ID!) {
  contract(id: $id) {
    id
    milestones { id position title status }
    pendingChangeRequest { id }
    changeRequests { ...ChangeRequestFields }
    events(first: 100) {
      edges {
        node {
          sequence type message
          amount { amount }
          actor { id }
          milestone { id }
          changeRequest { id status }
        }
      }
    }
  }
}
"""
    + CHANGE_REQUEST_FIELDS
)


# --- helpers ------------------------------------------------------------------------------------


async def mutate(api: Api, query: str, token: str, **fields: Any) -> Payload:
    """The payload of a mutation, refused or not; there must be no top-level error."""
    result = await api.raw(query, {"input": fields}, token)
    assert not result.errors, result.errors
    assert result.data is not None
    (payload,) = result.data.values()
    assert isinstance(payload, dict)
    return payload


async def done(api: Api, query: str, token: str, **fields: Any) -> Payload:
    payload = await mutate(api, query, token, **fields)
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def contract_of(api: Api, parties: Parties, contract_id: str) -> Payload:
    contract: Payload = (await api.ok(CONTRACT, {"id": contract_id}, parties.client.token))[
        "contract"
    ]
    return contract


async def milestone_of(api: Api, parties: Parties, milestone_id: str) -> Payload:
    milestone: Payload = (await api.ok(MILESTONE, {"id": milestone_id}, parties.client.token))[
        "milestone"
    ]
    return milestone


def events(contract: Payload) -> list[tuple[str, str | None, str | None]]:
    """(type, actor id, amount) of every event, oldest first."""
    return [
        (
            edge["node"]["type"],
            edge["node"]["actor"]["id"] if edge["node"]["actor"] else None,
            edge["node"]["amount"]["amount"] if edge["node"]["amount"] else None,
        )
        for edge in contract["events"]["edges"]
    ]


def iso(moment: datetime) -> str:
    return moment.isoformat()


# --- policy -------------------------------------------------------------------------------------


async def test_the_policy_reports_the_defaults_in_force(api: Api) -> None:
    policy = (await api.ok(POLICY))["policy"]

    assert policy == {
        "minimumMilestoneAmount": {"amount": "5.00", "currency": "USD"},
        "maxMilestonesPerContract": 200,
        "autoReleaseAfterSeconds": 1_209_600,
        "refundResponseSeconds": 604_800,
        "contractInitiationFee": {"amount": "4.95", "currency": "USD"},
        "clientProcessingFeePercent": "3.00",
        "freelancerServiceFeePercent": "10.00",
    }


async def test_the_policy_follows_the_settings(runtime: Runtime) -> None:
    settings = load_settings(
        SECRET_KEY=runtime.secret_key,
        AUTO_RELEASE_AFTER="2h",
        REFUND_RESPONSE_WINDOW="3d",
        CONTRACT_INITIATION_FEE="1.50",
        CLIENT_PROCESSING_FEE_PERCENT="2.5",
        FREELANCER_SERVICE_FEE_PERCENT="12",
        MIN_MILESTONE_AMOUNT="10.00",
        MAX_MILESTONES_PER_CONTRACT=50,
    )
    app = create_app(settings, database=False)
    async with LifespanManager(app):
        policy = (await Api(app).ok(POLICY))["policy"]

    assert policy == {
        "minimumMilestoneAmount": {"amount": "10.00", "currency": "USD"},
        "maxMilestonesPerContract": 50,
        "autoReleaseAfterSeconds": 7_200,
        "refundResponseSeconds": 259_200,
        "contractInitiationFee": {"amount": "1.50", "currency": "USD"},
        "clientProcessingFeePercent": "2.50",
        "freelancerServiceFeePercent": "12.00",
    }


# --- change requests ----------------------------------------------------------------------------


async def test_a_change_request_shows_what_it_proposes_and_what_it_did(
    api: Api, parties: Parties, clock: FrozenClock
) -> None:
    # given an active contract of two future milestones
    contract = await active(api, parties, "100.00", "50.00")
    first, second = milestone_ids(contract)

    # when the client proposes an ADD, an UPDATE and a MOVE
    proposed = await done(
        api,
        PROPOSE_CHANGES,
        parties.client.token,
        contractId=contract["id"],
        message="Reshape",
        changes=[
            {"action": "ADD", "title": "Extra", "amount": "30.00", "dueDate": "2026-04-30"},
            {"action": "UPDATE", "milestoneId": second, "title": "Second+", "amount": "75.00"},
            {"action": "MOVE", "milestoneId": second, "position": 1},
        ],
    )

    # then the request is pending, lists each change's values, and the plan is unchanged
    request = proposed["changeRequest"]
    assert (request["status"], request["message"], request["proposedBy"]["id"]) == (
        "PENDING",
        "Reshape",
        parties.client.id,
    )
    assert (request["createdAt"], request["resolvedAt"]) == (iso(clock.now), None)
    add, update, move = request["changes"]
    assert add == {
        "action": "ADD",
        "title": "Extra",
        "description": None,
        "dueDate": "2026-04-30",
        "position": None,
        "maxUnits": None,
        "amount": {"amount": "30.00", "currency": "USD"},
        "unitPrice": None,
        "milestone": None,
    }
    assert (update["action"], update["title"], update["amount"]["amount"]) == (
        "UPDATE",
        "Second+",
        "75.00",
    )
    assert update["milestone"]["id"] == second
    assert (move["action"], move["position"], move["milestone"]["id"]) == ("MOVE", 1, second)
    assert proposed["contract"]["pendingChangeRequest"] == {
        "id": request["id"],
        "status": "PENDING",
    }
    assert [m["id"] for m in proposed["contract"]["milestones"]] == [first, second]

    # when the freelancer accepts
    clock.advance(DAY)
    accepted = await done(
        api, ACCEPT_CHANGE_REQUEST, parties.freelancer.token, changeRequestId=request["id"]
    )

    # then every change applies, and the ADD names the milestone it created
    after = accepted["contract"]
    assert [(m["title"], m["position"], m["amount"]["amount"]) for m in after["milestones"]] == [
        ("Second+", 1, "75.00"),
        ("Milestone 1", 2, "100.00"),
        ("Extra", 3, "30.00"),
    ]
    created = after["milestones"][2]
    assert created["dueDate"] == "2026-04-30"
    request = accepted["changeRequest"]
    assert (request["status"], request["resolvedAt"]) == ("ACCEPTED", iso(clock.now))
    assert request["changes"][0]["milestone"] == {
        "id": created["id"],
        "title": "Extra",
        "position": 3,
        "status": "NOT_FUNDED",
    }
    assert after["pendingChangeRequest"] is None
    assert after["changeRequests"] == [{"id": request["id"], "status": "ACCEPTED"}]
    # and the events name the request and who answered it
    read = await contract_of(api, parties, contract["id"])
    tail = [e["node"] for e in read["events"]["edges"]][-2:]
    assert [(e["type"], e["actor"]["id"], e["changeRequest"]["id"]) for e in tail] == [
        ("CHANGE_REQUEST_PROPOSED", parties.client.id, request["id"]),
        ("CHANGE_REQUEST_ACCEPTED", parties.freelancer.id, request["id"]),
    ]
    assert tail[0]["message"] == "Reshape"


async def test_change_request_refusals_name_the_field(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00", "50.00")
    first, second = milestone_ids(contract)

    async def propose(*changes: Payload, token: str = parties.client.token) -> Payload:
        return await mutate(
            api, PROPOSE_CHANGES, token, contractId=contract["id"], changes=list(changes)
        )

    bad_amount = await propose(
        {"action": "ADD", "title": "Extra", "amount": "30.00"},
        {"action": "UPDATE", "milestoneId": second, "amount": "1.001"},
    )
    assert refusal(bad_amount) == [("INVALID_AMOUNT", ["changes", "1", "amount"])]
    assert (bad_amount["changeRequest"], bad_amount["contract"]) == (None, None)

    too_small = await propose({"action": "UPDATE", "milestoneId": second, "amount": "4.99"})
    assert refusal(too_small) == [("AMOUNT_TOO_SMALL", ["changes", "0", "amount"])]

    funded_one = await propose({"action": "DELETE", "milestoneId": first})
    assert refusal(funded_one) == [("MILESTONE_NOT_EDITABLE", ["changes", "0", "milestoneId"])]

    before_it = await propose({"action": "ADD", "title": "Zero", "amount": "9.00", "position": 1})
    assert refusal(before_it) == [("MILESTONE_NOT_EDITABLE", ["changes", "0", "position"])]

    request = (await propose({"action": "UPDATE", "milestoneId": second, "title": "Two"}))[
        "changeRequest"
    ]
    again = await propose({"action": "ADD", "title": "More", "amount": "9.00"})
    assert refusal(again) == [("CHANGE_REQUEST_PENDING", None)]

    own = await mutate(
        api, ACCEPT_CHANGE_REQUEST, parties.client.token, changeRequestId=request["id"]
    )
    assert refusal(own) == [("NOT_PERMITTED", None)]
    hidden = await mutate(
        api, ACCEPT_CHANGE_REQUEST, parties.outsider.token, changeRequestId=request["id"]
    )
    assert refusal(hidden) == [("NOT_FOUND", ["changeRequestId"])]


async def test_a_stale_request_stays_pending_until_withdrawn(api: Api, parties: Parties) -> None:
    # given a request to change the second milestone, which then gets funded
    contract = await funded(api, parties, "100.00", "50.00")
    first, second = milestone_ids(contract)
    request = (
        await done(
            api,
            PROPOSE_CHANGES,
            parties.freelancer.token,
            contractId=contract["id"],
            changes=[{"action": "UPDATE", "milestoneId": second, "amount": "80.00"}],
        )
    )["changeRequest"]
    await release_milestone(api, parties.client.token, first)
    await fund_milestone(api, parties.client.token, second)

    # when the client accepts, it is stale; nothing applied, still pending
    stale = await mutate(
        api, ACCEPT_CHANGE_REQUEST, parties.client.token, changeRequestId=request["id"]
    )
    assert refusal(stale) == [("STALE_CHANGE_REQUEST", None)]
    read = await contract_of(api, parties, contract["id"])
    assert read["pendingChangeRequest"] == {"id": request["id"]}

    # then the proposer withdraws it
    withdrawn = await done(
        api, WITHDRAW_CHANGE_REQUEST, parties.freelancer.token, changeRequestId=request["id"]
    )
    assert withdrawn["changeRequest"]["status"] == "WITHDRAWN"
    assert withdrawn["contract"]["pendingChangeRequest"] is None
    assert (await milestone_of(api, parties, second))["amount"]["amount"] == "50.00"


async def test_a_declined_request_keeps_its_reason(api: Api, parties: Parties) -> None:
    contract = await active(api, parties, "100.00", "50.00")
    _, second_milestone = milestone_ids(contract)
    request: Payload = (
        await done(
            api,
            PROPOSE_CHANGES,
            parties.client.token,
            contractId=contract["id"],
            changes=[{"action": "DELETE", "milestoneId": second_milestone}],
        )
    )["changeRequest"]

    declined = await done(
        api,
        DECLINE_CHANGE_REQUEST,
        parties.freelancer.token,
        changeRequestId=request["id"],
        reason="I need that one",
    )

    assert (declined["changeRequest"]["status"], declined["changeRequest"]["reason"]) == (
        "DECLINED",
        "I need that one",
    )
    assert len(declined["contract"]["milestones"]) == 2
    again = await mutate(
        api, ACCEPT_CHANGE_REQUEST, parties.freelancer.token, changeRequestId=request["id"]
    )
    assert refusal(again) == [("INVALID_STATE", None)]
    # a new request may follow; the contract lists both, oldest first
    second = await done(
        api,
        PROPOSE_CHANGES,
        parties.freelancer.token,
        contractId=contract["id"],
        changes=[{"action": "ADD", "title": "Third", "amount": "5.00"}],
    )
    assert second["contract"]["changeRequests"] == [
        {"id": request["id"], "status": "DECLINED"},
        {"id": second["changeRequest"]["id"], "status": "PENDING"},
    ]


# --- refunds ------------------------------------------------------------------------------------


async def test_a_refund_request_pauses_the_review_and_a_decline_resumes_it(
    api: Api, parties: Parties, clock: FrozenClock
) -> None:
    # given work submitted at t0, and a refund of 30.00 asked 2 days later
    t0 = clock.now
    contract = await submitted(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    clock.advance(2 * DAY)
    asked = await done(
        api,
        REQUEST_REFUND,
        parties.client.token,
        milestoneId=milestone,
        amount="30.00",
        reason="Too slow",
    )

    # then the request is pending and the milestone keeps its status without a review clock
    refund = asked["refundRequest"]
    assert refund == {
        "id": refund["id"],
        "status": "PENDING",
        "reason": "Too slow",
        "response": None,
        "respondBy": iso(t0 + 9 * DAY),
        "resolvedAt": None,
        "amount": {"amount": "30.00", "currency": "USD"},
        "milestone": {"id": milestone},
    }
    assert asked["milestone"]["status"] == "SUBMITTED"
    assert asked["milestone"]["autoReleaseAt"] is None
    assert asked["milestone"]["pendingRefundRequest"] == {"id": refund["id"], "status": "PENDING"}
    # and neither party can open a dispute
    dispute = await mutate(
        api, OPEN_DISPUTE, parties.freelancer.token, milestoneId=milestone, reason="Unfair"
    )
    assert refusal(dispute) == [("REFUND_PENDING", ["milestoneId"])]

    # when the freelancer declines a day later
    clock.advance(DAY)
    declined = await done(
        api,
        RESPOND_TO_REFUND,
        parties.freelancer.token,
        refundRequestId=refund["id"],
        approve=False,
        message="It is done",
    )

    # then the review resumes with the 12 days that were left
    assert declined["refundRequest"]["status"] == "DECLINED"
    assert declined["refundRequest"]["response"] == "It is done"
    assert declined["refundRequest"]["resolvedAt"] == iso(t0 + 3 * DAY)
    assert declined["milestone"]["status"] == "SUBMITTED"
    assert declined["milestone"]["autoReleaseAt"] == iso(t0 + 15 * DAY)
    assert declined["milestone"]["pendingRefundRequest"] is None
    assert declined["milestone"]["refundRequests"] == [{"id": refund["id"], "status": "DECLINED"}]


async def test_a_pending_refund_blocks_the_submission(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    refund = (await done(api, REQUEST_REFUND, parties.client.token, milestoneId=milestone))[
        "refundRequest"
    ]
    assert refund["amount"]["amount"] == "100.00"

    blocked = await raw_submit_milestone(api, parties.freelancer.token, milestone)

    assert refusal(blocked) == [("REFUND_PENDING", ["milestoneId"])]
    m = await milestone_of(api, parties, milestone)
    assert (m["status"], m["pendingRefundRequest"]) == ("FUNDED", {"id": refund["id"]})


async def test_a_refund_of_more_than_the_escrow_is_refused(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)

    payload = await mutate(
        api, REQUEST_REFUND, parties.client.token, milestoneId=milestone, amount="100.01"
    )

    assert refusal(payload) == [("INVALID_AMOUNT", ["amount"])]
    assert payload["refundRequest"] is None


async def test_an_approved_refund_with_a_rest_pays_the_rest(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    refund = (
        await done(api, REQUEST_REFUND, parties.client.token, milestoneId=milestone, amount="40.00")
    )["refundRequest"]

    approved = await done(
        api, RESPOND_TO_REFUND, parties.freelancer.token, refundRequestId=refund["id"], approve=True
    )

    assert approved["refundRequest"]["status"] == "APPROVED"
    m = approved["milestone"]
    assert (m["status"], m["refundedAmount"]["amount"], m["releasedAmount"]["amount"]) == (
        "RELEASED",
        "40.00",
        "60.00",
    )
    read = await contract_of(api, parties, contract["id"])
    fl = parties.freelancer.id
    assert events(read)[-3:] == [
        ("REFUND_APPROVED", fl, "40.00"),
        ("MILESTONE_REFUNDED", fl, "40.00"),
        ("MILESTONE_RELEASED", fl, "60.00"),
    ]


async def test_a_late_answer_finds_the_refund_approved_by_nobody(
    api: Api, parties: Parties, clock: FrozenClock
) -> None:
    # §6.33: the deadline passed and no scheduler ran
    contract = await funded(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    refund = (await done(api, REQUEST_REFUND, parties.client.token, milestoneId=milestone))[
        "refundRequest"
    ]
    clock.advance(7 * DAY + timedelta(seconds=1))

    late = await mutate(
        api,
        RESPOND_TO_REFUND,
        parties.freelancer.token,
        refundRequestId=refund["id"],
        approve=False,
    )

    assert refusal(late) == [("INVALID_STATE", None)]
    m = await milestone_of(api, parties, milestone)
    assert (m["status"], m["refundedAmount"]["amount"], m["pendingRefundRequest"]) == (
        "REFUNDED",
        "100.00",
        None,
    )
    assert [r["status"] for r in m["refundRequests"]] == ["APPROVED"]
    read = await contract_of(api, parties, contract["id"])
    assert events(read)[-2:] == [
        ("REFUND_APPROVED", None, "100.00"),
        ("MILESTONE_REFUNDED", None, "100.00"),
    ]


# --- disputes -----------------------------------------------------------------------------------


async def test_a_dispute_is_opened_withdrawn_and_gives_back_the_review_time(
    api: Api, parties: Parties, clock: FrozenClock
) -> None:
    # given work submitted at t0, disputed by the freelancer 5 days later
    t0 = clock.now
    contract = await submitted(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    clock.advance(5 * DAY)
    opened = await done(
        api, OPEN_DISPUTE, parties.freelancer.token, milestoneId=milestone, reason="Unpaid"
    )
    dispute = opened["dispute"]
    assert (dispute["status"], dispute["reason"], dispute["openedBy"]["id"]) == (
        "OPEN",
        "Unpaid",
        parties.freelancer.id,
    )
    assert (dispute["resolution"], dispute["milestone"]["id"]) == (None, milestone)
    assert opened["milestone"] == {
        "id": milestone,
        "status": "DISPUTED",
        "autoReleaseAt": None,
        "dispute": {"id": dispute["id"], "status": "OPEN"},
    }
    # and the milestone is frozen
    release = await raw_release_milestone(api, parties.client.token, milestone)
    assert refusal(release) == [("INVALID_STATE", ["milestoneId"])]

    # when the other party tries to withdraw, then the opener does, 3 days later
    other = await mutate(api, WITHDRAW_DISPUTE, parties.client.token, disputeId=dispute["id"])
    assert refusal(other) == [("NOT_PERMITTED", None)]
    clock.advance(3 * DAY)
    withdrawn = await done(api, WITHDRAW_DISPUTE, parties.freelancer.token, disputeId=dispute["id"])

    # then the work is submitted again with the 9 days that were left
    assert withdrawn["dispute"]["status"] == "WITHDRAWN"
    assert withdrawn["milestone"]["status"] == "SUBMITTED"
    assert withdrawn["milestone"]["autoReleaseAt"] == iso(t0 + 17 * DAY)


async def test_an_admin_resolves_a_dispute_once_per_idempotency_key(
    api: Api, parties: Parties, clock: FrozenClock
) -> None:
    contract = await submitted(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)
    dispute = (
        await done(api, OPEN_DISPUTE, parties.client.token, milestoneId=milestone, reason="Bad")
    )["dispute"]
    split = {
        "disputeId": dispute["id"],
        "freelancerAmount": "0.00",
        "clientAmount": "100.00",
        "note": "Nothing delivered",
        "idempotencyKey": "resolve-1",
    }

    # parties may not resolve; a split that is not the escrow is refused
    for party in (parties.client, parties.freelancer):
        refused = await mutate(api, RESOLVE_DISPUTE, party.token, **split)
        assert refusal(refused) == [("NOT_PERMITTED", None)]
    short = await mutate(
        api,
        RESOLVE_DISPUTE,
        parties.admin.token,
        **{**split, "clientAmount": "99.00", "idempotencyKey": "resolve-0"},
    )
    assert refusal(short) == [("INVALID_AMOUNT", ["freelancerAmount"])]

    # when the admin resolves: everything back to the client
    resolved = await done(api, RESOLVE_DISPUTE, parties.admin.token, **split)
    resolution = {
        "freelancerAmount": {"amount": "0.00", "currency": "USD"},
        "clientAmount": {"amount": "100.00", "currency": "USD"},
        "note": "Nothing delivered",
        "resolvedAt": iso(clock.now),
        "resolvedBy": {"id": parties.admin.id},
    }
    assert resolved["dispute"]["status"] == "RESOLVED"
    assert resolved["dispute"]["resolution"] == resolution
    assert resolved["milestone"]["status"] == "REFUNDED"
    read = await contract_of(api, parties, contract["id"])
    count = len(read["events"]["edges"])
    assert events(read)[-2:] == [
        ("DISPUTE_RESOLVED", parties.admin.id, "100.00"),
        ("MILESTONE_REFUNDED", parties.admin.id, "100.00"),
    ]

    # a retry with the key replays the result and moves nothing
    clock.advance(DAY)
    replay = await done(api, RESOLVE_DISPUTE, parties.admin.token, **split)
    assert replay["dispute"]["id"] == dispute["id"]
    assert replay["dispute"]["resolution"] == resolution
    assert len((await contract_of(api, parties, contract["id"]))["events"]["edges"]) == count
    # the key with another split is refused
    reused = await mutate(
        api,
        RESOLVE_DISPUTE,
        parties.admin.token,
        **{**split, "freelancerAmount": "100.00", "clientAmount": "0.00"},
    )
    assert refusal(reused) == [("IDEMPOTENCY_KEY_REUSED", ["idempotencyKey"])]
    # and the milestone shows its dispute with the resolution
    m = await milestone_of(api, parties, milestone)
    assert (m["dispute"]["id"], m["dispute"]["status"]) == (dispute["id"], "RESOLVED")
    assert m["dispute"]["resolution"] == resolution


# --- deadlines ----------------------------------------------------------------------------------


async def test_an_automatic_release_has_no_actor_and_a_late_release_is_refused(
    api: Api, parties: Parties, clock: FrozenClock, runtime: Runtime
) -> None:
    contract = await submitted(api, parties, "100.00", "50.00")
    first, _ = milestone_ids(contract)
    clock.advance(14 * DAY)

    late = await raw_release_milestone(api, parties.client.token, first, amount="100.00")

    assert refusal(late) == [("INVALID_STATE", ["milestoneId"])]
    assert await run_due(runtime) == 0
    m = await milestone_of(api, parties, first)
    assert (m["status"], m["releasedAmount"]["amount"], m["autoReleaseAt"]) == (
        "RELEASED",
        "100.00",
        None,
    )
    read = await contract_of(api, parties, contract["id"])
    assert events(read)[-1] == ("MILESTONE_RELEASED", None, "100.00")
    assert [e[0] for e in events(read)].count("MILESTONE_RELEASED") == 1


# --- piece-rate ---------------------------------------------------------------------------------


async def test_a_piece_rate_milestone_over_the_api(api: Api, parties: Parties) -> None:
    # an amount other than unitPrice x maxUnits is refused
    mismatch = await api.raw(
        """
        mutation($input: CreateContractInput!) {
          createContract(input: $input) { contract { id } userErrors { code field } }
        }
        """,
        {
            "input": {
                "freelancerId": parties.freelancer.id,
                "title": "Units",
                "milestones": [
                    milestone_input("99.00", title="Units", unitPrice="10.00", maxUnits=10)
                ],
            }
        },
        parties.client.token,
    )
    assert mismatch.data is not None
    assert mismatch.data["createContract"]["userErrors"] == [
        {"code": "INVALID_INPUT", "field": ["milestones", "0", "amount"]}
    ]

    # given 10 units at 10.00, funded
    created = await create_contract(
        api,
        parties.client.token,
        parties.freelancer.id,
        [milestone_input(None, title="Units", unitPrice="10.00", maxUnits=10)],
    )
    contract = created["contract"]
    (milestone,) = milestone_ids(contract)
    await accept_contract(api, parties.freelancer.token, contract["id"])
    await fund_milestone(api, parties.client.token, milestone)
    m = await milestone_of(api, parties, milestone)
    assert (m["amount"], m["unitPrice"], m["maxUnits"], m["unitsReleased"]) == (
        {"amount": "100.00", "currency": "USD"},
        {"amount": "10.00", "currency": "USD"},
        10,
        0,
    )

    # a submission needs units
    no_units = await mutate(api, SUBMIT_UNITS, parties.freelancer.token, milestoneId=milestone)
    assert refusal(no_units) == [("INVALID_INPUT", ["units"])]
    sent = await done(api, SUBMIT_UNITS, parties.freelancer.token, milestoneId=milestone, units=3)
    assert sent["milestone"]["submissions"] == [
        {"units": 3, "status": "PENDING", "requestedAmount": {"amount": "30.00"}}
    ]

    # the release pays the submitted units only
    wrong = await mutate(
        api, RELEASE_UNITS, parties.client.token, milestoneId=milestone, amount="20.00"
    )
    assert refusal(wrong) == [("INVALID_AMOUNT", ["amount"])]
    paid = await done(api, RELEASE_UNITS, parties.client.token, milestoneId=milestone)
    assert (
        paid["milestone"]["status"],
        paid["milestone"]["unitsReleased"],
        paid["milestone"]["releasedAmount"]["amount"],
    ) == ("FUNDED", 3, "30.00")

    # completing is the client's, and leaves the rest available
    theirs = await mutate(api, COMPLETE_MILESTONE, parties.freelancer.token, milestoneId=milestone)
    assert refusal(theirs) == [("NOT_PERMITTED", None)]
    completed = await done(api, COMPLETE_MILESTONE, parties.client.token, milestoneId=milestone)
    assert completed["milestone"]["status"] == "RELEASED"
    assert completed["contract"]["escrow"] == {
        "held": {"amount": "70.00"},
        "available": {"amount": "70.00"},
    }


async def test_completing_a_fixed_price_milestone_is_invalid_state(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00")
    (milestone,) = milestone_ids(contract)

    payload = await mutate(api, COMPLETE_MILESTONE, parties.client.token, milestoneId=milestone)

    assert refusal(payload) == [("INVALID_STATE", ["milestoneId"])]
