"""Who may call each mutation: the parties, an outsider, an admin, a read-only token, nobody.

An outsider is answered as if the contract did not exist (`NOT_FOUND`, the same answer as an
unknown id); an admin reads every contract but is no party (`NOT_PERMITTED`); the wrong party
is `NOT_PERMITTED`; a read-only token is `FORBIDDEN` and no token `UNAUTHENTICATED`, both as
top-level errors. A refusal changes nothing and returns no object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app.graphql.ids import encode_id
from tests.api.client import Api
from tests.api.operations import (
    ACCEPT_CONTRACT,
    CREATE_CONTRACT,
    DECLINE_CONTRACT,
    END_CONTRACT,
    FUND_MILESTONE,
    PAY_BONUS,
    RELEASE_MILESTONE,
    REQUEST_REVISION,
    SUBMIT_MILESTONE,
    Payload,
    create_api_token,
    milestone_input,
)
from tests.api.people import Member, Parties
from tests.api.scenarios import active, funded, milestone_ids, offered, reread, submitted

State = Callable[[Api, Parties], Awaitable[Payload]]
UNKNOWN_CONTRACT = encode_id("Contract", 987_654_321)
UNKNOWN_MILESTONE = encode_id("Milestone", 987_654_321)


@dataclass(frozen=True)
class Case:
    query: str
    state: State
    parties: tuple[str, ...]
    """The roles that may call it; the first one's read-only token is tried too."""
    target: str
    """The payload field holding the object touched."""
    status: str
    """The target's status after a successful call."""
    by_milestone: bool = False
    extra: tuple[tuple[str, Any], ...] = ()

    keyed: bool = False
    """Whether it moves money and so takes an idempotency key."""

    def input(self, contract: Payload, *, unknown: bool = False, key: bool = False) -> Payload:
        if self.by_milestone:
            reference = {
                "milestoneId": UNKNOWN_MILESTONE if unknown else milestone_ids(contract)[0]
            }
        else:
            reference = {"contractId": UNKNOWN_CONTRACT if unknown else contract["id"]}
        return {**reference, **dict(self.extra), **({"idempotencyKey": "k-1"} if key else {})}

    @property
    def field(self) -> list[str]:
        return ["milestoneId"] if self.by_milestone else ["contractId"]


async def _offered(api: Api, parties: Parties) -> Payload:
    return await offered(api, parties)


async def _active(api: Api, parties: Parties) -> Payload:
    return await active(api, parties)


async def _funded(api: Api, parties: Parties) -> Payload:
    return await funded(api, parties)


async def _submitted(api: Api, parties: Parties) -> Payload:
    return await submitted(api, parties)


CASES: dict[str, Case] = {
    "acceptContract": Case(ACCEPT_CONTRACT, _offered, ("freelancer",), "contract", "ACTIVE"),
    "declineContract": Case(DECLINE_CONTRACT, _offered, ("freelancer",), "contract", "DECLINED"),
    "endContract": Case(END_CONTRACT, _active, ("client", "freelancer"), "contract", "ENDED"),
    "fundMilestone": Case(
        FUND_MILESTONE, _active, ("client",), "milestone", "FUNDED", by_milestone=True, keyed=True
    ),
    "submitMilestone": Case(
        SUBMIT_MILESTONE, _funded, ("freelancer",), "milestone", "SUBMITTED", by_milestone=True
    ),
    "requestRevision": Case(
        REQUEST_REVISION,
        _submitted,
        ("client",),
        "milestone",
        "REVISION_REQUESTED",
        by_milestone=True,
    ),
    "releaseMilestone": Case(
        RELEASE_MILESTONE,
        _submitted,
        ("client",),
        "milestone",
        "RELEASED",
        by_milestone=True,
        keyed=True,
    ),
    "payBonus": Case(
        PAY_BONUS,
        _active,
        ("client",),
        "contract",
        "ACTIVE",
        extra=(("amount", "10.00"),),
        keyed=True,
    ),
}

ROLES = ("client", "freelancer", "outsider", "admin", "read token", "no token")


def _expected(case: Case, role: str) -> str:
    if role in case.parties:
        return "ok"
    return {
        "client": "NOT_PERMITTED",
        "freelancer": "NOT_PERMITTED",
        "outsider": "NOT_FOUND",
        "admin": "NOT_PERMITTED",
        "read token": "FORBIDDEN",
        "no token": "UNAUTHENTICATED",
    }[role]


MATRIX = [
    pytest.param(
        name,
        role,
        keyed,
        _expected(case, role),
        id=f"{name}{' with a key' if keyed else ''}-{role}-{_expected(case, role)}",
    )
    for name, case in CASES.items()
    for keyed in ((False, True) if case.keyed else (False,))
    for role in ROLES
]


async def _token(api: Api, parties: Parties, role: str, case: Case) -> str | None:
    if role == "no token":
        return None
    if role == "read token":
        member: Member = getattr(parties, case.parties[0])
        issued = await create_api_token(api, member.token, "read only", ["READ"])
        token: str = issued["token"]
        return token
    return str(getattr(parties, role).token)


@pytest.mark.parametrize(("mutation", "role", "keyed", "expected"), MATRIX)
async def test_who_may_call_each_mutation(
    api: Api, parties: Parties, mutation: str, role: str, keyed: bool, expected: str
) -> None:
    # given
    case = CASES[mutation]
    contract = await case.state(api, parties)
    before = await reread(api, parties, contract)
    token = await _token(api, parties, role, case)

    # when
    result = await api.raw(case.query, {"input": case.input(contract, key=keyed)}, token)

    # then
    if expected in ("FORBIDDEN", "UNAUTHENTICATED"):
        assert result.codes == [expected]
        assert result.data is None
    else:
        assert result.errors == []
        assert result.data is not None
        payload = result.data[mutation]
        if expected == "ok":
            assert payload["userErrors"] == []
            assert payload[case.target]["status"] == case.status
            return
        assert [e["code"] for e in payload["userErrors"]] == [expected]
        assert payload[case.target] is None
        if expected == "NOT_FOUND":
            unknown = await api.raw(
                case.query, {"input": case.input(contract, unknown=True, key=keyed)}, token
            )
            assert unknown.data is not None
            assert payload["userErrors"] == unknown.data[mutation]["userErrors"]
            assert payload["userErrors"][0]["field"] == case.field
    assert await reread(api, parties, contract) == before


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("client", "ok"),
        ("outsider", "ok"),
        ("read token", "FORBIDDEN"),
        ("no token", "UNAUTHENTICATED"),
    ],
)
async def test_who_may_offer_a_contract(
    api: Api, parties: Parties, role: str, expected: str
) -> None:
    token = await _token(api, parties, role, CASES["payBonus"])
    variables = {
        "input": {
            "freelancerId": parties.freelancer.id,
            "title": "Logo",
            "milestones": [milestone_input("50.00")],
        }
    }

    result = await api.raw(CREATE_CONTRACT, variables, token)

    if expected == "ok":
        assert result.errors == []
        assert result.data is not None
        payload = result.data["createContract"]
        assert payload["userErrors"] == []
        assert payload["contract"]["status"] == "OFFERED"
        assert payload["contract"]["freelancer"]["id"] == parties.freelancer.id
    else:
        assert result.codes == [expected]
        assert result.data is None
