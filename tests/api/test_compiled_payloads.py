"""A mutation's payload written by the compiled read path is what the standard executor builds
(issue 9, point 5): the same bytes, errors, userErrors and null payloads included.

A mutation changes what it runs on, so each step of a contract's life runs twice, on twin
contracts made alike by the same steps: on one through the schema with the compiled path, on
the other through the one without it, as each caller. The two responses must be the same bytes
once the twin's global ids are named as the first's (paired where the two responses hold them,
one to one). The shapes the planner covers must really be written by their plans, in a fixed
number of SQL statements.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson
import pytest
from strawberry.http import process_result

from app.graphql.compiled import payloads
from app.graphql.context import Context
from app.graphql.ids import decode_any
from app.graphql.limits import Limits
from app.graphql.schema import Schema, build_schema
from app.graphql.view import encode
from app.services.runtime import Runtime
from tests.api.operations import (
    CONTRACT_FIELDS,
    END_CONTRACT,
    FUND_MILESTONE,
    PAY_BONUS,
    RELEASE_MILESTONE,
    SUBMIT_MILESTONE,
)
from tests.api.people import Parties
from tests.api.test_requests_api import (
    OPEN_DISPUTE,
    PROPOSE_CHANGES,
    REQUEST_REFUND,
    RESPOND_TO_REFUND,
)
from tests.services.test_query_counts import counting_checkouts, counting_statements

RICH_CONTRACT = """
  __typename id status title currency createdAt acceptedAt endedAt
  client { id name email isAdmin }
  freelancer { ... on User { __typename email } }
  activeMilestone { id status fundedAmount { amount } }
  escrow { held { amount currency } available { amount } totalFunded { __typename amount } }
  milestones { id position title amount { amount currency } contract { id title } }
  events(first: 3) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { sequence type amount { amount } actor { name } milestone { title } } }
  }
"""

ERRORS = "userErrors { __typename field code message } codes: userErrors { code }"


def _contract_mutation(name: str, input_type: str) -> str:
    return (
        f"mutation Step($input: {input_type}!, $rich: Boolean = true) {{"
        f" kind: __typename {name}(input: $input) {{ __typename"
        f" contract {{ id status }} c: contract @include(if: $rich) {{ {RICH_CONTRACT} }}"
        f" ...Errors }} }}"
        " fragment Errors on " + name[0].upper() + name[1:] + f"Payload {{ {ERRORS} }}"
    )


def _milestone_mutation(name: str, input_type: str) -> str:
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) {{"
        " milestone { __typename id status amount { amount currency } fundedAmount { amount }"
        "   releasedAmount { amount } fundedAt contract { id status escrow { held { amount } } } }"
        f" contract {{ ...ContractFields }} {ERRORS} }} }}" + CONTRACT_FIELDS
    )


# planned, but not what the run serves (a last page): the payload shape builds it
LAST_PAGE = (
    "mutation($input: PayBonusInput!) { payBonus(input: $input) {"
    " contract { id events(last: 2) { totalCount edges { node { sequence } } } }"
    " userErrors { code } } }"
)

ACCOUNT_REFUSED = (
    "mutation($input: RegisterInput!) { register(input: $input) { __typename " + ERRORS + " } }"
)
ACCOUNT_MADE = (
    "mutation($input: RegisterInput!) { register(input: $input) { token user { id } "
    + ERRORS
    + " } }"
)

BENCH = {  # the money cycle of scripts/bench.py
    "createContract": "contract { id milestones { id } }",
    "fundMilestone": "milestone { id status }",
    "acceptContract": "contract { id status }",
    "submitMilestone": "milestone { id status }",
    "releaseMilestone": "milestone { id status }",
}


def _bench(name: str) -> str:
    input_type = name[0].upper() + name[1:] + "Input"
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {BENCH[name]} }} }}"


TWO_STEPS = (
    "mutation($fund: FundMilestoneInput!, $submit: SubmitMilestoneInput!) {"
    " f: fundMilestone(input: $fund) {"
    "   milestone { id status } contract { escrow { held { amount } } } }"
    " s: submitMilestone(input: $submit) { milestone { id status } userErrors { code } } }"
)


@cache
def _schema(compiled: bool) -> Schema:
    return build_schema(Limits(), compiled=compiled)


@dataclass
class Twins:
    """The ids of the first twin's objects by the second's, as the responses pair them."""

    first: dict[str, str] = field(default_factory=dict)  # name -> first twin's global id
    second: dict[str, str] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)  # second's id -> first's

    def pair(self, compiled: Any, standard: Any) -> None:
        if isinstance(compiled, dict) and isinstance(standard, dict):
            assert list(compiled) == list(standard), (compiled, standard)
            for key in compiled:
                self.pair(compiled[key], standard[key])
        elif isinstance(compiled, list) and isinstance(standard, list):
            assert len(compiled) == len(standard), (compiled, standard)
            for a, b in zip(compiled, standard, strict=True):
                self.pair(a, b)
        elif isinstance(compiled, str) and isinstance(standard, str) and compiled != standard:
            a, b = decode_any(compiled), decode_any(standard)
            if a is not None and b is not None and a[0] == b[0]:
                assert self.renamed.setdefault(standard, compiled) == compiled

    def as_first(self, body: bytes) -> bytes:
        for second, first in self.renamed.items():
            body = body.replace(orjson.dumps(second), orjson.dumps(first))
        return body


async def _execute(
    runtime: Runtime, compiled: bool, token: str | None, query: str, variables: dict[str, Any]
) -> bytes:
    context = Context(runtime=runtime, token=token)
    result = await _schema(compiled).execute(query, variables, context_value=context)
    return encode(process_result(result))


def _named(value: Any, ids: dict[str, str]) -> Any:
    """`value` with each string that names an object of `ids` replaced by its global id."""
    if isinstance(value, dict):
        return {k: _named(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_named(v, ids) for v in value]
    return ids.get(value, value) if isinstance(value, str) else value


@dataclass
class Steps:
    runtime: Runtime
    parties: Parties
    twins: Twins = field(default_factory=Twins)

    def token(self, role: str) -> str | None:
        if role == "anonymous":
            return None
        if role == "bad":
            return "mse_not-a-token"
        member = getattr(self.parties, role)
        token: str = member.token
        return token

    async def step(self, role: str, query: str, **inputs: Any) -> Any:
        """Run `query` on each twin, the input's `{name}` values naming each twin's objects;
        returns the first twin's response."""
        bodies = []
        for compiled, ids in ((True, self.twins.first), (False, self.twins.second)):
            variables = _named(inputs, ids)
            bodies.append(
                await _execute(self.runtime, compiled, self.token(role), query, variables)
            )
        first, second = (orjson.loads(b) for b in bodies)
        self.twins.pair(first, second)
        assert bodies[0] == self.twins.as_first(bodies[1]), (role, query, inputs)
        return first

    async def everyone(self, role: str, query: str, **inputs: Any) -> Any:
        """As `step`, first as every caller that is refused, then as `role`."""
        others = [r for r in ("outsider", "admin", "anonymous", "bad", "client", "freelancer")]
        for other in others:
            if other != role:
                await self.step(other, query, **inputs)
        return await self.step(role, query, **inputs)

    def learn(self, name: str, response: Any, *path: str | int) -> None:
        value = response
        for key in path:
            value = value[key]
        self.twins.first[name] = value
        self.twins.second[name] = next(s for s, f in self.twins.renamed.items() if f == value)


