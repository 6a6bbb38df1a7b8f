"""The compiled read path answers exactly as the standard executor does (issue 9, point 4).

Each operation runs as each role through a schema with the compiled path and through one
without it, and the two results, written as JSON, must be the same bytes, errors included. The
shapes the planner covers must also really be answered by their plans, in a number of SQL
statements that does not grow with the rows shown and is not above the standard path's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from graphql import GraphQLObjectType

from app.bench_data import DASHBOARD, DETAIL
from app.graphql.compiled import run
from app.graphql.compiled.relation import RELATION, Relation
from app.graphql.compiled.write import Prepared
from app.graphql.context import Context
from app.graphql.ids import encode_id
from app.graphql.limits import Limits
from app.graphql.schema import Schema, build_schema
from app.services.runtime import Runtime
from tests.api.client import Api
from tests.api.operations import (
    CONTRACT,
    CONTRACT_FIELDS,
    CONTRACTS,
    MILESTONE,
    NODE,
    Payload,
    release_milestone,
)
from tests.api.people import Parties
from tests.api.scenarios import funded, milestone_ids, offered, submitted
from tests.services.test_query_counts import counting_statements

USER = "fragment User on User { __typename id name email isAdmin }"

Q1 = (
    """
query Dashboard($first: Int, $after: String, $withEscrow: Boolean = true) {
  contracts(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        __typename id title status currency createdAt
        client { ...User }
        freelancer { ...User }
        milestones {
          id title status position dueDate maxUnits unitsReleased
          amount { amount currency }
          fundedAmount { amount }
          unitPrice { amount }
          releasedAmount { currency amount }
        }
        escrow @include(if: $withEscrow) { held { amount } available { amount currency } }
      }
    }
  }
}
"""
    + USER
)

Q2 = (
    """
query Detail($id: ID!, $first: Int = 20, $plain: Boolean = false) {
  __typename
  contract(id: $id) {
    ...ContractFields
    ... on Node { nodeId: id }
    client @skip(if: $plain) { ...User }
    escrow {
      money: held { __typename amount currency }
      entries(first: $first) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges {
          cursor
          node {
            id kind createdAt debitAccount creditAccount refundedFee
            amount { amount currency }
          }
        }
      }
    }
  }
}
"""
    + CONTRACT_FIELDS
    + USER
)

ALIASES = """
query($status: ContractStatus, $role: ContractRole) {
  mine: contracts(first: 2, status: $status, role: $role) {
    totalCount
    edges { node { id t: title s: status c: client { n: name } } }
  }
  all: contracts { totalCount edges { node { id } } }
  kind: __typename
}
"""

SHAPES = (
    """
query($after: String, $skipUsers: Boolean!) {
  contracts(first: 3, after: $after) {
    __typename
    pageInfo { __typename endCursor }
    edges {
      __typename
      node {
        c: client { n: name }
        c: client { id ... on User { email } }
        ...Parties @skip(if: $skipUsers)
        ... @include(if: false) { title }
        ... on Contract { milestones { ... on Node { id } ... on Milestone { title } } }
        activeMilestone { __typename id status }
      }
    }
  }
}
fragment Parties on Contract { freelancer { ... on Node { ...User } } }
"""
    + USER
)

README_WALKTHROUGH = (
    """
{ viewer { id name email }
  contracts(first: 10) { totalCount edges { node { id title status
    escrow { held { amount } available { amount } }
    milestones { id position title status amount { amount } } } } } }
""",
    """
query($id: ID!) { contract(id: $id) {
    escrow { held { amount } available { amount } totalFunded { amount } totalReleased { amount }
      totalRefunded { amount }
      entries(first: 50) { edges { node { kind amount { amount } milestone { title } } } } }
    events(first: 50) { edges { node { sequence type amount { amount } actor { name } } } } } }
""",
)

MILESTONE_SHAPE = """
query($id: ID!) {
  milestone(id: $id) {
    __typename id title status amount { amount currency } fundedAmount { amount }
    contract { id title currency client { name email } }
  }
}
"""

UNCOVERED = (
    "query($id: ID!) { contract(id: $id) { events(first: 5) { totalCount } } }",
    "query { viewer { id name } policy { maxMilestonesPerContract } }",
    "query { __schema { queryType { name } } }",
    "query { contracts { edges { node { escrow { entries { totalCount } } } } } }",
)


@cache
def _schema(compiled: bool) -> Schema:
    return build_schema(Limits(), compiled=compiled)


def _json(result: Any) -> str:
    errors = [e.formatted for e in result.errors] if result.errors else None
    return json.dumps({"data": result.data, "errors": errors})


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Whether each request was answered by its plan (True) or fell back (False)."""
    answered: list[bool] = []
    execute = run.Run.execute

    async def spy(self: run.Run, plan: Prepared) -> dict[str, Any]:
        try:
            data = await execute(self, plan)
        except Exception:
            answered.append(False)
            raise
        answered.append(True)
        return data

    monkeypatch.setattr(run.Run, "execute", spy)
    yield answered


