"""Credentials on the change request, refund and dispute mutations: a READ token is FORBIDDEN,
no token UNAUTHENTICATED, and nothing changes."""

from __future__ import annotations

import pytest

from app.auth.tokens import Scope
from app.graphql.ids import encode_id
from app.services import accounts
from app.services.runtime import Runtime
from tests.api.client import Api
from tests.support import make_person

MUTATIONS = {
    "proposeMilestoneChanges": (
        "ProposeMilestoneChangesInput",
        {"contractId": encode_id("Contract", 1), "changes": [{"action": "DELETE"}]},
    ),
    "acceptChangeRequest": (
        "AcceptChangeRequestInput",
        {"changeRequestId": encode_id("ChangeRequest", 1)},
    ),
    "declineChangeRequest": (
        "DeclineChangeRequestInput",
        {"changeRequestId": encode_id("ChangeRequest", 1)},
    ),
    "withdrawChangeRequest": (
        "WithdrawChangeRequestInput",
        {"changeRequestId": encode_id("ChangeRequest", 1)},
    ),
    "requestRefund": ("RequestRefundInput", {"milestoneId": encode_id("Milestone", 1)}),
    "respondToRefundRequest": (
        "RespondToRefundRequestInput",
        {"refundRequestId": encode_id("RefundRequest", 1), "approve": True},
    ),
    "openDispute": (
        "OpenDisputeInput",
        {"milestoneId": encode_id("Milestone", 1), "reason": "late"},
    ),
    "withdrawDispute": ("WithdrawDisputeInput", {"disputeId": encode_id("Dispute", 1)}),
    "resolveDispute": (
        "ResolveDisputeInput",
        {
            "disputeId": encode_id("Dispute", 1),
            "freelancerAmount": "1.00",
            "clientAmount": "0.00",
        },
    ),
    "completeMilestone": ("CompleteMilestoneInput", {"milestoneId": encode_id("Milestone", 1)}),
}


def operation(name: str) -> str:
    input_type, _ = MUTATIONS[name]
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ userErrors {{ code }} }} }}"
    )


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_a_read_token_is_forbidden(api: Api, runtime: Runtime, name: str) -> None:
    carol = await make_person(runtime, "Carol")
    issued = await accounts.create_api_token(
        runtime,
        accounts.Principal(carol.actor.user_id, False, frozenset(Scope)),
        accounts.CreateApiToken(name="read", scopes=(Scope.READ,)),
    )
    result = await api.raw(operation(name), {"input": MUTATIONS[name][1]}, issued.secret)
    assert result.codes == ["FORBIDDEN"]


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_no_token_is_unauthenticated(api: Api, name: str) -> None:
    result = await api.raw(operation(name), {"input": MUTATIONS[name][1]})
    assert result.codes == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_an_unknown_object_is_not_found(api: Api, runtime: Runtime, name: str) -> None:
    carol = await make_person(runtime, "Carol")
    result = await api.raw(operation(name), {"input": MUTATIONS[name][1]}, carol.token)
    assert not result.errors
    assert result.data is not None
    codes = [e["code"] for e in result.data[name]["userErrors"]]
    assert codes == ["NOT_FOUND"]