@dataclass(frozen=True)
class Write:
    """A payload written by its plan, and the statements its reads took."""

    type_name: str
    statements: int


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Write]]:
    """The payloads written by their plans."""
    writes: list[Write] = []
    write = payloads.PayloadPlan.write

    async def spy(self: payloads.PayloadPlan, *args: Any) -> Any:
        with counting_statements() as statements:
            result = await write(self, *args)
        writes.append(Write(self.type_name, len(statements)))
        return result

    monkeypatch.setattr(payloads.PayloadPlan, "write", spy)
    yield writes


def _create(freelancer: str, currency: str = "USD") -> dict[str, Any]:
    milestones: list[dict[str, Any]] = [
        {"title": "Design", "amount": "100.00"},
        {"title": "Build", "amount": "250.50"},
    ]
    milestones.append({"title": "Hours", "unitPrice": "40.00", "maxUnits": 3})
    return {
        "freelancerId": freelancer,
        "title": "Twin",
        "currency": currency,
        "milestones": milestones,
    }


async def test_every_payload_is_the_same_bytes_as_the_standard_executor_builds(
    runtime: Runtime, parties: Parties, written: list[Write]
) -> None:
    steps = Steps(runtime, parties)
    create = _contract_mutation("createContract", "CreateContractInput")
    made = await steps.step("client", create, input=_create(parties.freelancer.id, "EUR"))
    steps.learn("contract", made, "data", "createContract", "contract", "id")
    for position in range(3):
        steps.learn(
            f"m{position}", made, "data", "createContract", "c", "milestones", position, "id"
        )
    await steps.everyone("client", create, input=_create(parties.outsider.id) | {"title": ""})
    # the offer: refused steps, then accepted
    fund = _milestone_mutation("fundMilestone", "FundMilestoneInput")
    await steps.everyone("client", fund, input={"milestoneId": "m0"})
    accept = _contract_mutation("acceptContract", "AcceptContractInput")
    await steps.everyone("freelancer", accept, input={"contractId": "contract"})
    await steps.step("freelancer", accept, input={"contractId": "contract"}, rich=False)
    # the money cycle
    await steps.everyone("client", fund, input={"milestoneId": "m0"})
    await steps.step("client", FUND_MILESTONE, input={"milestoneId": "m0"})
    await steps.everyone("freelancer", SUBMIT_MILESTONE, input={"milestoneId": "m0"})
    submit = _milestone_mutation("submitMilestone", "SubmitMilestoneInput")
    await steps.step("freelancer", submit, input={"milestoneId": "m0"})
    release = _milestone_mutation("releaseMilestone", "ReleaseMilestoneInput")
    await steps.everyone("client", release, input={"milestoneId": "m0"})
    await steps.step("client", RELEASE_MILESTONE, input={"milestoneId": "m0"})
    await steps.step(
        "client",
        TWO_STEPS,
        fund={"milestoneId": "m1"},
        submit={"milestoneId": "m1", "message": "done"},
    )
    bonus = _contract_mutation("payBonus", "PayBonusInput")
    steps.twins.first["key"], steps.twins.second["key"] = "bonus-1", "bonus-2"  # a user's keys
    keyed = {"contractId": "contract", "amount": "5.00", "idempotencyKey": "key"}
    for _ in range(2):  # the second replays the first
        await steps.everyone("client", bonus, input=keyed)
    await steps.step("client", bonus, input=keyed | {"amount": "6.00"})  # the key reused
    await steps.step("client", PAY_BONUS, input={"contractId": "contract", "amount": "-1"})
    await steps.step("client", LAST_PAGE, input={"contractId": "contract", "amount": "1.00"})
    # requests, whose payloads the planner does not cover
    refund = await steps.step("client", REQUEST_REFUND, input={"milestoneId": "m1"})
    steps.learn("refund", refund, "data", "requestRefund", "refundRequest", "id")
    answer = {"refundRequestId": "refund", "approve": False}
    await steps.everyone("freelancer", RESPOND_TO_REFUND, input=answer)
    await steps.step("client", OPEN_DISPUTE, input={"milestoneId": "m1", "reason": "late"})
    change = {"action": "UPDATE", "milestoneId": "m2", "title": "Later"}
    await steps.step(
        "client", PROPOSE_CHANGES, input={"contractId": "contract", "changes": [change]}
    )
    # the account rows: refusals written by plans, what they made by their shapes
    register = {"name": "Twin", "email": "not-an-address", "password": "short"}
    for query in (ACCOUNT_REFUSED, ACCOUNT_MADE):
        await steps.step("anonymous", query, input=register)
    end = _contract_mutation("endContract", "EndContractInput")
    await steps.everyone("client", end, input={"contractId": "contract"})
    await steps.step("client", END_CONTRACT, input={"contractId": "contract"})
    # then: the shapes it covers were written by their plans
    types = {w.type_name for w in written}
    assert {"CreateContractPayload", "FundMilestonePayload", "PayBonusPayload"} <= types
    assert {"ReleaseMilestonePayload", "EndContractPayload", "RegisterPayload"} <= types
    assert not {"RequestRefundPayload", "OpenDisputePayload"} & types