async def _both(
    runtime: Runtime, token: str | None, query: str, variables: dict[str, Any]
) -> tuple[str, str]:
    standard = await _schema(False).execute(
        query, variables, context_value=Context(runtime=runtime, token=token)
    )
    compiled = await _schema(True).execute(
        query, variables, context_value=Context(runtime=runtime, token=token)
    )
    return _json(compiled), _json(standard)


async def _contracts(api: Api, parties: Parties) -> list[Payload]:
    """An offer in EUR, a funded contract, one under review, and one with a release."""
    released = await submitted(api, parties, "80.00", "20.00")
    await release_milestone(api, parties.client.token, milestone_ids(released)[0])
    return [
        await offered(api, parties, "10.00", currency="EUR"),
        await funded(api, parties, "30.00"),
        await submitted(api, parties),
        released,
    ]


def _tokens(parties: Parties) -> list[str | None]:
    people = (parties.client, parties.freelancer, parties.admin, parties.outsider)
    return [*(p.token for p in people), None, "not-a-token"]


async def test_every_read_answers_the_same_bytes_as_the_standard_executor(
    api: Api, parties: Parties, runtime: Runtime
) -> None:
    # given
    contracts = await _contracts(api, parties)
    ids = [c["id"] for c in contracts]
    page = await api.ok(CONTRACTS, {"first": 2}, parties.client.token)
    cursor = page["contracts"]["pageInfo"]["endCursor"]
    cases: list[tuple[str, dict[str, Any]]] = [
        (Q1, {}),
        (Q1, {"first": 2}),
        (Q1, {"first": 1, "withEscrow": False}),
        (Q1, {"first": 0}),
        (Q1, {"after": "bad cursor"}),
        (Q1, {"first": 2, "after": None}),
        (Q1, {"first": 2, "after": cursor}),
        (SHAPES, {"after": cursor, "skipUsers": False}),
        (SHAPES, {"skipUsers": True}),
        (ALIASES, {}),
        (ALIASES, {"status": "ACTIVE", "role": "CLIENT"}),
        (ALIASES, {"role": "FREELANCER"}),
        (CONTRACTS, {"first": 3}),
        (DASHBOARD, {}),
        *((DETAIL, {"id": i}) for i in ids),
        *((Q2, {"id": i}) for i in ids),
        (Q2, {"id": ids[3], "first": 1, "plain": True}),
        (Q2, {"id": ids[3], "first": 500}),
        (Q2, {"id": encode_id("Contract", 987_654_321)}),
        (Q2, {"id": "not-an-id"}),
        (Q2, {"id": ids[0].lower()}),
        *((CONTRACT, {"id": i}) for i in ids),
        (MILESTONE, {"id": milestone_ids(contracts[3])[0]}),
        *((MILESTONE_SHAPE, {"id": m}) for c in contracts for m in milestone_ids(c)),
        (MILESTONE_SHAPE, {"id": ids[0]}),
        (MILESTONE_SHAPE, {"id": encode_id("Milestone", 987_654_321)}),
        (NODE, {"id": ids[1]}),
        *((query, {"id": ids[1]}) for query in (*README_WALKTHROUGH, *UNCOVERED)),
    ]
    # when / then
    for token in _tokens(parties):
        for query, variables in cases:
            compiled, standard = await _both(runtime, token, query, variables)
            assert compiled == standard, (token, query, variables)


async def test_the_covered_shapes_are_answered_by_their_plans(
    api: Api, parties: Parties, runtime: Runtime, planned: list[bool]
) -> None:
    # given
    contracts = await _contracts(api, parties)
    token = parties.client.token
    covered: list[tuple[str, dict[str, Any]]] = [(Q1, {}), (ALIASES, {"role": "CLIENT"})]
    covered.append((README_WALKTHROUGH[0], {}))
    covered.append((SHAPES, {"skipUsers": False}))
    covered += [(DASHBOARD, {}), (DETAIL, {"id": contracts[3]["id"]})]
    covered.append((MILESTONE_SHAPE, {"id": milestone_ids(contracts[0])[0]}))
    covered.append((CONTRACTS, {"first": 2}))
    covered += [(Q2, {"id": c["id"]}) for c in contracts]
    # when
    for query, variables in covered:
        await _both(runtime, token, query, variables)
    # then
    assert planned == [True] * len(covered)


