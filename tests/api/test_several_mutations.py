"""Several mutations in one request run one after the other (GraphQL's serial execution), and
each payload shows the state after its own mutation, not what an earlier one's loaders read."""

from __future__ import annotations

from tests.api.client import Api
from tests.api.operations import CONTRACT_FIELDS, USER_ERRORS, escrow
from tests.api.people import Parties
from tests.api.scenarios import active, milestone_ids

FUND_THEN_RELEASE = (
    f"""
mutation($id: ID!) {{
  a: fundMilestone(input: {{milestoneId: $id}}) {{
    milestone {{ status }} contract {{ ...ContractFields }} {USER_ERRORS}
  }}
  b: releaseMilestone(input: {{milestoneId: $id}}) {{
    milestone {{ status }} contract {{ ...ContractFields }} {USER_ERRORS}
  }}
}}
"""
    + CONTRACT_FIELDS
)


async def test_each_of_two_mutations_in_one_request_returns_the_state_after_itself(
    api: Api, parties: Parties
) -> None:
    # given an active contract whose first milestone (100.00) is not funded yet
    contract = await active(api, parties, "100.00", "50.00")
    first = milestone_ids(contract)[0]
    # when one request funds it and then releases it
    data = await api.ok(FUND_THEN_RELEASE, {"id": first}, parties.client.token)
    # then the funding payload shows the money held, and the release payload shows it paid out
    funded, released = data["a"], data["b"]
    assert funded["milestone"]["status"] == "FUNDED"
    assert funded["contract"]["milestones"][0]["status"] == "FUNDED"
    assert escrow(funded["contract"])["held"] == "100.00"
    assert released["milestone"]["status"] == "RELEASED"
    assert released["contract"]["milestones"][0]["status"] == "RELEASED"
    assert released["contract"]["milestones"][0]["releasedAmount"]["amount"] == "100.00"
    assert escrow(released["contract"])["held"] == "0.00"
    assert escrow(released["contract"])["totalReleased"] == "100.00"