# the payload reads of the benchmark's cycle: the contract, and its milestones; a milestone and
# its contract (for visibility and currency)
PAYLOAD_READS = {
    "CreateContractPayload": 2,
    "AcceptContractPayload": 1,
    "FundMilestonePayload": 2,
    "SubmitMilestonePayload": 2,
    "ReleaseMilestonePayload": 2,
}


async def test_the_money_cycle_of_the_benchmark_is_written_by_plans_in_fixed_statements(
    runtime: Runtime, parties: Parties, written: list[Write], db_url: str
) -> None:
    # given
    steps = Steps(runtime, parties)
    create = _create(parties.freelancer.id)
    made = await steps.step("client", _bench("createContract"), input=create)
    steps.learn("contract", made, "data", "createContract", "contract", "id")
    steps.learn("m0", made, "data", "createContract", "contract", "milestones", 0, "id")
    cycle = [
        ("acceptContract", "freelancer", {"contractId": "contract"}),
        ("fundMilestone", "client", {"milestoneId": "m0"}),
        ("submitMilestone", "freelancer", {"milestoneId": "m0"}),
        ("releaseMilestone", "client", {"milestoneId": "m0"}),
    ]
    costs: dict[str, list[tuple[int, int]]] = {}
    # when each step runs on each twin, its statements and connections counted
    for name, role, inputs in cycle:
        for compiled, ids in ((True, steps.twins.first), (False, steps.twins.second)):
            variables = _named({"input": inputs}, ids)
            token = steps.token(role)
            with counting_statements() as statements, counting_checkouts() as checkouts:
                await _execute(runtime, compiled, token, _bench(name), variables)
            # the caller's token is looked up again once its cache entry (real time) expires,
            # on either path, in statements of their own
            token_reads = sum('"api_tokens"' in s for s in statements)
            cost = (len(statements) - token_reads, len(checkouts) - token_reads)
            costs.setdefault(name, []).append(cost)
    # then
    print(f"(statements, checkouts) per mutation, compiled and standard: {costs}")
    postgres = db_url.startswith("postgres")
    assert {w.type_name: w.statements for w in written} == PAYLOAD_READS
    for name, (by_plan, by_shape) in costs.items():
        assert by_plan[0] == by_shape[0], (name, costs)  # the same reads, written directly
        if postgres:  # one connection for the mutation, not one more per payload read
            reads = PAYLOAD_READS[name[0].upper() + name[1:] + "Payload"]
            assert (by_plan[1], by_shape[1]) == (1, 1 + reads), (name, costs)
        else:  # SQLite's one connection, taken for each statement outside the transaction
            assert by_plan[1] == by_shape[1], (name, costs)