async def _statements(runtime: Runtime, token: str, query: str, variables: dict[str, Any]) -> int:
    result = await _schema(True).execute(
        query, variables, context_value=Context(runtime=runtime, token=token)
    )
    assert not result.errors, result.errors
    with counting_statements() as compiled:
        await _schema(True).execute(
            query, variables, context_value=Context(runtime=runtime, token=token)
        )
    with counting_statements() as standard:
        await _schema(False).execute(
            query, variables, context_value=Context(runtime=runtime, token=token)
        )
    compiled, standard = _reads(compiled), _reads(standard)
    assert len(compiled) < len(standard), (compiled, standard)
    return len(compiled)


def _reads(statements: list[str]) -> list[str]:
    """The statements of the request's reads: the caller's token is looked up again only once
    its `PRINCIPAL_TTL` (real time) has passed, on either path, whichever runs then."""
    return [s for s in statements if '"api_tokens"' not in s]


async def test_the_statements_of_a_plan_do_not_grow_with_the_rows_shown(
    api: Api, parties: Parties, runtime: Runtime, planned: list[bool]
) -> None:
    # given
    contracts = [*await _contracts(api, parties), *await _contracts(api, parties)]
    token = parties.client.token
    small, big = contracts[0]["id"], contracts[3]["id"]
    # when
    dashboard = {n: await _statements(runtime, token, Q1, {"first": n}) for n in (1, 8)}
    detail = {i: await _statements(runtime, token, Q2, {"id": i}) for i in (small, big)}
    bench = [await _statements(runtime, token, DASHBOARD, {})]
    bench += [await _statements(runtime, token, DETAIL, {"id": i}) for i in (small, big)]
    # then
    print(f"compiled: dashboard {dashboard}, detail {list(detail.values())}, bench {bench}")
    assert len(set(dashboard.values())) == 1, dashboard
    assert len(set(detail.values())) == 1, detail
    assert bench[1] == bench[2], bench
    assert all(planned)


async def test_a_plan_past_the_object_limit_answers_as_the_standard_executor_stops(
    api: Api, parties: Parties, runtime: Runtime, planned: list[bool]
) -> None:
    # given: a limit of 5 objects, and a dashboard of 4 contracts with 2 milestones or more
    await _contracts(api, parties)
    limits = Limits(max_objects=5)
    token = parties.client.token
    results = []
    # when
    for compiled in (True, False):
        schema = build_schema(limits, compiled=compiled)
        context = Context(runtime=runtime, token=token)
        results.append(_json(await schema.execute(Q1, {}, context_value=context)))
    # then
    assert results[0] == results[1]
    assert "more than 5 objects" in results[0], results[0]
    assert planned == [False]


NARROW = """
query { contracts(first: 2) { edges { node { title client { name }
  milestones { title amount { amount } } } } } }
"""


async def test_a_plan_reads_only_the_columns_its_fields_need(
    api: Api, parties: Parties, runtime: Runtime, planned: list[bool]
) -> None:
    # given
    await _contracts(api, parties)
    context = Context(runtime=runtime, token=parties.client.token)
    await _schema(True).execute(NARROW, {}, context_value=context)
    # when
    with counting_statements() as statements:
        result = await _schema(True).execute(NARROW, {}, context_value=context)
    # then
    assert not result.errors, result.errors
    read = [
        s for s in statements if any(t in s for t in ('"contracts"', '"milestones"', '"users"'))
    ]
    assert read, statements
    for unused in ('"description"', '"auto_release_at"', '"email"', '"funded_amount"'):
        assert not any(unused in s for s in read), (unused, read)
    assert all(planned)


EVENTS = (
    """
query($id: ID!, $first: Int, $after: String) {
  contract(id: $id) {
    currency
    events(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        cursor
        node {
          __typename id sequence type occurredAt message amount { amount currency }
          actor { ...User }
          milestone { id title amount { amount currency } contract { id title } }
          contract { id }
        }
      }
    }
    escrow { entries { edges { node { kind milestone { __typename id title status } } } } }
  }
}
"""
    + USER
)


async def test_events_and_the_milestones_of_entries_answer_as_the_standard_executor(
    api: Api, parties: Parties, runtime: Runtime, planned: list[bool]
) -> None:
    # given
    contracts = await _contracts(api, parties)
    ids = [c["id"] for c in contracts]
    page = await api.ok(EVENTS, {"id": ids[3], "first": 2}, parties.client.token)
    cursor = page["contract"]["events"]["pageInfo"]["endCursor"]
    cases: list[tuple[str, dict[str, Any]]] = [
        *((EVENTS, {"id": i}) for i in ids),
        (EVENTS, {"id": ids[3], "first": 2}),
        (EVENTS, {"id": ids[3], "first": 2, "after": cursor}),
        (EVENTS, {"id": ids[3], "after": "bad cursor"}),
        (EVENTS, {"id": ids[3], "first": 500}),
        (README_WALKTHROUGH[1], {"id": ids[3]}),
    ]
    # when / then
    for token in _tokens(parties):
        for query, variables in cases:
            compiled, standard = await _both(runtime, token, query, variables)
            assert compiled == standard, (token, query, variables)
    planned.clear()
    for query, variables in [c for c in cases if "after" not in c[1] and "first" not in c[1]]:
        await _both(runtime, parties.client.token, query, variables)
    assert planned == [True] * 5


NODE_SHAPE = (
    """
query($id: ID!) {
  kind: __typename
  node(id: $id) {
    __typename
    ... on Node { nodeId: id }
    ... on Contract { title client { ...User } milestones { title amount { amount currency } } }
    ... on Milestone { title fundedAmount { amount currency } contract { id currency } }
    ...Person
  }
  again: node(id: $id) { id }
}
fragment Person on User { name email }
"""
    + USER
)


async def test_node_answers_as_the_standard_executor_for_every_type_and_role(
    api: Api, parties: Parties, runtime: Runtime, planned: list[bool]
) -> None:
    # given
    contracts = await _contracts(api, parties)
    users = [
        (await api.ok("{ viewer { id } }", {}, p.token))["viewer"]["id"]
        for p in (parties.client, parties.freelancer, parties.admin)
    ]
    planned_ids = [
        *(c["id"] for c in contracts),
        *(m for c in contracts for m in milestone_ids(c)),
        *users,
        encode_id("User", 987_654_321),
        encode_id("Milestone", 987_654_321),
        encode_id("Contract", 987_654_321),
        "not-an-id",
        encode_id("NoSuchType", 1),
    ]
    cases = [(q, {"id": i}) for q in (NODE, NODE_SHAPE) for i in planned_ids]
    cases += [(NODE, {"id": encode_id(t, 1)}) for t in ("LedgerEntry", "ContractEvent")]
    # when / then
    for token in _tokens(parties):
        for query, variables in cases:
            compiled, standard = await _both(runtime, token, query, variables)
            assert compiled == standard, (token, query, variables)
    planned.clear()
    for i in planned_ids[:-1]:
        await _both(runtime, parties.client.token, NODE_SHAPE, {"id": i})
    await _both(runtime, parties.client.token, NODE, {"id": contracts[0]["id"]})
    assert planned == [True] * len(planned_ids)


async def test_the_statements_of_events_and_nodes_do_not_grow_with_the_rows_shown(
    api: Api, parties: Parties, runtime: Runtime, planned: list[bool]
) -> None:
    # given: a funded contract (few events and entries) and one with a release (more)
    contracts = await _contracts(api, parties)
    token = parties.client.token
    small, big = contracts[1]["id"], contracts[3]["id"]
    # when
    events = [await _statements(runtime, token, EVENTS, {"id": i}) for i in (small, big)]
    nodes = [await _counts(runtime, token, NODE_SHAPE, {"id": i}) for i in (small, big)]
    # then
    print(f"compiled: events {events}, node (compiled, standard) {nodes}")
    assert events[0] == events[1], events
    assert nodes[0] == nodes[1], nodes
    assert all(compiled <= standard for compiled, standard in nodes), nodes
    assert all(planned)


async def _counts(
    runtime: Runtime, token: str, query: str, variables: dict[str, Any]
) -> tuple[int, int]:
    """The statements of the request through its plan and through the standard executor."""
    counts = []
    for compiled in (True, True, False):
        with counting_statements() as statements:
            result = await _schema(compiled).execute(
                query, variables, context_value=Context(runtime=runtime, token=token)
            )
        assert not result.errors, result.errors
        counts.append(len(_reads(statements)))
    return counts[1], counts[2]


def test_every_relation_a_field_declares_has_a_loader() -> None:
    # given
    schema = _schema(True)._schema
    declared = [
        (name, field.extensions["strawberry-definition"].metadata.get(RELATION))
        for name, kind in schema.type_map.items()
        if isinstance(kind, GraphQLObjectType) and not name.startswith("__")
        for field in kind.fields.values()
        if "strawberry-definition" in (field.extensions or {})
    ]
    relations = [r for _, r in declared if isinstance(r, Relation)]
    # then
    assert len(relations) == 12, relations
    assert all(r.paged or r.loader in run.Run.LOADERS for r in relations), relations
    assert {r.loader for r in relations if r.paged} == {"entries", "events"}
